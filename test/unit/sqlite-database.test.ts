import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { it } from 'node:test';
import type { TestContext } from 'node:test';
import { newRecord } from '../../lib/sessions/record.ts';
import { newSessionId, storageKey } from '../../lib/sessions/session-id.ts';
import { StoreError } from '../../lib/sessions/store.ts';
import { SqliteDatabase } from '../../lib/storage/sqlite/database.ts';
import { RowStatement } from '../../lib/storage/sqlite/driver.ts';
import type { Statement } from '../../lib/storage/sqlite/driver.ts';
import type { SqliteDatabaseOptions } from '../../lib/storage/sqlite/database.ts';
import { APPLICATION_ID, SCHEMA_VERSION } from '../../lib/storage/sqlite/schema.ts';
import { openSqliteStorage } from '../../lib/storage/sqlite/storage.ts';
import { withStorageTrace } from '../../lib/storage/trace.ts';
import { T0 } from '../support/clock.ts';
import { describeSqlite, openTestStorage, rawConnection, SQLITE_TIMEOUTS, sqliteFile } from '../support/sqlite.ts';

const FILE_MODE_BITS = 0o777;

/** openDatabase opens `file` as the storage does, closed when `t` ends. */
async function openDatabase(t: TestContext, file: string, options: SqliteDatabaseOptions = {}): Promise<SqliteDatabase> {
  const db = await SqliteDatabase.open(file, options);
  t.after(() => db.close());
  return db;
}

describeSqlite('the SQLite database file', () => {
  it('is made on first start: 0600 in a directory made 0700, in WAL mode, marked as Cloakroom’s, at the schema version', async (t) => {
    const file = await sqliteFile(t);
    await openTestStorage(t, {}, file);
    assert.equal((await stat(file)).mode & FILE_MODE_BITS, 0o600);
    assert.equal((await stat(path.dirname(file))).mode & FILE_MODE_BITS, 0o700);
    const raw = await rawConnection(t, file);
    const pragma = (name: string): unknown => raw.prepare(`PRAGMA ${name}`).get()?.[name];
    assert.deepEqual([pragma('journal_mode'), pragma('application_id'), pragma('user_version')], ['wal', APPLICATION_ID, SCHEMA_VERSION]);
    const tables = raw.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").all();
    assert.deepEqual(
      tables.map((row) => row.name),
      ['accounts', 'counters', 'ending_notes', 'locks', 'sessions'],
    );
  });

  it('keeps its rows when opened again, and migrates nothing twice', async (t) => {
    const file = await sqliteFile(t);
    const first = await openTestStorage(t, {}, file);
    const id = newSessionId();
    await first.sessions.create(id, newRecord(T0, 'created as guest'));
    await first.close();
    const again = await openTestStorage(t, {}, file);
    assert.deepEqual(await again.sessions.get(id, T0), { record: newRecord(T0, 'created as guest') });
  });

  it('refuses a database made by a newer Cloakroom, naming both schema versions, and changes nothing in it', async (t) => {
    const file = await sqliteFile(t);
    await (await openTestStorage(t, {}, file)).close();
    (await rawConnection(t, file)).exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    const before = await readFile(file);
    await assert.rejects(openSqliteStorage(file, { timeouts: SQLITE_TIMEOUTS }), {
      name: 'SqliteOpenError',
      message: `cannot use ${file} as the SQLite database: its schema version is ${SCHEMA_VERSION + 1}, made by a newer Cloakroom; this one knows versions up to ${SCHEMA_VERSION}`,
    });
    assert.deepEqual(await readFile(file), before);
  });

  it("refuses another program's database and adds no table to it", async (t) => {
    const file = await sqliteFile(t);
    await openTestStorage(t, {}, path.join(path.dirname(file), 'made-first.db'));
    const raw = await rawConnection(t, file);
    raw.exec('CREATE TABLE notes (body TEXT)');
    await assert.rejects(openSqliteStorage(file, { timeouts: SQLITE_TIMEOUTS }), {
      message: `cannot use ${file} as the SQLite database: it is a SQLite database of another program, not of Cloakroom`,
    });
    assert.deepEqual(
      raw
        .prepare('SELECT name FROM sqlite_schema')
        .all()
        .map((row) => row.name),
      ['notes'],
    );
  });

  it('tries a statement again, between turns of the event loop, while another connection holds the write lock', async (t) => {
    const file = await sqliteFile(t);
    await openTestStorage(t, {}, file);
    const other = await rawConnection(t, file);
    other.exec('BEGIN IMMEDIATE');
    let waits = 0;
    const db = await openDatabase(t, file, {
      wait: async () => {
        waits += 1;
        // The other connection commits while this one waits.
        if (waits === 2) other.exec('COMMIT');
      },
    });
    const changes = await db.attempt('create', () => db.run('INSERT INTO locks (key, token, expires_at) VALUES (?, ?, ?)', 'k', 't', 0));
    assert.deepEqual([changes, waits], [1, 2]);
  });

  it('passes on a mistake in a statement as it is: a bug is not a failing storage, and gets no 503', async (t) => {
    const db = await openDatabase(t, await sqliteFile(t));
    await assert.rejects(
      db.attempt('read', () => db.get('SELECT body FROM nowhere')),
      (error: unknown) => !(error instanceof StoreError) && String(error).includes('no such table'),
    );
  });

  it('traces the SQL of each statement into the explain log, with placeholders and never a value', async (t) => {
    const storage = await openTestStorage(t);
    const id = newSessionId();
    const record = { ...newRecord(T0, 'created as guest', { cart: ['secret-item'], theme: null }), user: 'alice', generation: 0 };
    const lines: string[] = [];
    await withStorageTrace(
      (line) => lines.push(line),
      async () => {
        await storage.sessions.create(id, record);
        await storage.sessions.get(id, T0);
        await storage.sessions.listByUser('alice', T0);
        await storage.sessions.destroy(id);
      },
    );
    assert.deepEqual(lines, [
      'sqlite: INSERT INTO sessions (file_id, username, expires_at, record) VALUES (?, ?, ?, ?) ON CONFLICT (file_id) DO UPDATE SET username = excluded.username, expires_at = excluded.expires_at, record = excluded.record WHERE sessions.expires_at <= ?',
      'sqlite: SELECT record FROM sessions WHERE file_id = ?',
      'sqlite: SELECT file_id, record FROM sessions WHERE username = ? AND expires_at > ?',
      'sqlite: DELETE FROM sessions WHERE file_id = ?',
    ]);
    for (const secret of [id, storageKey(id), 'alice', 'secret-item', String(T0)]) assert.ok(!lines.join('\n').includes(secret));
  });

  it('reads rows as arrays where node:sqlite can, and gives the same named rows as its own row objects', async (t) => {
    const raw = await rawConnection(t, ':memory:');
    raw.exec("CREATE TABLE fruit (name TEXT, weight INTEGER); INSERT INTO fruit VALUES ('pear', 180), ('fig', NULL)");
    const sql = 'SELECT name, weight FROM fruit ORDER BY name';
    const statement = raw.prepare(sql);
    const rows = new RowStatement(statement);
    const expected = [
      { name: 'fig', weight: null },
      { name: 'pear', weight: 180 },
    ];
    assert.deepEqual(rows.all(), expected);
    assert.deepEqual(rows.get(), expected[0]);
    // The statement itself now answers with arrays: the row objects are made in JavaScript, not by node:sqlite.
    assert.deepEqual(statement.get(), ['fig', null]);
    // A Node older than setReturnArrays (22.13 to 22.15) has only run, get and all: its rows pass through as they are.
    const older = raw.prepare(sql);
    const plain: Statement = {
      run: (...params) => older.run(...params),
      get: (...params) => older.get(...params),
      all: (...params) => older.all(...params),
    };
    assert.deepEqual(
      new RowStatement(plain).all().map((row) => ({ ...row })),
      expected,
    );
    assert.equal(new RowStatement(raw.prepare("INSERT INTO fruit VALUES ('kiwi', 75)")).run(), 1);
  });
});
