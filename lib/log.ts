import type { Config, LogMode } from './config.ts';
import { describeDuration } from './duration.ts';
import { ENDING_NOTES_DIR } from './sessions/endings.ts';
import { USER_INDEX_DIR } from './sessions/user-index.ts';

/** Writer receives finished log text (a line or a block, no trailing newline). */
export type Writer = (text: string) => void;

/** StepText is a step's text, or a function that makes it (see RequestLog.step). */
export type StepText = string | (() => string);

/** RequestLog collects one request's story; see Logger.begin. */
export interface RequestLog {
  /**
   * step adds one line under `topic` ("cookie", "session", "file", …); only
   * LOG=explain prints steps. Text that costs something to make (a file
   * name is a SHA-256) is given as a function, called only when steps are kept.
   */
  step: (topic: string, text: StepText) => void;
}

const COLORS = {
  dim: '\x1b[2m',
  bold: '\x1b[1m',
  cyan: '\x1b[36m',
  green: '\x1b[32m',
  yellow: '\x1b[33m',
  red: '\x1b[31m',
  reset: '\x1b[0m',
};
const TOPIC_WIDTH = 8;
// Shared by every request when steps are not printed: nothing is ever added to it.
const NO_STEPS: RequestLog & { lines: string[] } = Object.freeze({
  step: () => undefined,
  lines: Object.freeze([]) as unknown as string[],
});

export interface LoggerOptions {
  mode: LogMode;
  write?: Writer;
  /** writeError receives unexpected errors; stderr by default. */
  writeError?: Writer;
  /** color: ANSI colours; by default only when stdout is a terminal. */
  color?: boolean;
}

/**
 * Logger prints what the server does, in one of three modes:
 * - `explain`: a short block per request that narrates each session step
 *   (cookie seen, file read, expiry, change, file written or deleted,
 *   cookie set or cleared). Meant for learning; never prints a whole ID.
 * - `requests`: one line per request.
 * - `silent`: nothing but unexpected errors (on stderr).
 */
export class Logger {
  #mode: LogMode;
  #write: Writer;
  #writeError: Writer;
  #color: boolean;

  constructor(options: LoggerOptions) {
    this.#mode = options.mode;
    this.#write = options.write ?? ((text) => process.stdout.write(`${text}\n`));
    this.#writeError = options.writeError ?? ((text) => process.stderr.write(`${text}\n`));
    this.#color = options.color ?? stdoutIsTerminal();
  }

  /** begin starts the story of one request; with explain off it returns a log that keeps nothing. */
  begin(): RequestLog & { lines: string[] } {
    if (this.#mode !== 'explain') return NO_STEPS;
    const lines: string[] = [];
    return {
      lines,
      step: (topic, text) => lines.push(`  ${this.#paint('cyan', topic.padEnd(TOPIC_WIDTH))} ${typeof text === 'string' ? text : text()}`),
    };
  }

  /** explains is true in explain mode, when each request's steps are printed. */
  get explains(): boolean {
    return this.#mode === 'explain';
  }

  /** printsRequests is false in silent mode, so the app can skip timing requests at all. */
  get printsRequests(): boolean {
    return this.#mode !== 'silent';
  }

  /**
   * end prints the request: its summary line and, in explain mode, the steps
   * collected. A static file served (`asset`, answered below 400) is left
   * out of the explain log, which is about sessions: a page load's CSS,
   * scripts and icon would bury the one request that matters. LOG=requests
   * prints its line.
   */
  end(log: { lines: string[] }, method: string, path: string, status: number, durationMs: number, asset = false): void {
    if (this.#mode === 'silent') return;
    if (asset && status < 400 && this.#mode === 'explain') return;
    const color = status >= 500 ? 'red' : status >= 400 ? 'yellow' : 'green';
    const summary = `${this.#paint('bold', method)} ${path} ${this.#paint(color, String(status))} ${this.#paint('dim', `${durationMs.toFixed(1)} ms`)}`;
    this.#write(log.lines.length === 0 ? summary : `${summary}\n${log.lines.join('\n')}`);
  }

  /** info prints a line about the server itself (start-up, sweeps) unless silent. */
  info(text: string): void {
    if (this.#mode !== 'silent') this.#write(this.#paint('dim', text));
  }

  /** warn prints something a person should look at (a corrupt session file) unless silent. */
  warn(text: string): void {
    if (this.#mode !== 'silent') this.#write(this.#paint('yellow', text));
  }

  /** error always reaches stderr: an unexpected failure, with its stack, kept out of any response. */
  error(text: string, error: unknown): void {
    const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
    this.#writeError(`${text}: ${detail}`);
  }

  #paint(color: keyof typeof COLORS, text: string): string {
    return this.#color ? `${COLORS[color]}${text}${COLORS.reset}` : text;
  }
}

/** stdoutIsTerminal: Node's types say boolean, but isTTY is undefined (not false) when stdout is a pipe or a file. */
function stdoutIsTerminal(): boolean {
  return (process.stdout as { isTTY?: boolean }).isTTY === true;
}

/**
 * startupSummary is what server.ts prints under its "listening on" line:
 * where the state lives, the timeouts in force and how to stop, so a
 * newcomer sees at a glance what this run will do.
 */
export function startupSummary(config: Config): string[] {
  const row = (label: string, text: string): string => `  ${label.padEnd(TOPIC_WIDTH)}  ${text}`;
  const { sessions, accounts, expiry } = whereStateLives(config);
  return [
    row('sessions', sessions),
    row('accounts', accounts),
    row(
      'timeouts',
      `idle ${describeDuration(config.idleTimeoutMs)} (guests ${describeDuration(config.guestIdleTimeoutMs)}), ` +
        `absolute ${describeDuration(config.absoluteTimeoutMs)}; ${expiry}`,
    ),
    row('log', `${config.log} (LOG=explain, requests or silent)`),
    row('stop', config.store.kind === 'files' ? 'Ctrl-C; npm run reset deletes every account and session' : 'Ctrl-C'),
  ];
}

/** whereStateLives says, for the start-up summary, where STORE keeps sessions and accounts and how expired sessions go. */
function whereStateLives(config: Config): { sessions: string; accounts: string; expiry: string } {
  const swept = `expired sessions swept every ${describeDuration(config.sweepIntervalMs)}`;
  switch (config.store.kind) {
    case 'files':
      return {
        sessions: `${config.sessionsDir} (a file per session; ${USER_INDEX_DIR}/ lists them by user, ${ENDING_NOTES_DIR}/ notes why each ended)`,
        accounts: config.usersFile,
        expiry: `expired files swept every ${describeDuration(config.sweepIntervalMs)}`,
      };
    case 'memory':
      return { sessions: "this process's memory (STORE=memory): gone when it stops", accounts: "this process's memory too", expiry: swept };
    case 'redis': {
      // The host and port only: a password in the URL never reaches the terminal.
      const { host } = new URL(config.store.url);
      return {
        sessions: `Redis at ${host} (STORE), a key per session: cloakroom:session:<file id>`,
        accounts: `the same Redis, a key per account`,
        expiry: 'Redis deletes each expired session itself (its TTL)',
      };
    }
    case 'sqlite':
      return {
        sessions: `${config.store.path} (STORE=sqlite), table sessions`,
        accounts: 'the same database, table accounts',
        expiry: swept,
      };
  }
}
