/**
 * Another process on a SQLite database, for tests that need one: run as
 * `node --import tsx test/support/sqlite-child.ts COMMAND FILE [ARG]` with
 * the Node under test (test/support/sqlite.ts `sqliteChild`). It prints a
 * line when it has done what the test waits for, and then stays, unless
 * told to exit.
 *
 *   hold FILE               take the write lock (BEGIN IMMEDIATE) and keep it
 *   open FILE               open the storage, print "opened" or the error's message, exit
 *   crash-in-transaction FILE ID
 *                           in one transaction, rewrite the session ID and add another,
 *                           then stop dead before COMMIT (the test kills it there)
 *   rewrite FILE ID         update the session ID again and again, each time with a
 *                           whole new record of some 50 KB, printing a line after each
 *                           (the test kills it meanwhile)
 */
import { newRecord } from '../../lib/sessions/record.ts';
import type { SessionRecord } from '../../lib/sessions/record.ts';
import { newSessionId, storageKey } from '../../lib/sessions/session-id.ts';
import { SqliteDatabase } from '../../lib/storage/sqlite/database.ts';
import { loadSqlite } from '../../lib/storage/sqlite/driver.ts';
import { openSqliteStorage } from '../../lib/storage/sqlite/storage.ts';

/** The timeouts the child opens the storage with: long enough that nothing expires while a test runs. */
const TIMEOUTS = { idleMs: 3_600_000, absoluteMs: 3_600_000 };
/** A cart of 100 items of 64 characters, in several rounds of events: about 50 KB of JSON. */
const BIG_CART_ITEMS = 100;
const CART_ITEM_LENGTH = 64;

/** bigRecord is a whole record whose every cart item is `letter` repeated, so a torn one would show. */
function bigRecord(letter: string, now = Date.now()): SessionRecord {
  return newRecord(now, 'rewritten', {
    cart: Array.from({ length: BIG_CART_ITEMS }, () => letter.repeat(CART_ITEM_LENGTH)),
    theme: 'dark',
  });
}

/** stopDead blocks this thread for ever, inside whatever it is doing: only a signal ends it. */
function stopDead(): never {
  for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
}

async function main(command: string | undefined, file: string | undefined, arg: string | undefined): Promise<void> {
  if (file === undefined) throw new Error('usage: sqlite-child.ts COMMAND FILE [ARG]');
  if (command === 'hold') {
    const connection = new (await loadSqlite()).DatabaseSync(file);
    connection.exec('BEGIN IMMEDIATE');
    console.log('holding');
    // The timer keeps the connection referenced: collected, it would be closed, and the lock with it.
    setInterval(() => connection.exec('SELECT 1'), 60_000);
  } else if (command === 'open') {
    const storage = await openSqliteStorage(file, { timeouts: TIMEOUTS }).catch((error: unknown) => error);
    console.log(storage instanceof Error ? storage.message : 'opened');
    process.exit(0);
  } else if (command === 'crash-in-transaction' && arg !== undefined) {
    const db = await SqliteDatabase.open(file);
    db.inTransaction(() => {
      db.run('UPDATE sessions SET record = ? WHERE file_id = ?', JSON.stringify(bigRecord('x')), storageKey(arg));
      db.run(
        'INSERT INTO sessions (file_id, username, expires_at, record) VALUES (?, NULL, ?, ?)',
        storageKey(newSessionId()),
        Date.now() + 1,
        '{}',
      );
      console.log('inside');
      stopDead();
    });
  } else if (command === 'rewrite' && arg !== undefined) {
    const storage = await openSqliteStorage(file, { timeouts: TIMEOUTS });
    for (let round = 0; ; round += 1) {
      await storage.sessions.update(arg, bigRecord(round % 2 === 0 ? 'a' : 'b'));
      console.log(`wrote ${round}`);
    }
  } else {
    throw new Error(`unknown command ${command}`);
  }
}

await main(process.argv[2], process.argv[3], process.argv[4]);
