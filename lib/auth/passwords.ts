import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { ScryptOptions } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { HttpError } from '../http-error.ts';
import { HashThreadError, sharedHashPool } from './hash-pool.ts';
import type { HashPool } from './hash-pool.ts';

/**
 * PasswordHash is what is stored for a password: the scrypt parameters sit
 * beside the hash, so the cost can be raised later and old hashes still
 * verify (and get upgraded at the next sign-in).
 */
export interface PasswordHash {
  algorithm: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string;
  hash: string;
}

/**
 * isPasswordHash checks a stored hash field by field, as read from disk:
 * scrypt, positive whole parameters (N a power of two above 1, as scrypt
 * requires), and a salt and hash in base64.
 */
export function isPasswordHash(value: unknown): value is PasswordHash {
  if (typeof value !== 'object' || value === null) return false;
  const hash = value as Record<string, unknown>;
  return (
    hash.algorithm === 'scrypt' &&
    isPowerOfTwoAboveOne(hash.N) &&
    isPositiveInteger(hash.r) &&
    isPositiveInteger(hash.p) &&
    isBase64(hash.salt) &&
    isBase64(hash.hash)
  );
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function isBase64(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && BASE64.test(value);
}

function isPositiveInteger(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) > 0;
}

function isPowerOfTwoAboveOne(value: unknown): value is number {
  return isPositiveInteger(value) && value > 1 && (value & (value - 1)) === 0;
}

/** ScryptParams are the cost parameters of one derive. */
type ScryptParams = Pick<PasswordHash, 'N' | 'r' | 'p'>;

/** OWASP's scrypt recommendation: N = 2^17, r = 8, p = 1. */
export const DEFAULT_SCRYPT_COST = 2 ** 17;
const BLOCK_SIZE = 8;
const PARALLELISM = 1;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** Waiting hashes beyond this are refused with 503 rather than queued without end. */
export const DEFAULT_MAX_WAITING = 32;
const BUSY_RETRY_AFTER_SECONDS = '2';
/**
 * MAX_DEFAULT_CONCURRENCY caps the default however many cores there are:
 * each hash holds 128 MiB at the default cost, so three at once already
 * take 384 MiB.
 */
export const MAX_DEFAULT_CONCURRENCY = 3;

/**
 * DEFAULT_CONCURRENCY: no more hashes at once than there are cores, since
 * more would only take turns on them (on the hash pool's own threads,
 * lib/auth/hash-pool.ts) while each holds its memory; and never more than
 * MAX_DEFAULT_CONCURRENCY.
 */
export const DEFAULT_CONCURRENCY = Math.max(1, Math.min(MAX_DEFAULT_CONCURRENCY, availableParallelism()));

export interface PasswordHasherOptions {
  cost: number;
  concurrency?: number;
  maxWaiting?: number;
  /** pool runs the hashes; by default the process's low-priority threads (lib/auth/hash-pool.ts). */
  pool?: HashPool;
}

/**
 * HashPurpose says who a hash is for. `sign-in` covers every check of a
 * password (sign-in, the current password at a change) and the hashes a
 * signed-in user causes; `registration` is a new account. Registrations
 * yield to sign-ins: a flood of them must not lock everyone out.
 */
export type HashPurpose = 'sign-in' | 'registration';

/**
 * PasswordHasher hashes and verifies passwords with scrypt, never more than
 * `concurrency` at once. When `maxWaiting` more are already queued it throws
 * HasherBusyError (503 with Retry-After): a flood of sign-ins gets a clear answer
 * instead of exhausting memory (each hash at the default cost takes 128 MiB).
 *
 * Registrations never hold more than half of it: at most half the
 * concurrency (rounded down, but one at least) and half the queue, and a
 * freed slot goes to a waiting sign-in first. So a registration flood,
 * even from many addresses each under its own limit, leaves sign-ins
 * answered: they wait for at most the registrations already running.
 */
export class PasswordHasher {
  #cost: number;
  #concurrency: number;
  #maxWaiting: number;
  #registrationSlots: number;
  #registrationQueue: number;
  #pool: HashPool;
  #active = 0;
  #activeRegistrations = 0;
  #waiting: Record<HashPurpose, Array<() => void>> = { 'sign-in': [], registration: [] };
  #dummy: PasswordHash;

  constructor(options: PasswordHasherOptions) {
    this.#cost = options.cost;
    this.#concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
    this.#maxWaiting = options.maxWaiting ?? DEFAULT_MAX_WAITING;
    this.#registrationSlots = Math.max(1, Math.floor(this.#concurrency / 2));
    this.#registrationQueue = Math.floor(this.#maxWaiting / 2);
    this.#pool = options.pool ?? sharedHashPool;
    this.#dummy = this.#dummyHash();
  }

  /** running is how many hashes are being computed right now: never more than the concurrency. */
  get running(): number {
    return this.#active;
  }

  /** waiting is how many hashes wait for a slot: never more than maxWaiting. */
  get waiting(): number {
    return this.#waiting['sign-in'].length + this.#waiting.registration.length;
  }

  /** hash makes a new PasswordHash with a fresh 16-byte salt at the configured cost; `purpose` decides its place in line. */
  async hash(password: string, purpose: HashPurpose = 'sign-in'): Promise<PasswordHash> {
    const salt = randomBytes(SALT_BYTES);
    const params = { N: this.#cost, r: BLOCK_SIZE, p: PARALLELISM };
    const key = await this.#run(purpose, () => this.#derive(password, salt, params));
    return { algorithm: 'scrypt', ...params, salt: salt.toString('base64'), hash: key.toString('base64') };
  }

  /**
   * verify tells whether `password` matches `stored`. With `stored` null
   * (no such user) it still hashes, against a dummy hash at the same cost,
   * and answers false: an unknown username takes as long as a wrong
   * password, so timing does not tell which usernames exist.
   *
   * A hash stored at a lower cost (before SCRYPT_COST was raised) is
   * checked at its own cost, which alone would answer far sooner than an
   * unknown name and so tell old accounts apart; #deriveAtFullCost spends
   * the difference, whatever the answer.
   */
  async verify(password: string, stored: PasswordHash | null): Promise<boolean> {
    const target = stored ?? this.#dummy;
    const expected = Buffer.from(target.hash, 'base64');
    const actual = await this.#run('sign-in', () => this.#deriveAtFullCost(password, Buffer.from(target.salt, 'base64'), target));
    // timingSafeEqual: comparing byte by byte with === would stop at the first difference and leak how much matched.
    return stored !== null && actual.length === expected.length && timingSafeEqual(actual, expected);
  }

  /** needsRehash is true when `stored` was made with other parameters than the configured ones. */
  needsRehash(stored: PasswordHash): boolean {
    return stored.N !== this.#cost || stored.r !== BLOCK_SIZE || stored.p !== PARALLELISM;
  }

  /**
   * #dummyHash is what an unknown user's password is checked against: the
   * configured parameters and a random salt, so the check costs exactly one
   * scrypt like a real one. Its "hash" is random bytes, not the hash of
   * anything, because the answer for an unknown user is false regardless;
   * so making it costs no hashing, and even the first unknown user costs
   * the same as a wrong password.
   */
  #dummyHash(): PasswordHash {
    return {
      algorithm: 'scrypt',
      N: this.#cost,
      r: BLOCK_SIZE,
      p: PARALLELISM,
      salt: randomBytes(SALT_BYTES).toString('base64'),
      hash: randomBytes(KEY_BYTES).toString('base64'),
    };
  }

  /**
   * #deriveAtFullCost derives the key of `params` and then, if its N is
   * below the configured cost, spends the difference: scrypt's work is
   * linear in N, so derives at N, 2N, 4N … up to half the configured cost
   * add up to the configured cost less N. Every check then costs one hash
   * at the configured cost, an old account's as much as an unknown name's.
   */
  async #deriveAtFullCost(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
    const key = await this.#derive(password, salt, params);
    for (let n = params.N; n < this.#cost; n *= 2) await this.#derive(password, salt, { ...params, N: n });
    return key;
  }

  async #derive(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
    try {
      // scrypt needs 128 * N * r bytes; Node refuses above 32 MiB unless maxmem says more.
      const options: ScryptOptions = { ...params, maxmem: 2 * 128 * params.N * params.r * params.p };
      return await this.#pool.derive(password.normalize('NFC'), salt, KEY_BYTES, options);
    } catch (error) {
      // A hashing thread that died is the server's trouble, and passing: 503, try again (the cause is logged).
      if (error instanceof HashThreadError) throw new HasherBusyError(error);
      throw error;
    }
  }

  /** #run holds one slot for `purpose` while `task` runs (one hash, or a check with its padding). */
  async #run<T>(purpose: HashPurpose, task: () => Promise<T>): Promise<T> {
    await this.#acquire(purpose);
    try {
      return await task();
    } finally {
      this.#release(purpose);
    }
  }

  async #acquire(purpose: HashPurpose): Promise<void> {
    if (this.#mayStart(purpose)) {
      this.#take(purpose);
      return;
    }
    const queue = this.#waiting[purpose];
    const queueFull = this.waiting >= this.#maxWaiting || (purpose === 'registration' && queue.length >= this.#registrationQueue);
    if (queueFull) throw new HasherBusyError();
    // The slot is taken for us by #release before it resolves.
    await new Promise<void>((resolve) => queue.push(resolve));
  }

  #mayStart(purpose: HashPurpose): boolean {
    return this.#active < this.#concurrency && (purpose === 'sign-in' || this.#activeRegistrations < this.#registrationSlots);
  }

  #take(purpose: HashPurpose): void {
    this.#active += 1;
    if (purpose === 'registration') this.#activeRegistrations += 1;
  }

  /** #release frees a slot and hands it on: to a waiting sign-in first, else to a registration if they are under their share. */
  #release(purpose: HashPurpose): void {
    this.#active -= 1;
    if (purpose === 'registration') this.#activeRegistrations -= 1;
    for (const next of ['sign-in', 'registration'] as const) {
      const waiter = this.#waiting[next][0];
      if (waiter === undefined || !this.#mayStart(next)) continue;
      this.#waiting[next].shift();
      this.#take(next);
      waiter();
      return;
    }
  }
}

/**
 * HasherBusyError is the 503 of a hasher that cannot take more work now:
 * its queue is full, or the thread running a hash died (`cause`, for the
 * log). Routes tell it apart with `instanceof`, to answer an HTML form
 * with its own page instead of a bare error.
 */
export class HasherBusyError extends HttpError {
  constructor(cause?: Error) {
    super(503, 'busy', 'The server is busy signing people in. Please try again in a moment.', {
      headers: { 'Retry-After': BUSY_RETRY_AFTER_SECONDS },
      cause,
    });
    this.name = 'HasherBusyError';
  }
}
