/**
 * KeyedLock runs tasks for one key one after another, and tasks for
 * different keys side by side. The session layer holds it only around the
 * short read-modify-write of one session, never around a whole request, so
 * parallel requests lose no update and a slow request blocks nobody (unlike
 * PHP's files handler, which locks the session for the whole request).
 *
 * It is in-process; FileLock (lib/file-lock.ts) queues a process's tasks in
 * one of these, then serialises processes with a lock file.
 */
export class KeyedLock {
  #tails = new Map<string, Promise<unknown>>();

  /** run waits for earlier tasks on `key`, then runs `task`; its result or error is passed through. */
  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const current = previous.then(task);
    const tail = current.catch(() => undefined);
    this.#tails.set(key, tail);
    try {
      return await current;
    } finally {
      // The last task out removes the key, so the map only holds busy sessions.
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }

  /** size is the number of keys with a task running or waiting (for tests). */
  get size(): number {
    return this.#tails.size;
  }
}
