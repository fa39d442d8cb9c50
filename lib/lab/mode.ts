import { isIPv4 } from 'node:net';
import { ConfigError } from '../config.ts';
import type { Config } from '../config.ts';
import { LabClock } from './clock.ts';
import { LabSwitches } from './switches.ts';

/**
 * Lab mode: Cloakroom with switches that turn its defences off, for
 * `npm run lab` only (scripts/lab.ts). There is no variable that turns it
 * on: `npm start` and `server.ts` never pass AppOptions.lab, whatever the
 * environment says, so a server cannot be put in lab mode by a setting
 * left behind.
 *
 * What keeps the lab from weakening anything else:
 * - it listens on a loopback address only (checkLabConfig);
 * - it keeps its sessions and accounts in their own directories unless told
 *   otherwise (LAB_DIRECTORIES), and marks every session record it writes, so
 *   a server outside the lab never trusts one (lib/sessions/session.ts `trusted`);
 *   a file named by a raw ID is deleted by any sweeper with names hashed;
 * - it runs one process on files or memory, where its switches hold.
 */

/** LAB_DIRECTORIES: where the lab keeps its state unless SESSIONS_DIR or USERS_FILE say otherwise (git ignores `lab/`). */
export const LAB_DIRECTORIES = { SESSIONS_DIR: './lab/sessions', USERS_FILE: './lab/data/users.json' } as const;

type Env = Readonly<Record<string, string | undefined>>;

/** labEnvironment is `env` with the lab's own directories filled in where they are unset (or empty, as loadConfig treats them). */
export function labEnvironment(env: Env): Env {
  const defaults = Object.entries(LAB_DIRECTORIES).filter(([name]) => env[name] === undefined || env[name] === '');
  return { ...env, ...Object.fromEntries(defaults) };
}

/**
 * isLoopbackHost tells whether HOST is an address only this machine can
 * reach: `localhost`, 127.0.0.0/8 or `::1`.
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return bare === 'localhost' || bare === '::1' || (isIPv4(bare) && bare.startsWith('127.'));
}

/**
 * checkLabConfig refuses, with a ConfigError naming the variable, what the
 * lab cannot run safely: a HOST others can reach (its defences can be off),
 * WORKERS above 1 (the switches live in one process's memory), and a
 * STORE other than files or memory (the switches that change storage are
 * written for those).
 */
export function checkLabConfig(config: Config): void {
  if (!isLoopbackHost(config.host)) {
    throw new ConfigError(
      'HOST',
      `the lab switches defences off, so it listens only on a loopback address (127.0.0.1, ::1 or localhost), got "${config.host}"`,
    );
  }
  if (config.workers !== 1) throw new ConfigError('WORKERS', `the lab runs one process, where its switches live; got ${config.workers}`);
  if (config.store.kind !== 'files' && config.store.kind !== 'memory') {
    throw new ConfigError('STORE', `the lab runs on files or memory, got ${config.store.kind}`);
  }
}

/** Lab is what lab mode adds to a running app: the switches, and the clock the `expiry` lesson moves. */
export class Lab {
  readonly switches = new LabSwitches();
  readonly clock: LabClock;

  constructor(baseClock: () => number) {
    this.clock = new LabClock(baseClock);
  }
}

/** openLab checks `config` for lab mode (checkLabConfig) and makes the lab over the app's clock. */
export function openLab(config: Config, baseClock: () => number): Lab {
  checkLabConfig(config);
  return new Lab(baseClock);
}
