import type { ScryptOptions } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/**
 * HASH_THREAD_NICE: the hashing threads' scheduling priority, nice 10. Linux
 * gives a nice-10 thread about a tenth of the share of a nice-0 one when
 * they compete for a core, so the event loop wins whenever it has work,
 * while sign-ins still make progress on a host kept busy by others (at
 * nice 19, the lowest, they would get about 1.5 % and could starve).
 */
export const HASH_THREAD_NICE = 10;
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
 * HashPool runs scrypt on threads of its own at a low priority, so a burst
 * of sign-ins hardly slows the event loop: when a request is waiting to be
 * answered, the kernel runs the event loop first, even when every thread of
 * the server shares one core. (On libuv's pool the hashes would compete
 * with the event loop as equals, and with file I/O too.)
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
  #source: string;
  /** #failures remembers why a thread died, for the error of the hash it took down. */
  #failures = new WeakMap<Worker, Error>();

  constructor(options: HashPoolOptions = {}) {
    this.#priority = options.priority ?? HASH_THREAD_NICE;
    this.#idleMs = options.idleMs ?? IDLE_THREAD_MS;
    this.#source = options.source ?? WORKER_SOURCE;
  }

  /** threads is how many threads the pool has right now, busy or idle. */
  get threads(): number {
    return this.#threads;
  }

  /**
   * derive is crypto.scrypt on a pool thread. It rejects with a plain Error
   * when scrypt refuses its parameters, and with HashThreadError when the
   * thread died under the hash (out of memory, say).
   */
  derive(password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
    const worker = this.#takeIdle() ?? this.#spawn();
    // Referenced while working, so a pending hash keeps the process alive.
    worker.ref();
    return new Promise<Buffer>((resolve, reject) => {
      const onExit = (code: number): void => reject(new HashThreadError(code, this.#failures.get(worker)));
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
    const retire = setTimeout(() => {
      // Out of the idle list first: a thread that is stopping must not be handed a hash.
      this.#idle = this.#idle.filter((idle) => idle.worker !== worker);
      void worker.terminate();
    }, this.#idleMs).unref();
    this.#idle.push({ worker, retire });
  }

  #spawn(): Worker {
    // execArgv: [] keeps the TypeScript loader (and any other flag) out of the thread.
    const worker = new Worker(this.#source, { eval: true, execArgv: [], workerData: { priority: this.#priority } });
    this.#threads += 1;
    // A thread that dies (retired, or out of memory) fails any hash it had through 'exit' and is never reused.
    worker.on('error', (error) => this.#failures.set(worker, error));
    worker.on('exit', () => {
      this.#threads -= 1;
      this.#idle = this.#idle.filter((idle) => idle.worker !== worker);
    });
    return worker;
  }
}

export interface HashPoolOptions {
  /** priority is the threads' nice value; HASH_THREAD_NICE by default. */
  priority?: number;
  /** idleMs is how long an idle thread lives; IDLE_THREAD_MS by default. */
  idleMs?: number;
  /** source is the threads' program; tests pass one that misbehaves (dies, throws). */
  source?: string;
}

/** HashThreadError: the thread running a hash stopped before it answered; `cause` says why, when the thread said. */
export class HashThreadError extends Error {
  constructor(exitCode: number, cause: Error | undefined) {
    super(`a hashing thread stopped (exit code ${exitCode})${cause === undefined ? '' : `: ${cause.message}`}`, { cause });
    this.name = 'HashThreadError';
  }
}

interface IdleThread {
  worker: Worker;
  /** retire ends the thread once it has been idle for the pool's idleMs. */
  retire: NodeJS.Timeout;
}

/** sharedHashPool serves every PasswordHasher of the process, so its threads are started once. */
export const sharedHashPool = new HashPool();
