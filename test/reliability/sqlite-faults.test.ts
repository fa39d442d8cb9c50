import assert from 'node:assert/strict';
import { chmod, open, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { newRecord } from '../../lib/sessions/record.ts';
import type { SessionRecord } from '../../lib/sessions/record.ts';
import { newSessionId } from '../../lib/sessions/session-id.ts';
import { StoreError } from '../../lib/sessions/store.ts';
import { SqliteDatabase, SqliteOpenError } from '../../lib/storage/sqlite/database.ts';
import { SqliteSessionStore } from '../../lib/storage/sqlite/session-store.ts';
import { openSqliteStorage } from '../../lib/storage/sqlite/storage.ts';
import { recordOf } from '../unit/session-store-contract.ts';
import { describeSqlite, killed, openTestStorage, rawConnection, SQLITE_TIMEOUTS, sqliteChild, sqliteFile } from '../support/sqlite.ts';

/** NOBODY: the unprivileged user a permissions test runs its child as when the tests run as root, whom chmod does not stop. */
const NOBODY = { uid: 65534, gid: 65534 };
/** A short wait for a locked database, so the tests that outlast it take a fraction of a second. */
const SHORT_WAIT_MS = 200;

function record(cart: string[] = ['apple']): SessionRecord {
  return newRecord(Date.now(), 'created as guest', { cart, theme: null });
}

/** storedSessions opens `file` and gives every session in it, as the terminal's `npm run sessions` would. */
async function storedSessions(t: TestContext, file: string) {
  const storage = await openTestStorage(t, {}, file);
  const all = [];
  for await (const stored of storage.all()) all.push(stored);
  return all;
}

/** refusal is the error SqliteOpenError gives for `file`, naming what is wrong. */
function refusal(file: string, problem: string): string {
  return `cannot use ${file} as the SQLite database: ${problem}`;
}

/** overwrite writes `length` bytes of garbage into `file` at `offset`. */
async function overwrite(file: string, offset: number, length: number): Promise<void> {
  const handle = await open(file, 'r+');
  await handle.write(Buffer.alloc(length, 'garbage!'), 0, length, offset);
  await handle.close();
}

describeSqlite('the SQLite storage under faults', () => {
  describe('a process killed with SIGKILL', () => {
    it('inside a transaction leaves none of it: the session it rewrote is as before, the one it added is not there', async (t) => {
      const file = await sqliteFile(t);
      const id = newSessionId();
      const storage = await openTestStorage(t, {}, file);
      await storage.sessions.create(id, record(['apple']));
      const writer = sqliteChild(t, ['crash-in-transaction', file, id]);
      assert.deepEqual(await writer.lines(1), ['inside']);
      await killed(writer.child);
      const after = await storedSessions(t, file);
      assert.deepEqual(
        after.map((stored) => stored.record?.data.cart),
        [['apple']],
      );
      assert.equal((await rawConnection(t, file)).prepare('PRAGMA integrity_check').get()?.integrity_check, 'ok');
    });

    it('while rewriting a 50 KB session leaves one whole record, however far it got (five kills at different moments)', async (t) => {
      const file = await sqliteFile(t);
      const id = newSessionId();
      await (await openTestStorage(t, {}, file)).sessions.create(id, record());
      for (const rounds of [1, 3, 7, 12, 20]) {
        const writer = sqliteChild(t, ['rewrite', file, id]);
        await writer.lines(rounds);
        await killed(writer.child);
        const [stored, ...others] = await storedSessions(t, file);
        assert.deepEqual(others, []);
        const cart = stored?.record?.data.cart ?? [];
        assert.equal(cart.length, 100, `a whole record after ${rounds} round(s)`);
        assert.equal(new Set(cart).size, 1, 'every item of one version');
      }
    });
  });

  describe('a database another process keeps locked', () => {
    it('answers writes with a 503 and Retry-After once the wait is over, serves reads meanwhile, and writes again once the lock goes', async (t) => {
      const file = await sqliteFile(t);
      const storage = await openTestStorage(t, { busyWaitMs: SHORT_WAIT_MS }, file);
      const id = newSessionId();
      await storage.sessions.create(id, record());
      const holder = sqliteChild(t, ['hold', file]);
      await holder.lines(1);
      let ticks = 0;
      const ticker = setInterval(() => (ticks += 1), 10);
      const started = Date.now();
      const error = await storage.sessions.create(newSessionId(), record()).catch((caught: unknown) => caught);
      clearInterval(ticker);
      assert.ok(error instanceof StoreError);
      assert.deepEqual([error.status, error.headers['Retry-After'], error.operation], [503, '5', 'create']);
      assert.ok(Date.now() - started >= SHORT_WAIT_MS);
      // The wait is spent between turns of the event loop, not inside SQLite: other requests are served meanwhile.
      assert.ok(ticks >= 3, `the event loop turned only ${ticks} times while the write waited`);
      assert.ok('record' in (await storage.sessions.get(id, Date.now())), 'readers do not wait for the writer (WAL)');
      await killed(holder.child);
      await storage.sessions.create(newSessionId(), record());
    });

    it('is refused at start-up with a clear error once the wait is over', async (t) => {
      const file = await sqliteFile(t);
      await (await openTestStorage(t, {}, file)).close();
      const holder = sqliteChild(t, ['hold', file]);
      await holder.lines(1);
      await assert.rejects(openSqliteStorage(file, { timeouts: SQLITE_TIMEOUTS, busyWaitMs: SHORT_WAIT_MS }), {
        name: 'SqliteOpenError',
        message: refusal(file, 'another process holds it locked'),
      });
    });
  });

  describe('a database that cannot be written is refused at start-up, with a clear error', () => {
    const cases = [
      { what: 'a read-only file', fileMode: 0o444, dirMode: 0o777 },
      { what: 'a file in a read-only directory', fileMode: 0o666, dirMode: 0o755 },
    ];
    for (const c of cases) {
      it(c.what, async (t) => {
        const file = await sqliteFile(t);
        await (await openTestStorage(t, {}, file)).close();
        await chmod(file, c.fileMode);
        await chmod(path.dirname(file), c.dirMode);
        // Root ignores file permissions, so as root the opener runs as nobody, who can reach the folder but not write it.
        const asRoot = process.getuid?.() === 0;
        if (asRoot) await chmod(path.dirname(path.dirname(file)), 0o755);
        const opener = sqliteChild(t, ['open', file], asRoot ? NOBODY : undefined);
        assert.deepEqual(await opener.lines(1), [
          refusal(file, 'it cannot be written (check the permissions of the file and of its directory)'),
        ]);
      });
    }
  });

  describe('a corrupt database', () => {
    it('of garbage bytes from the start is refused at start-up: not a SQLite database', async (t) => {
      const file = await sqliteFile(t);
      await (await openTestStorage(t, {}, file)).close();
      await overwrite(file, 0, 100);
      await assert.rejects(openSqliteStorage(file, { timeouts: SQLITE_TIMEOUTS }), (error: unknown) => {
        assert.ok(error instanceof SqliteOpenError);
        assert.equal(error.message, refusal(file, 'the file is not a SQLite database'));
        return true;
      });
    });

    it('with its schema page overwritten is refused at start-up: corrupt', async (t) => {
      const file = await sqliteFile(t);
      await (await openTestStorage(t, {}, file)).close();
      await overwrite(file, 100, 3000);
      await assert.rejects(openSqliteStorage(file, { timeouts: SQLITE_TIMEOUTS }), { message: refusal(file, 'the database is corrupt') });
    });

    it('with its table pages overwritten opens, and then answers each request with a 503 instead of crashing', async (t) => {
      const file = await sqliteFile(t);
      const ids = Array.from({ length: 200 }, () => newSessionId());
      const writer = await openTestStorage(t, {}, file);
      for (const id of ids) await writer.sessions.create(id, record());
      await writer.close();
      const pageSize = 4096;
      await overwrite(file, 2 * pageSize, (await stat(file)).size - 2 * pageSize);
      const storage = await openTestStorage(t, {}, file);
      for (const attempt of [
        () => storage.sessions.get(ids[7]!, Date.now()),
        () => storage.sessions.create(newSessionId(), record()),
        () => storage.sweep(Date.now()),
      ]) {
        await assert.rejects(attempt(), (error: unknown) => {
          assert.ok(error instanceof StoreError);
          assert.equal(error.status, 503);
          return true;
        });
      }
    });
  });

  it('on a full disk answers a write with a 503, stores nothing of it, and keeps every record stored before', async (t) => {
    const db = await SqliteDatabase.open(await sqliteFile(t));
    t.after(() => db.close());
    const sessions = new SqliteSessionStore(db, SQLITE_TIMEOUTS);
    // A database not allowed to grow by another page fails as a full disk does, with SQLITE_FULL.
    db.exec('PRAGMA max_page_count = ' + String(db.get('PRAGMA page_count')?.page_count));
    const stored: string[] = [];
    let error: unknown;
    while (error === undefined) {
      const id = newSessionId();
      error = await sessions.create(id, record([id.slice(0, 8)])).then(
        () => void stored.push(id),
        (caught: unknown) => caught,
      );
    }
    assert.ok(error instanceof StoreError);
    assert.deepEqual([error.status, error.operation], [503, 'create']);
    assert.match(String(error.cause), /full/);
    for (const id of stored) assert.deepEqual(recordOf(await sessions.get(id, Date.now()))?.data.cart, [id.slice(0, 8)]);
    assert.equal(db.get('SELECT count(*) AS n FROM sessions')?.n, stored.length);
  });

  it('lets two processes that start at once on a new file both open it (one makes the tables, the other waits and finds them)', async (t) => {
    const file = await sqliteFile(t);
    const [a, b] = [sqliteChild(t, ['open', file]), sqliteChild(t, ['open', file])];
    assert.deepEqual(await Promise.all([a.lines(1), b.lines(1)]), [['opened'], ['opened']]);
  });
});
