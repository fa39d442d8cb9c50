import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FAILURE_WINDOW_MS } from '../../lib/auth/throttle.ts';
import { newRecord } from '../../lib/sessions/record.ts';
import type { SessionRecord } from '../../lib/sessions/record.ts';
import { newSessionId, storageKey } from '../../lib/sessions/session-id.ts';
import { ENDING_NOTE_KEEP_MS } from '../../lib/storage/sqlite/sweep.ts';
import type { StoredSession } from '../../lib/storage/storage.ts';
import { withStorageTrace } from '../../lib/storage/trace.ts';
import { T0 } from '../support/clock.ts';
import { describeSqlite, openTestStorage, rawConnection, SQLITE_TIMEOUTS, sqliteFile } from '../support/sqlite.ts';
import { recordOf } from './session-store-contract.ts';

const MINUTE = 60_000;

function guestRecord(cart: string[] = ['apple']): SessionRecord {
  return newRecord(T0, 'created as guest', { cart, theme: null });
}

function userRecord(user: string): SessionRecord {
  return { ...guestRecord(), user, generation: 0 };
}

/** traced runs `task` and returns the storage trace lines it caused, as the explain log would show them. */
async function traced(task: () => Promise<unknown>): Promise<string[]> {
  const lines: string[] = [];
  await withStorageTrace((line) => lines.push(line), task);
  return lines;
}

describeSqlite('the sessions table', () => {
  it('holds a session as one row: file id, username, the earlier deadline, and the record as JSON, never the ID', async (t) => {
    const file = await sqliteFile(t);
    const { sessions } = await openTestStorage(t, {}, file);
    const id = newSessionId();
    await sessions.create(id, userRecord('Alice'));
    const rows = (await rawConnection(t, file)).prepare('SELECT * FROM sessions').all();
    assert.deepEqual(
      rows.map((row) => ({ ...row })),
      [
        {
          file_id: storageKey(id),
          username: 'Alice',
          expires_at: T0 + SQLITE_TIMEOUTS.idleMs,
          record: JSON.stringify(userRecord('Alice')),
        },
      ],
    );
    assert.ok(!JSON.stringify(rows).includes(id));
  });

  it('moves expires_at with each update, to the earlier of the idle and the absolute deadline', async (t) => {
    const file = await sqliteFile(t);
    const { sessions } = await openTestStorage(t, {}, file);
    const id = newSessionId();
    await sessions.create(id, guestRecord());
    const expiresAt = (): unknown => rawConnection(t, file).then((raw) => raw.prepare('SELECT expires_at FROM sessions').get()?.expires_at);
    await sessions.update(id, { ...guestRecord(), lastSeenAt: new Date(T0 + 60 * MINUTE).toISOString() });
    assert.equal(await expiresAt(), T0 + 60 * MINUTE + SQLITE_TIMEOUTS.idleMs);
    await sessions.update(id, { ...guestRecord(), lastSeenAt: new Date(T0 + SQLITE_TIMEOUTS.absoluteMs - MINUTE).toISOString() });
    assert.equal(await expiresAt(), T0 + SQLITE_TIMEOUTS.absoluteMs);
  });

  it('never creates over a live row: create throws and the stored record stays', async (t) => {
    const { sessions } = await openTestStorage(t);
    const id = newSessionId();
    await sessions.create(id, guestRecord(['apple']));
    await assert.rejects(sessions.create(id, guestRecord(['pear'])), /a live session is already stored under this ID/);
    assert.deepEqual(recordOf(await sessions.get(id, T0))?.data.cart, ['apple']);
  });

  it('creates over the row of a session that was over by the time the new record was made', async (t) => {
    const { sessions } = await openTestStorage(t);
    const id = newSessionId();
    await sessions.create(id, guestRecord(['apple']));
    const later = new Date(T0 + SQLITE_TIMEOUTS.idleMs).toISOString();
    await sessions.create(id, { ...guestRecord(['pear']), createdAt: later, lastSeenAt: later });
    assert.deepEqual(recordOf(await sessions.get(id, T0 + SQLITE_TIMEOUTS.idleMs))?.data.cart, ['pear']);
  });

  it('misses a row edited by hand into something that is not a session record as unreadable', async (t) => {
    const file = await sqliteFile(t);
    const { sessions } = await openTestStorage(t, {}, file);
    const id = newSessionId();
    await sessions.create(id, guestRecord());
    (await rawConnection(t, file)).exec(`UPDATE sessions SET record = '{"version":1,"user":"admin"}'`);
    assert.deepEqual(await sessions.get(id, T0), { miss: 'unreadable' });
  });

  it('tells the inspector the row where a session lives, and that SQLite keeps no time to live of its own', async (t) => {
    const storage = await openTestStorage(t);
    const fileId = storageKey(newSessionId());
    assert.deepEqual(await storage.view(fileId), { where: `sqlite row sessions.file_id = '${fileId}'`, ttlMs: null });
  });

  it('walks every row with all(), unreadable ones too, page by page, changing nothing', async (t) => {
    const file = await sqliteFile(t);
    const storage = await openTestStorage(t, { sweepBatch: 2 }, file);
    const ids = Array.from({ length: 5 }, () => newSessionId());
    for (const id of ids) await storage.sessions.create(id, guestRecord());
    (await rawConnection(t, file)).prepare('UPDATE sessions SET record = ? WHERE file_id = ?').run('garbage', storageKey(ids[0]!));
    const seen: StoredSession[] = [];
    const lines = await traced(async () => {
      for await (const stored of storage.all()) seen.push(stored);
    });
    assert.deepEqual(seen.map((stored) => stored.fileId).sort(), ids.map(storageKey).sort());
    const unreadable = seen.find((stored) => stored.fileId === storageKey(ids[0]!));
    assert.deepEqual(unreadable, { fileId: storageKey(ids[0]!), bytes: 'garbage'.length, record: null });
    assert.equal(seen.filter((stored) => stored.bytes === JSON.stringify(guestRecord()).length).length, 4);
    assert.equal(lines.length, 3, 'five rows in pages of two');
    assert.equal((await storage.sweep(T0)).live, 5);
  });

  describe('the sweep', () => {
    it('deletes every expired row and only those, in several statements of at most one batch each', async (t) => {
      const storage = await openTestStorage(t, { sweepBatch: 10 });
      const expired = Array.from({ length: 25 }, () => newSessionId());
      const live = Array.from({ length: 3 }, () => newSessionId());
      for (const id of expired) await storage.sessions.create(id, guestRecord());
      for (const id of live) await storage.sessions.create(id, { ...guestRecord(), lastSeenAt: new Date(T0 + 20 * MINUTE).toISOString() });
      let report;
      const lines = await traced(async () => {
        report = await storage.sweep(T0 + SQLITE_TIMEOUTS.idleMs);
      });
      assert.deepEqual(report, { live: 3, expired: 25, leftovers: 0, failed: 0 });
      assert.equal(lines.filter((line) => line.startsWith('sqlite: DELETE FROM sessions')).length, 3, '25 rows in batches of 10');
      for (const id of live) assert.ok('record' in (await storage.sessions.get(id, T0 + SQLITE_TIMEOUTS.idleMs)));
      for (const id of expired) assert.deepEqual(await storage.sessions.get(id, T0), { miss: 'not-found' });
    });

    it('deletes counted events older than the longest window, locks whose lease ran out and ending notes older than a day', async (t) => {
      const file = await sqliteFile(t);
      const storage = await openTestStorage(t, { counterRetainMs: FAILURE_WINDOW_MS }, file);
      const now = T0 + ENDING_NOTE_KEEP_MS;
      await storage.counters.hit('account:old', 5, FAILURE_WINDOW_MS, now - FAILURE_WINDOW_MS);
      await storage.counters.hit('account:recent', 5, FAILURE_WINDOW_MS, now - FAILURE_WINDOW_MS + 1);
      const raw = await rawConnection(t, file);
      const lock = raw.prepare('INSERT INTO locks (key, token, expires_at) VALUES (?, ?, ?)');
      lock.run('dead', 'a', now);
      lock.run('held', 'b', now + 1);
      const note = raw.prepare('INSERT INTO ending_notes (file_id, ending, at) VALUES (?, ?, ?)');
      note.run(storageKey(newSessionId()), 'revoked', T0);
      note.run(storageKey(newSessionId()), 'revoked', T0 + 1);
      assert.deepEqual(await storage.sweep(now), { live: 0, expired: 0, leftovers: 3, failed: 0 });
      assert.equal(raw.prepare('SELECT count(*) AS n FROM counters').get()?.n, 1);
      assert.deepEqual(
        raw
          .prepare('SELECT key FROM locks')
          .all()
          .map((row) => row.key),
        ['held'],
      );
      assert.deepEqual(
        raw
          .prepare('SELECT at FROM ending_notes')
          .all()
          .map((row) => row.at),
        [T0 + 1],
      );
    });
  });

  it('answers every statement the storage runs through an index, never by reading a whole table but the locks', async (t) => {
    const file = await sqliteFile(t);
    const storage = await openTestStorage(t, {}, file);
    const id = newSessionId();
    const lines = await traced(async () => {
      await storage.sessions.create(id, userRecord('alice'));
      await storage.sessions.get(id, T0);
      await storage.sessions.update(id, userRecord('alice'));
      await storage.sessions.listByUser('alice', T0);
      await storage.sessions.get(id, T0 + SQLITE_TIMEOUTS.absoluteMs);
      await storage.sessions.destroyByFileId(storageKey(id));
      await storage.accounts.add({
        username: 'alice',
        displayName: 'Alice',
        createdAt: new Date(T0).toISOString(),
        generation: 0,
        password: { algorithm: 'scrypt', N: 1024, r: 8, p: 1, salt: 'c2FsdA==', hash: 'aGFzaA==' },
      });
      await storage.accounts.update('alice', (current) => ({ ...current, generation: 1 }));
      await storage.counters.hit('account:alice', 1, FAILURE_WINDOW_MS, T0);
      await storage.counters.hit('account:alice', 1, FAILURE_WINDOW_MS, T0);
      await storage.counters.forget('account:alice', T0);
      await storage.counters.forget('account:alice');
      await storage.sessionLocks.run('key', async () => undefined);
      await storage.sweep(T0);
      for await (const stored of storage.all()) assert.ok(stored);
    });
    const statements = new Set(lines.map((line) => line.slice('sqlite: '.length)).filter((sql) => !/^(BEGIN|COMMIT|ROLLBACK)/.test(sql)));
    assert.ok(statements.size >= 20, `only ${statements.size} statements traced`);
    const raw = await rawConnection(t, file);
    for (const sql of statements) {
      const plan = raw
        .prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .all()
        .map((row) => String(row.detail));
      // The locks table holds a row only for a session being written this very moment: reading it whole is cheaper than an index.
      assert.deepEqual(
        plan.filter((step) => step.startsWith('SCAN') && step !== 'SCAN locks'),
        [],
        `${sql}\n  is planned as ${plan.join('; ')}`,
      );
    }
  });
});
