/** T0 is where fake clocks start unless told otherwise: an ordinary moment, far from any edge. */
export const T0 = Date.UTC(2026, 10, 22, 3, 10);

/**
 * FakeClock is time that moves only when the test says so. Pass `clock` to
 * the app (AppOptions.clock) or to anything else that takes one; timers are
 * a separate matter, for `t.mock.timers`.
 */
export interface FakeClock {
  clock: () => number;
  /** advance moves time forward by `ms`. */
  advance(ms: number): void;
  /** setTo moves time to `epochMs`, forward or back. */
  setTo(epochMs: number): void;
}

/** fakeClock starts at `start` (epoch milliseconds) and stands still. */
export function fakeClock(start = T0): FakeClock {
  let now = start;
  return {
    clock: () => now,
    advance: (ms) => {
      now += ms;
    },
    setTo: (epochMs) => {
      now = epochMs;
    },
  };
}
