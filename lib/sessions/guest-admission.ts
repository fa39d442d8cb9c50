import { HttpError } from '../http-error.ts';
import { retryAfter, tooManyRequests } from '../rate-limit.ts';
import type { AddressLimit } from '../rate-limit.ts';
import type { SessionCensus } from './census.ts';
import type { SessionAdmission } from './session.ts';

export interface GuestAdmissionOptions {
  /** perAddress is GUEST_SESSIONS_PER_ADDRESS, counted in the store every process shares. */
  perAddress: AddressLimit;
  census: SessionCensus;
  /** maxSessions is MAX_SESSIONS. */
  maxSessions: number;
  /** retryAfterMs is how soon the census may have changed: the sweep interval. */
  retryAfterMs: number;
}

/**
 * GuestAdmission decides whether a new guest session may be started: a
 * guest's first write is the one way to make the server store a file
 * without a password, so it is where a client could fill the disk.
 *
 * - Past MAX_SESSIONS stored sessions (SessionCensus's estimate), no guest
 *   session starts: 503 with Retry-After. Sign-ins still start theirs:
 *   each costs a password check and its own throttle.
 * - Past GUEST_SESSIONS_PER_ADDRESS new guest sessions from one address
 *   within the window: 429 with Retry-After.
 */
export class GuestAdmission implements SessionAdmission {
  #options: GuestAdmissionOptions;

  constructor(options: GuestAdmissionOptions) {
    this.#options = options;
  }

  async admitGuest(address: string, now: number): Promise<void> {
    const { census, maxSessions, perAddress, retryAfterMs } = this.#options;
    if (census.estimate >= maxSessions) {
      throw new HttpError(503, 'sessions_full', 'The server holds as many sessions as it may. Please try again later.', {
        headers: retryAfter(retryAfterMs),
      });
    }
    const wait = await perAddress.hit(address, now);
    if (wait > 0) throw tooManyRequests('too_many_sessions', 'Too many new sessions from your address. Please try again later.', wait);
  }

  created(): void {
    this.#options.census.created();
  }
}
