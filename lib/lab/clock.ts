/**
 * LabClock is the lab's time machine: the app's clock moved forward by an
 * offset the lab sets, so the `expiry` lesson can show an eight-hour-old
 * session in a second instead of a working day. Outside the lab the app's
 * clock is never wrapped.
 */
export class LabClock {
  #base: () => number;
  #offsetMs = 0;

  constructor(base: () => number) {
    this.#base = base;
  }

  /** now is the lab's time in epoch milliseconds: the real time plus the offset. */
  readonly now = (): number => this.#base() + this.#offsetMs;

  /** offsetMs is how far ahead of the real time the lab's clock runs. */
  get offsetMs(): number {
    return this.#offsetMs;
  }

  /** advance moves the clock forward by `ms` (never back: time in a session only runs forward). */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`LabClock.advance: ${ms} is not a duration`);
    this.#offsetMs += ms;
  }

  /** reset puts the clock back to the real time. */
  reset(): void {
    this.#offsetMs = 0;
  }
}
