/**
 * SessionCensus is how many sessions are stored, known cheaply enough to
 * ask before every new guest session (MAX_SESSIONS). Counting the files
 * each time would read the whole directory per request; instead the
 * sweeper, which walks the directory anyway, reports how many live
 * sessions it kept, and this process adds the sessions it has created
 * since that walk began.
 *
 * It is an estimate, and errs in known directions: sessions deleted since
 * the walk (logouts, expiries) still count until the next one, so it errs
 * high; sessions other processes on the same directory created since the
 * walk are not seen until the next one, so with several processes it can
 * err low by what they created within one SWEEP_INTERVAL (which their own
 * per-address limits bound). Until the first walk ends it knows only what
 * this process created.
 */
export class SessionCensus {
  #counted = 0;
  #sinceCounted = 0;
  #sinceWalkBegan = 0;

  /** estimate is the number of stored sessions, as well as this process knows it. */
  get estimate(): number {
    return this.#counted + this.#sinceCounted;
  }

  /** created notes one more stored session, made by this process. */
  created(): void {
    this.#sinceCounted += 1;
    this.#sinceWalkBegan += 1;
  }

  /** walkBegan marks the start of a sweep: creations from now on may or may not be among what it finds. */
  walkBegan(): void {
    this.#sinceWalkBegan = 0;
  }

  /** walked takes the sweep's count of live sessions; creations since it began are kept on top (some may be counted twice: high, not low). */
  walked(live: number): void {
    this.#counted = live;
    this.#sinceCounted = this.#sinceWalkBegan;
  }
}
