import { MAX_SESSION_FILE_BYTES } from '../../sessions/file-store.ts';
import { expiryAt, expiryTimes, parseRecord } from '../../sessions/record.ts';
import type { SessionRecord, Timeouts } from '../../sessions/record.ts';
import { storageKey } from '../../sessions/session-id.ts';
import { byCreation, StoreError } from '../../sessions/store.ts';
import type { ListedSession, Lookup, SessionStore } from '../../sessions/store.ts';
import type { RedisClient } from './client.ts';
import { RedisReplyError } from './client.ts';
import { keys } from './keys.ts';
import { integer, list, textOrNull } from './replies.ts';
import { Script } from './script.ts';

/**
 * The index lines shared by create and update: the session's file id goes
 * into its user's sorted set, scored by its deadline, and the set lives as
 * long as its longest-lived session (KEYS[2], ARGV[2] to ARGV[4]).
 */
const KEEP_INDEXED = `
if KEYS[2] then
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
  if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
end
return 1`;

/**
 * CREATE stores a new session and indexes it in one step: only when nothing
 * is stored under its key, or exactly the unreadable leftover ARGV[5] that
 * it may replace. So two writers can never both create one session, and a
 * record is never stored without its index entry, nor the other way round.
 *   KEYS: the session, its user's index (signed-in only)
 *   ARGV: record JSON, TTL ms, file id, deadline (epoch ms), [leftover]
 */
const CREATE = new Script(
  'create-session',
  `if redis.call('GET', KEYS[1]) ~= (ARGV[5] or false) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])${KEEP_INDEXED}`,
);

/**
 * UPDATE replaces a record only if it is still stored (SET … XX): a session
 * that was destroyed or expired is never brought back. The TTL and the
 * index score move to the record's new deadline in the same step.
 *   KEYS, ARGV: as CREATE's first four
 */
const UPDATE = new Script(
  'update-session',
  `if not redis.call('SET', KEYS[1], ARGV[1], 'XX', 'PX', ARGV[2]) then return 0 end${KEEP_INDEXED}`,
);

/**
 * DESTROY deletes a session and its index entry together.
 *   KEYS: the session, its user's index (signed-in only)
 *   ARGV: file id
 */
const DESTROY = new Script(
  'destroy-session',
  `redis.call('DEL', KEYS[1])
if KEYS[2] then redis.call('ZREM', KEYS[2], ARGV[1]) end
return 1`,
);

/** MIN_TTL_MS: a record written after its deadline (only a test does that) lives one millisecond. */
const MIN_TTL_MS = 1;

/**
 * RedisSessionStore keeps each session as one string key holding its
 * record's JSON, named by its file id (`cloakroom:session:<sha256 of ID>`),
 * with a TTL set to the earlier of its deadlines: Redis deletes an expired
 * session by itself, so no sweeper is needed. A read still judges expiry by
 * the record and the caller's clock, as every store does, so a session
 * never outlives its deadline by the time Redis takes to notice.
 *
 * The TTL is counted from the record's own `lastSeenAt`, which every write
 * sets to the moment of writing, not from this host's clock: it is never
 * shorter than the session's real life, however far the clocks of the
 * hosts sharing the Redis drift apart.
 *
 * Signed-in sessions are indexed by user in a sorted set per user, scored
 * by each session's deadline; the scripts above keep record and index
 * together, and listByUser drops members whose deadline has passed or
 * whose key is gone as it meets them.
 */
export class RedisSessionStore implements SessionStore {
  #client: RedisClient;
  #timeouts: Timeouts;

  constructor(client: RedisClient, timeouts: Timeouts) {
    this.#client = client;
    this.#timeouts = timeouts;
  }

  async get(id: string, now: number): Promise<Lookup> {
    const fileId = storageKey(id);
    const text = await this.#read(fileId);
    if (text === null) return { miss: 'not-found' };
    const record = readRecord(text);
    if (record === null) return { miss: 'unreadable' };
    const expiry = expiryAt(record, now, this.#timeouts);
    if (expiry !== null) {
      // Refused on read, and deleted with its index entry, even if Redis's own TTL has not run out yet.
      await this.#destroy(fileId, record.user);
      return { miss: `expired-${expiry}` };
    }
    return { record };
  }

  async create(id: string, record: SessionRecord): Promise<void> {
    const fileId = storageKey(id);
    if (await this.#write(CREATE, fileId, record)) return;
    // Something already sits under this brand-new ID: only an unreadable leftover may be replaced.
    const leftover = await this.#read(fileId);
    if (leftover !== null && readRecord(leftover) !== null)
      throw new StoreError('create', new Error('a session is already stored under this ID'));
    if (!(await this.#write(CREATE, fileId, record, leftover)))
      throw new StoreError('create', new Error('the key changed while the session was created'));
  }

  async update(id: string, record: SessionRecord): Promise<boolean> {
    return this.#write(UPDATE, storageKey(id), record);
  }

  async destroy(id: string): Promise<void> {
    await this.destroyByFileId(storageKey(id));
  }

  async destroyByFileId(fileId: string): Promise<void> {
    const text = await this.#read(fileId);
    if (text === null) return;
    await this.#destroy(fileId, readRecord(text)?.user ?? null);
  }

  async listByUser(username: string, now: number): Promise<ListedSession[]> {
    const index = keys.userSessions(username);
    // Sent together (pipelined): members past their deadline go, then the rest are read.
    const [, members] = await Promise.all([
      this.#client.call(['ZREMRANGEBYSCORE', index, '-inf', String(now)]),
      this.#client.call(['ZRANGE', index, '0', '-1']).then((reply) => list(reply, 'ZRANGE')),
    ]);
    const fileIds = members.filter((member) => member !== null);
    if (fileIds.length === 0) return [];
    const texts = list(await this.#client.call(['MGET', ...fileIds.map((fileId) => keys.session(fileId))]), 'MGET');
    const gone = fileIds.filter((_, i) => texts[i] === null);
    // A member whose key is gone (expired by TTL before its score said so, or deleted by hand): dropped as met.
    if (gone.length > 0) await this.#client.call(['ZREM', index, ...gone]);
    const listed: ListedSession[] = [];
    fileIds.forEach((fileId, i) => {
      const text = texts[i];
      const record = text === null || text === undefined ? null : readRecord(text);
      // The record is the truth: the index only says where to look.
      if (record?.user?.toLowerCase() !== username.toLowerCase() || expiryAt(record, now, this.#timeouts) !== null) return;
      listed.push({ fileId, record });
    });
    return listed.sort(byCreation);
  }

  /** #read is the stored text of a session, or null when there is none; a key of another type reads as unreadable text. */
  async #read(fileId: string): Promise<string | null> {
    try {
      return textOrNull(await this.#client.call(['GET', keys.session(fileId)]), 'GET');
    } catch (error) {
      if (error instanceof StoreError && error.cause instanceof RedisReplyError && error.cause.message.startsWith('WRONGTYPE')) return '';
      throw error;
    }
  }

  /** #write runs CREATE or UPDATE for `record`, with its TTL and deadline, and says whether it wrote. */
  async #write(script: Script, fileId: string, record: SessionRecord, leftover?: string | null): Promise<boolean> {
    const { idle, absolute } = expiryTimes(record, this.#timeouts);
    const deadline = Math.ceil(Math.min(idle, absolute));
    const ttl = Math.max(MIN_TTL_MS, deadline - Date.parse(record.lastSeenAt));
    const index = record.user === null ? [] : [keys.userSessions(record.user)];
    const args = [JSON.stringify(record), String(ttl), fileId, String(deadline)];
    if (leftover !== undefined && leftover !== null) args.push(leftover);
    const reply = await script.run(this.#client, [keys.session(fileId), ...index], args);
    return integer(reply, script.name) === 1;
  }

  async #destroy(fileId: string, user: string | null): Promise<void> {
    await DESTROY.run(this.#client, [keys.session(fileId), ...(user === null ? [] : [keys.userSessions(user)])], [fileId]);
  }
}

/** readRecord is the record in a stored text, or null when it is not one (readable JSON of the wrong shape, or too large to be ours). */
export function readRecord(text: string): SessionRecord | null {
  if (text.length > MAX_SESSION_FILE_BYTES || Buffer.byteLength(text) > MAX_SESSION_FILE_BYTES) return null;
  return parseRecord(text);
}
