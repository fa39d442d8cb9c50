/** The throttle's limits (README, Security): 5 failures per account or 50 per address within 15 minutes. */
export const ACCOUNT_FAILURE_LIMIT = 5;
export const ADDRESS_FAILURE_LIMIT = 50;
export const FAILURE_WINDOW_MS = 15 * 60 * 1000;
/** At most this many accounts and addresses are tracked; the stalest are forgotten first. */
export const MAX_TRACKED_KEYS = 10_000;

export interface ThrottleOptions {
  accountLimit?: number;
  addressLimit?: number;
  windowMs?: number;
  maxTrackedKeys?: number;
}

/**
 * LoginThrottle counts failed sign-ins per account and per client address
 * in a sliding window: the brute-force defence (OWASP Authentication Cheat
 * Sheet, ASVS 2.2.1). While either count is at its limit, every attempt is
 * refused before the password is even checked, right or wrong, so guessing
 * stops paying; the lock lifts by itself as old failures leave the window.
 *
 * Unknown usernames are counted exactly like real ones, so a lock-out does
 * not reveal which names exist. Memory is bounded by `maxTrackedKeys`.
 */
export class LoginThrottle {
  #accountLimit: number;
  #addressLimit: number;
  #windowMs: number;
  #maxKeys: number;
  // Failure times per key, oldest first. Keys are "account:<name>" and "address:<ip>".
  #failures = new Map<string, number[]>();

  constructor(options: ThrottleOptions = {}) {
    this.#accountLimit = options.accountLimit ?? ACCOUNT_FAILURE_LIMIT;
    this.#addressLimit = options.addressLimit ?? ADDRESS_FAILURE_LIMIT;
    this.#windowMs = options.windowMs ?? FAILURE_WINDOW_MS;
    this.#maxKeys = options.maxTrackedKeys ?? MAX_TRACKED_KEYS;
  }

  /**
   * retryAfterMs returns 0 when an attempt for `username` from `address` may
   * go ahead at `now`, or how long until it may.
   */
  retryAfterMs(username: string, address: string, now: number): number {
    return Math.max(
      this.#wait(accountKey(username), this.#accountLimit, now),
      this.#wait(addressKey(address), this.#addressLimit, now),
    );
  }

  /** recordFailure counts one failed attempt against both the account and the address. */
  recordFailure(username: string, address: string, now: number): void {
    this.#add(accountKey(username), now);
    this.#add(addressKey(address), now);
  }

  /**
   * recordSuccess takes back the failure recorded at `now` for this attempt
   * (attempts are counted before the slow hash, so parallel guesses cannot
   * slip past the limit) and forgets the account's earlier failures. The
   * address keeps its other failures: one address may try many accounts.
   */
  recordSuccess(username: string, address: string, now: number): void {
    this.#failures.delete(accountKey(username));
    const times = this.#failures.get(addressKey(address));
    const index = times?.lastIndexOf(now) ?? -1;
    if (times !== undefined && index >= 0) times.splice(index, 1);
  }

  #wait(key: string, limit: number, now: number): number {
    const times = this.#recent(key, now);
    if (times.length < limit) return 0;
    // The lock lifts when enough old failures have left the window.
    return times[times.length - limit]! + this.#windowMs - now;
  }

  #recent(key: string, now: number): number[] {
    const times = this.#failures.get(key);
    if (times === undefined) return [];
    const recent = times.filter((time) => now - time < this.#windowMs);
    if (recent.length === 0) this.#failures.delete(key);
    else this.#failures.set(key, recent);
    return recent;
  }

  #add(key: string, now: number): void {
    const times = this.#recent(key, now);
    // Re-inserting moves the key to the end of the Map's order: most recent last.
    this.#failures.delete(key);
    this.#failures.set(key, [...times, now]);
    if (this.#failures.size > this.#maxKeys) {
      const stalest = this.#failures.keys().next().value;
      if (stalest !== undefined) this.#failures.delete(stalest);
    }
  }
}

function accountKey(username: string): string {
  return `account:${username.toLowerCase()}`;
}

function addressKey(address: string): string {
  return `address:${address}`;
}
