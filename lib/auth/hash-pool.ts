import type { ScryptOptions } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/** LOWEST_PRIORITY is nice 19: the thread runs only when nothing else on its core wants to. */
export const LOWEST_PRIORITY = 19;
/**
 * IDLE_THREAD_MS: a thread idle this long exits. Each thread holds about
 * 10 MB; starting one again takes about 25 ms, against some 300 ms for one
 * hash at the default cost, so threads live through a burst of sign-ins
 * and are not kept for the quiet hours in between.
 */
export const IDLE_THREAD_MS = 2_000;

/**
 * The whole program of a hashing thread, in plain JavaScript so that it
 * starts without the TypeScript loader, in milliseconds and a few MB.
 *
 * It first lowers its own scheduling priority. On Linux, setpriority() on a
 * thread ID changes that one thread, and /proc/thread-self names it. Then
 * it answers each request with scryptSync, which runs on this thread rather
 * than on libuv's shared pool. Elsewhere the priority stays as it was.
 */
const WORKER_SOURCE = `
const { scryptSync } = require('node:crypto');
const { readlinkSync } = require('node:fs');
const { setPriority } = require('node:os');
const { parentPort, workerData } = require('node:worker_threads');
try {
  setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), workerData.priority);
} catch {}
parentPort.on('message', ({ password, salt, keyLength, options }) => {
  try {
    parentPort.postMessage({ key: scryptSync(password, salt, keyLength, options) });
  } catch (error) {
    parentPort.postMessage({ error: error instanceof Error ? error.message : String(error) });
  }
});
`;

interface Reply {
  key?: Uint8Array;
  error?: string;
}

/**
 * HashPool runs scrypt on threads of its own at the lowest priority, so a
 * burst of sign-ins never slows the event loop: whenever a request is
 * waiting to be answered, the kernel runs the event loop first, even when
 * every thread of the server shares one core. (On libuv's pool the hashes
 * would compete with the event loop as equals, and with file I/O too.)
 *
 * It starts a thread only when every thread it has is busy, and never
 * bounds the number itself: PasswordHasher does, with its queue. Idle
 * threads are kept for the next sign-in and do not keep the process alive.
 */
export class HashPool {
  #idle: IdleThread[] = [];
  #threads = 0;
  #priority: number;
  #idleMs: number;

  constructor(options: { priority?: number; idleMs?: number } = {}) {
    this.#priority = options.priority ?? LOWEST_PRIORITY;
    this.#idleMs = options.idleMs ?? IDLE_THREAD_MS;
  }

  /** threads is how many threads the pool has right now, busy or idle. */
  get threads(): number {
    return this.#threads;
  }

  /** derive is crypto.scrypt on a pool thread; it rejects when scrypt refuses its parameters. */
  derive(password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
    const worker = this.#takeIdle() ?? this.#spawn();
    // Referenced while working, so a pending hash keeps the process alive.
    worker.ref();
    return new Promise<Buffer>((resolve, reject) => {
      const onExit = (code: number): void => reject(new Error(`a hashing thread stopped (exit code ${code})`));
      worker.once('exit', onExit);
      worker.once('message', (reply: Reply) => {
        worker.off('exit', onExit);
        this.#putIdle(worker);
        if (reply.key === undefined) reject(new Error(reply.error ?? 'scrypt failed'));
        else resolve(Buffer.from(reply.key.buffer, reply.key.byteOffset, reply.key.byteLength));
      });
      worker.postMessage({ password, salt, keyLength, options });
    });
  }

  #takeIdle(): Worker | undefined {
    const idle = this.#idle.pop();
    if (idle === undefined) return undefined;
    clearTimeout(idle.retire);
    return idle.worker;
  }

  #putIdle(worker: Worker): void {
    worker.unref();
    const retire = setTimeout(() => void worker.terminate(), this.#idleMs).unref();
    this.#idle.push({ worker, retire });
  }

  #spawn(): Worker {
    // execArgv: [] keeps the TypeScript loader (and any other flag) out of the thread.
    const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData: { priority: this.#priority } });
    this.#threads += 1;
    // A thread that dies (retired, or out of memory) fails any hash it had through 'exit' and is never reused.
    worker.on('error', () => undefined);
    worker.on('exit', () => {
      this.#threads -= 1;
      this.#idle = this.#idle.filter((idle) => idle.worker !== worker);
    });
    return worker;
  }
}

interface IdleThread {
  worker: Worker;
  /** retire ends the thread once it has been idle for the pool's idleMs. */
  retire: NodeJS.Timeout;
}

/** sharedHashPool serves every PasswordHasher of the process, so its threads are started once. */
export const sharedHashPool = new HashPool();
