import type { CounterStore } from './auth/counters.ts';
import { HttpError } from './http-error.ts';

/** ADDRESS_LIMIT_WINDOW_MS: the per-address limits count over 15 minutes, as the sign-in throttle does. */
export const ADDRESS_LIMIT_WINDOW_MS = 15 * 60 * 1000;
const MS_PER_SECOND = 1000;

export interface AddressLimitOptions {
  /** counters is the store every process shares (lib/auth/counters.ts), so the limit holds in total. */
  counters: CounterStore;
  /** name tells this limit's counts apart from the others' in the shared store. */
  name: string;
  limit: number;
  windowMs?: number;
}

/**
 * AddressLimit allows each client address at most `limit` of one costly
 * thing (a registration and its scrypt hash, a new guest session and its
 * file) per sliding window: one client cannot flood the hasher or fill the
 * disk. A classroom behind one address shares one allowance, so the
 * README says how a teacher raises it.
 */
export class AddressLimit {
  #counters: CounterStore;
  #name: string;
  #limit: number;
  #windowMs: number;

  constructor(options: AddressLimitOptions) {
    this.#counters = options.counters;
    this.#name = options.name;
    this.#limit = options.limit;
    this.#windowMs = options.windowMs ?? ADDRESS_LIMIT_WINDOW_MS;
  }

  /** hit counts one event for `address` at `now` and returns 0, or counts nothing and returns how many milliseconds until one more is allowed. */
  hit(address: string, now: number): Promise<number> {
    return this.#counters.hit(`${this.#name}:${address}`, this.#limit, this.#windowMs, now);
  }
}

/** retryAfter is the Retry-After header for a wait of `ms`, in whole seconds, never 0. */
export function retryAfter(ms: number): { 'Retry-After': string } {
  return { 'Retry-After': String(Math.max(1, Math.ceil(ms / MS_PER_SECOND))) };
}

/** tooManyRequests is the 429 of a limit that lifts in `ms`. */
export function tooManyRequests(code: string, message: string, ms: number): HttpError {
  return new HttpError(429, code, message, { headers: retryAfter(ms) });
}
