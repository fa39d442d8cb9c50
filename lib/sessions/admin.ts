import { timeoutsOf } from '../config.ts';
import type { Config } from '../config.ts';
import { openStorage } from '../storage/open.ts';
import type { Storage, StoredSession } from '../storage/storage.ts';
import { UNKNOWN_DEVICE } from './device.ts';
import { expiryAt, expiryTimes } from './record.ts';
import type { SessionRecord, Timeouts } from './record.ts';
import { revokeSession } from './revocation.ts';

/**
 * `npm run sessions -- COMMAND`: the stored sessions from the terminal,
 * for whoever runs the server. It reads the same variables as `npm start`
 * (STORE and SESSIONS_DIR above all) and works while servers run: every
 * storage replaces a record whole, and revoking takes the same lock a
 * request takes (lib/sessions/revocation.ts).
 *
 * Sessions are named by their file id (the SHA-256 of the ID, the file's
 * name), or any unambiguous start of it; the terminal never sees an ID.
 */

export const USAGE = `usage: npm run sessions -- COMMAND
  list                 one line per live session: user or guest, file id, device, created, last seen, time left
  show ID-PREFIX       the stored JSON of one session
  revoke ID-PREFIX     end one session now (its next request finds none)
  revoke-user NAME     end every session of one user
  sweep                run the sweeper once and print what it did
  stats                how many sessions, guests and users, their total size, and the oldest`;

/** How much of a file id `list` shows: as `ls` would need to tell files apart in practice. */
const FILE_ID_SHOWN = 12;
const FILE_ID_PREFIX = /^[0-9a-f]{1,64}$/;
const MS_PER_SECOND = 1000;
const SECONDS_PER_MINUTE = 60;
const SECONDS_PER_HOUR = 3600;

/** Output is where the command writes: `out` for results, `err` for problems. */
export interface Output {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** UsageError is a command line that cannot be run: said in one line (with the usage, when the command itself is wrong), exit code 1. */
class UsageError extends Error {
  readonly withUsage: boolean;

  constructor(message: string, withUsage = false) {
    super(message);
    this.withUsage = withUsage;
  }
}

/**
 * runSessionsCommand runs one command and returns its exit code: 0 when it
 * did its work, 1 for an unknown command, a missing argument, or an id
 * prefix that names no session or more than one.
 */
export async function runSessionsCommand(args: readonly string[], config: Config, output: Output, now = Date.now()): Promise<number> {
  const [command, argument] = args;
  const storage = await openStorage(config);
  const admin = new SessionsAdmin(config, storage, output, now);
  try {
    switch (command) {
      case 'list':
        await admin.list();
        break;
      case 'show':
        await admin.show(required(argument, 'show needs an ID-PREFIX'));
        break;
      case 'revoke':
        await admin.revoke(required(argument, 'revoke needs an ID-PREFIX'));
        break;
      case 'revoke-user':
        await admin.revokeUser(required(argument, 'revoke-user needs a NAME'));
        break;
      case 'sweep':
        await admin.sweep();
        break;
      case 'stats':
        await admin.stats();
        break;
      default:
        throw new UsageError(command === undefined ? 'no command given' : `unknown command "${command}"`, true);
    }
    return 0;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    output.err(`sessions: ${error.message}`);
    if (error.withUsage) output.err(USAGE);
    return 1;
  } finally {
    await storage.close();
  }
}

function required(value: string | undefined, message: string): string {
  if (value === undefined || value === '') throw new UsageError(message);
  return value;
}

class SessionsAdmin {
  #config: Config;
  #output: Output;
  #now: number;
  #timeouts: Timeouts;
  #storage: Storage;

  constructor(config: Config, storage: Storage, output: Output, now: number) {
    this.#config = config;
    this.#storage = storage;
    this.#output = output;
    this.#now = now;
    this.#timeouts = timeoutsOf(config);
  }

  async list(): Promise<void> {
    const live = (await this.#scan()).filter((session) => this.#isLive(session)).sort(byCreatedAt);
    if (live.length === 0) {
      this.#output.out(`no live sessions in ${this.#place()}`);
      return;
    }
    const rows = live.map(({ fileId, record }) => {
      const { idle, absolute } = expiryTimes(record, this.#timeouts);
      return [
        record.user ?? 'guest',
        `${fileId.slice(0, FILE_ID_SHOWN)}…`,
        record.device ?? UNKNOWN_DEVICE,
        record.createdAt,
        record.lastSeenAt,
        duration(Math.min(idle, absolute) - this.#now),
      ];
    });
    for (const line of table(['USER', 'ID', 'DEVICE', 'CREATED', 'LAST SEEN', 'TIME LEFT'], rows)) this.#output.out(line);
  }

  async show(prefix: string): Promise<void> {
    const { record } = await this.#resolve(prefix);
    this.#output.out(record === null ? '(unreadable: not a session record)' : JSON.stringify(record, null, 2));
  }

  async revoke(prefix: string): Promise<void> {
    const { fileId } = await this.#resolve(prefix);
    await revokeSession(this.#revocation(), fileId, 'terminal');
    this.#output.out(`revoked ${fileId.slice(0, FILE_ID_SHOWN)}…: its next request finds no session`);
  }

  async revokeUser(username: string): Promise<void> {
    const sessions = await this.#storage.sessions.listByUser(username, this.#now);
    for (const { fileId } of sessions) await revokeSession(this.#revocation(), fileId, 'terminal');
    this.#output.out(`revoked ${sessions.length} session(s) of ${username}`);
  }

  async sweep(): Promise<void> {
    const started = performance.now();
    const report = await this.#storage.sweep(this.#now);
    const ms = (performance.now() - started).toFixed(0);
    this.#output.out(
      `swept ${this.#place()} in ${ms} ms: ${report.live} live kept, ${report.expired} expired deleted, ` +
        `${report.leftovers} leftovers (temp files, dead locks, old counters, index entries) cleaned, ${report.failed} failed`,
    );
  }

  async stats(): Promise<void> {
    const sessions = await this.#scan();
    const live = sessions.filter((session) => this.#isLive(session)).sort(byCreatedAt);
    const users = new Set(live.flatMap(({ record }) => (record.user === null ? [] : [record.user.toLowerCase()])));
    const guests = live.filter(({ record }) => record.user === null).length;
    const bytes = sessions.reduce((total, session) => total + session.bytes, 0);
    const oldest = live[0];
    this.#output.out(`sessions: ${live.length} live (${guests} guest, ${live.length - guests} signed in)`);
    this.#output.out(`users:    ${users.size} signed in`);
    this.#output.out(`waiting:  ${sessions.length - live.length} expired or unreadable, for the sweeper`);
    this.#output.out(`size:     ${bytes} bytes in ${sessions.length} stored sessions`);
    this.#output.out(
      oldest === undefined
        ? 'oldest:   none'
        : `oldest:   ${oldest.fileId.slice(0, FILE_ID_SHOWN)}… (${oldest.record.user ?? 'guest'}), created ${oldest.record.createdAt}`,
    );
  }

  #isLive(session: StoredSession): session is StoredSession & { record: SessionRecord } {
    return session.record !== null && expiryAt(session.record, this.#now, this.#timeouts) === null;
  }

  #revocation() {
    return { store: this.#storage.sessions, lock: this.#storage.sessionLocks };
  }

  /** #place names where the sessions are, for messages: the sessions directory, or the storage STORE names. */
  #place(): string {
    return this.#storage.kind === 'files' ? this.#config.sessionsDir : `the ${this.#storage.kind} storage`;
  }

  /** #resolve finds the one stored session whose file id starts with `prefix`; none or several is a UsageError. */
  async #resolve(prefix: string): Promise<StoredSession> {
    const wanted = prefix.toLowerCase().replace(/…$/, '');
    if (!FILE_ID_PREFIX.test(wanted)) throw new UsageError(`"${prefix}" is not the start of a file id (hex digits)`);
    const matches = (await this.#scan()).filter(({ fileId }) => fileId.startsWith(wanted));
    const [only] = matches;
    if (only === undefined) throw new UsageError(`no session file id starts with ${wanted}`);
    if (matches.length > 1) throw new UsageError(`${wanted} is ambiguous: ${matches.length} sessions start with it; give more of the id`);
    return only;
  }

  /** #scan reads every stored session: the terminal's view of the whole storage (the server itself never needs one). */
  async #scan(): Promise<StoredSession[]> {
    const sessions: StoredSession[] = [];
    for await (const session of this.#storage.all()) sessions.push(session);
    return sessions;
  }
}

function byCreatedAt(a: { record: SessionRecord }, b: { record: SessionRecord }): number {
  return Date.parse(a.record.createdAt) - Date.parse(b.record.createdAt);
}

/** duration writes a time left as "7h 59m", "29m 5s" or "12s". */
function duration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / MS_PER_SECOND));
  const hours = Math.floor(total / SECONDS_PER_HOUR);
  const minutes = Math.floor((total % SECONDS_PER_HOUR) / SECONDS_PER_MINUTE);
  const seconds = total % SECONDS_PER_MINUTE;
  if (hours > 0) return `${hours}h ${minutes}m`;
  return minutes > 0 ? `${minutes}m ${seconds}s` : `${seconds}s`;
}

/** table lines up `rows` under `header`, two spaces between columns. */
function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => [...(row[column] ?? '')].length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => cell.padEnd((widths[column] ?? 0) + cell.length - [...cell].length))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}
