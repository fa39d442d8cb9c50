import type { LogMode } from './config.ts';

/** Writer receives finished log text (a line or a block, no trailing newline). */
export type Writer = (text: string) => void;

/** RequestLog collects one request's story; see Logger.begin. */
export interface RequestLog {
  /** step adds one line under `topic` ("cookie", "session", "file", …); only LOG=explain prints steps. */
  step: (topic: string, text: string) => void;
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
      step: (topic, text) => lines.push(`  ${this.#paint('cyan', topic.padEnd(TOPIC_WIDTH))} ${text}`),
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

  /** end prints the request: its summary line and, in explain mode, the steps collected. */
  end(log: { lines: string[] }, method: string, path: string, status: number, durationMs: number): void {
    if (this.#mode === 'silent') return;
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
