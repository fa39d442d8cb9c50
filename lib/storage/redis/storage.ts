import type { Timeouts } from '../../sessions/record.ts';
import type { Storage, StoredSession, StoredView, SweepReport } from '../storage.ts';
import { RedisAccountStore } from './account-store.ts';
import { parseRedisAddress } from './address.ts';
import { RedisClient } from './client.ts';
import type { RedisClientOptions } from './client.ts';
import { RedisCounterStore } from './counter-store.ts';
import { RedisEndingNotes } from './ending-notes.ts';
import { fileIdOf, keys, SESSION_KEYS, USER_SESSIONS_KEYS } from './keys.ts';
import { RedisLock } from './lock.ts';
import { integer, list, scanPage } from './replies.ts';
import { readRecord, RedisSessionStore } from './session-store.ts';

/** SCAN_COUNT is how many keys one SCAN call looks at: large enough for few round trips, small enough never to hold Redis up. */
const SCAN_COUNT = 1000;

export interface RedisStorageOptions extends RedisClientOptions {
  timeouts: Timeouts;
}

/**
 * openRedisStorage connects to the Redis at `url` (`redis://[user:password@]host:port[/db]`
 * or `rediss://…`) and checks it, so a wrong address, password or db stops
 * start-up: it rejects with an Error naming the address and the problem.
 */
export async function openRedisStorage(url: string, options: RedisStorageOptions): Promise<RedisStorage> {
  const client = await RedisClient.open(parseRedisAddress(url), options);
  return new RedisStorage(client, options);
}

/**
 * RedisStorage is everything Cloakroom shares, in one Redis: every host
 * that reaches it serves the same sessions, accounts, counts and locks.
 * Redis expires sessions by their TTL, so no sweeper deletes anything
 * here: a sweep only counts the sessions and trims the per-user indexes.
 */
export class RedisStorage implements Storage {
  readonly kind = 'redis';
  readonly sessions: RedisSessionStore;
  readonly accounts: RedisAccountStore;
  readonly counters: RedisCounterStore;
  readonly sessionLocks: RedisLock;
  /** endings keeps why a session was ended from elsewhere, for a day. */
  readonly endings: RedisEndingNotes;
  #client: RedisClient;

  constructor(client: RedisClient, options: RedisStorageOptions) {
    this.#client = client;
    this.sessions = new RedisSessionStore(client, options.timeouts);
    this.accounts = new RedisAccountStore(client);
    this.counters = new RedisCounterStore(client);
    this.sessionLocks = new RedisLock(client);
    this.endings = new RedisEndingNotes(client);
  }

  readonly writeMethod = 'one Lua script: SET with NX or XX, PX to the deadline, and the user index';

  where(fileId: string, shownLength?: number): string {
    return `redis key ${keys.session(shownLength === undefined ? fileId : `${fileId.slice(0, shownLength)}…`)}`;
  }

  async view(fileId: string): Promise<StoredView> {
    // PTTL answers -2 for no such key and -1 for a key without a TTL.
    const ttl = integer(await this.#client.call(['PTTL', keys.session(fileId)]), 'PTTL');
    return { where: this.where(fileId), ttlMs: ttl >= 0 ? ttl : null };
  }

  async *all(): AsyncIterable<StoredSession> {
    for await (const page of this.#scan(SESSION_KEYS)) {
      const texts = list(await this.#client.call(['MGET', ...page]), 'MGET');
      for (const [i, key] of page.entries()) {
        const text = texts[i];
        // Expired or deleted since SCAN saw it.
        if (text === null || text === undefined) continue;
        yield { fileId: fileIdOf(key), bytes: Buffer.byteLength(text), record: readRecord(text) };
      }
    }
  }

  async sweep(now: number): Promise<SweepReport> {
    let live = 0;
    for await (const page of this.#scan(SESSION_KEYS)) live += page.length;
    let leftovers = 0;
    for await (const page of this.#scan(USER_SESSIONS_KEYS)) {
      // Index entries past their deadline, whose sessions Redis has expired: a list would drop them too, as it met them.
      const removed = await Promise.all(page.map((index) => this.#client.call(['ZREMRANGEBYSCORE', index, '-inf', String(now)])));
      leftovers += removed.reduce<number>((sum, reply) => sum + integer(reply, 'ZREMRANGEBYSCORE'), 0);
    }
    return { live, expired: 0, leftovers, failed: 0 };
  }

  async close(): Promise<void> {
    await this.#client.close();
  }

  /** #scan walks the keys matching `pattern` a page at a time, with SCAN, which never blocks Redis the way KEYS does. */
  async *#scan(pattern: string): AsyncIterable<string[]> {
    let cursor = '0';
    do {
      const page = scanPage(await this.#client.call(['SCAN', cursor, 'MATCH', pattern, 'COUNT', String(SCAN_COUNT)]));
      cursor = page.cursor;
      if (page.keys.length > 0) yield page.keys;
    } while (cursor !== '0');
  }
}
