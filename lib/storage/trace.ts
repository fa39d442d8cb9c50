import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The storage trace lets a storage say, in the explain log of the request
 * that caused it, what it sent to its backend ("redis: SET cloakroom:session:3f2a… NX PX 1800000",
 * "sqlite: UPDATE sessions SET … WHERE file_id = ?"), without every call
 * carrying the request's log. The pipeline opens a trace around a request
 * only when LOG=explain; otherwise traceStorage costs one lookup.
 *
 * A line never holds a value, a password or a whole key: a storage
 * shortens keys and leaves out values before it calls traceStorage.
 */
const current = new AsyncLocalStorage<(line: string) => void>();

/** withStorageTrace runs `task` with `step` receiving each line that storage code traces while it runs. */
export function withStorageTrace<T>(step: (line: string) => void, task: () => T): T {
  return current.run(step, task);
}

/** traceStorage adds a line to the explain log of the request being served, if a trace is open. */
export function traceStorage(line: string): void {
  current.getStore()?.(line);
}
