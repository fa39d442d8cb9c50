/**
 * The lab's switches: one per defence, each naming the attack it stops.
 * `npm run lab` (scripts/lab.ts) is the only way to get switches that can
 * be turned off; everywhere else the app runs on DEFENDED, a frozen object
 * with every defence on, so no request and no setting can weaken one.
 *
 * Each defence reads its switch where it happens, beside a comment that
 * names the attack (grep for `defences['`), and the lab page shows that
 * line (LabSwitches.sites).
 */

/** SWITCH_NAMES: every defence the lab can switch off, in the order the lab page teaches them. */
export const SWITCH_NAMES = [
  'rotate-on-sign-in',
  'http-only',
  'random-ids',
  'expiry',
  'origin-check',
  'session-lock',
  'server-side-logout',
  'hashed-file-names',
] as const;

export type SwitchName = (typeof SWITCH_NAMES)[number];

/** SwitchState is every switch with its value: true = defended. */
export type SwitchState = Record<SwitchName, boolean>;

/**
 * Defences is what the app's code reads: each switch (true = the defence is
 * on), and whether this is the lab at all. Outside the lab it is always
 * DEFENDED.
 */
export interface Defences extends Readonly<SwitchState> {
  /** lab is true only in lab mode: records written there are marked, and never trusted outside it. */
  readonly lab: boolean;
}

/** DEFENDED: every defence on, frozen. The only Defences a server outside the lab ever has. */
export const DEFENDED: Defences = Object.freeze({
  lab: false,
  'rotate-on-sign-in': true,
  'http-only': true,
  'random-ids': true,
  expiry: true,
  'origin-check': true,
  'session-lock': true,
  'server-side-logout': true,
  'hashed-file-names': true,
});

/**
 * WEAKENED_STEPS say what happened instead of the defence, for the explain
 * log and the session's history: "lab: rotate-on-sign-in is OFF, the ID was kept at sign-in".
 */
const WEAKENED_STEPS: Readonly<Record<SwitchName, string>> = {
  'rotate-on-sign-in': 'the ID was kept at sign-in',
  'http-only': 'the cookie was sent without HttpOnly',
  'random-ids': 'the new ID came from a counter',
  expiry: 'a session past its timeout was kept',
  'origin-check': 'a cross-origin request was let through',
  'session-lock': 'the read-modify-write ran without the lock',
  'server-side-logout': 'logout cleared the cookie but kept the session',
  'hashed-file-names': 'the session file was named after the raw ID',
};

/** weakenedNote is the line the explain log and the session's history get when `name` let something through. */
export function weakenedNote(name: SwitchName): string {
  return `lab: ${name} is OFF, ${WEAKENED_STEPS[name]}`;
}

/** isSwitchName tells whether `value` names a switch (own names only, so `__proto__` or `toString` never does). */
export function isSwitchName(value: string): value is SwitchName {
  return (SWITCH_NAMES as readonly string[]).includes(value);
}

/** SwitchesError is a change the lab refuses: an unknown switch, or a value that is not true or false. */
export class SwitchesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SwitchesError';
  }
}

/**
 * LabSwitches are the lab's own, changeable defences: all on when the lab
 * starts. `defences` is a live view that the app's code reads at each
 * defence, so a change counts from the next request on. Only lab mode
 * (lib/app.ts, with AppOptions.lab) makes one.
 */
export class LabSwitches {
  #state: { -readonly [K in keyof Defences]: Defences[K] } = { ...DEFENDED, lab: true };

  /** defences is the live view the app reads: the same object for the lab's whole life. */
  get defences(): Defences {
    return this.#state;
  }

  /** state is a copy of every switch, for GET /api/lab. */
  state(): SwitchState {
    return Object.fromEntries(SWITCH_NAMES.map((name) => [name, this.#state[name]])) as SwitchState;
  }

  /**
   * set applies `changes` (switch name → true or false) all together, or
   * none of them: an unknown name or a value that is not a boolean throws
   * SwitchesError before anything changes.
   */
  set(changes: Readonly<Record<string, unknown>>): SwitchState {
    const entries = Object.entries(changes);
    for (const [name, value] of entries) {
      if (!isSwitchName(name)) throw new SwitchesError(`There is no switch named "${name}"; the switches are ${SWITCH_NAMES.join(', ')}.`);
      if (typeof value !== 'boolean')
        throw new SwitchesError(`The switch ${name} takes true (defended) or false, not ${JSON.stringify(value)}.`);
    }
    for (const [name, value] of entries) this.#state[name as SwitchName] = value as boolean;
    return this.state();
  }
}
