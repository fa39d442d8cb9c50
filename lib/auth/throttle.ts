import { MemoryCounterStore } from './counters.ts';
import type { CounterStore } from './counters.ts';

/** The throttle's limits (README, Security): 5 failures per account or 50 per address within 15 minutes. */
export const ACCOUNT_FAILURE_LIMIT = 5;
export const ADDRESS_FAILURE_LIMIT = 50;
export const FAILURE_WINDOW_MS = 15 * 60 * 1000;

export interface ThrottleOptions {
  /** counters hold the counts; by default in this process only (lib/auth/counters.ts). */
  counters?: CounterStore;
  accountLimit?: number;
  addressLimit?: number;
  windowMs?: number;
}

/**
 * LoginThrottle counts failed sign-ins per account and per client address
 * in a sliding window: the brute-force defence (OWASP Authentication Cheat
 * Sheet, ASVS 2.2.1). While either count is at its limit, every attempt is
 * refused before the password is even checked, right or wrong, so guessing
 * stops paying; the lock lifts by itself as old failures leave the window.
 *
 * An attempt counts as a failure from the moment it is let through, before
 * the slow hash, and is taken back only when the password matched: so
 * twenty guesses sent at once get five hashes, not twenty. Unknown
 * usernames are counted exactly like real ones, so a lock-out does not
 * reveal which names exist. The counts live in a CounterStore, which every
 * process of one Cloakroom shares, so the limits hold in total.
 */
export class LoginThrottle {
  #counters: CounterStore;
  #accountLimit: number;
  #addressLimit: number;
  #windowMs: number;

  constructor(options: ThrottleOptions = {}) {
    this.#counters = options.counters ?? new MemoryCounterStore();
    this.#accountLimit = options.accountLimit ?? ACCOUNT_FAILURE_LIMIT;
    this.#addressLimit = options.addressLimit ?? ADDRESS_FAILURE_LIMIT;
    this.#windowMs = options.windowMs ?? FAILURE_WINDOW_MS;
  }

  /**
   * attempt returns 0 and counts a failure in advance when an attempt for
   * `username` from `address` may go ahead at `now`; otherwise it counts
   * nothing and returns how long until one may.
   */
  async attempt(username: string, address: string, now: number): Promise<number> {
    const account = accountKey(username);
    const accountWait = await this.#counters.hit(account, this.#accountLimit, this.#windowMs, now);
    if (accountWait > 0) return accountWait;
    const addressWait = await this.#counters.hit(addressKey(address), this.#addressLimit, this.#windowMs, now);
    if (addressWait > 0) await this.#counters.forget(account, now);
    return addressWait;
  }

  /**
   * succeeded takes back the failure counted for this attempt and forgets
   * the account's earlier failures. The address keeps its other failures:
   * one address may try many accounts.
   */
  async succeeded(username: string, address: string, now: number): Promise<void> {
    await this.#counters.forget(accountKey(username));
    await this.#counters.forget(addressKey(address), now);
  }
}

function accountKey(username: string): string {
  return `account:${username.toLowerCase()}`;
}

function addressKey(address: string): string {
  return `address:${address}`;
}
