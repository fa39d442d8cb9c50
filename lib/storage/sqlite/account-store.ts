import { userProblem } from '../../auth/users.ts';
import type { AccountStore, UserRecord } from '../../auth/users.ts';
import { remember } from '../../bounded-map.ts';
import type { SqliteDatabase } from './database.ts';
import type { Row } from './driver.ts';

const FIND = 'SELECT username, display_name, created_at, generation, password FROM accounts WHERE username = ?';
/** ADD inserts unless the name is taken, in any case (the key is COLLATE NOCASE): the database picks the one winner of a race. */
const ADD = `INSERT INTO accounts (username, display_name, created_at, generation, password) VALUES (?, ?, ?, ?, ?)
  ON CONFLICT (username) DO NOTHING`;
/** RECENT_ACCOUNTS bounds the accounts remembered as last read, with what they were read from. */
const RECENT_ACCOUNTS = 2_000;

const SAVE = 'UPDATE accounts SET username = ?, display_name = ?, created_at = ?, generation = ?, password = ? WHERE username = ?';

/**
 * SqliteAccountStore keeps one row per account in the `accounts` table.
 * Every process reads the table itself, so a registration or a password
 * change made by any of them is seen by all at their next request.
 *
 * add is one statement, atomic on its own. update is a read-modify-write,
 * so it runs in a transaction that takes the write lock before it reads
 * (BEGIN IMMEDIATE): no other process can change the account between the
 * read and the write, and no change is lost.
 */
export class SqliteAccountStore implements AccountStore {
  #db: SqliteDatabase;
  /**
   * #recent keeps, per account, the row it was last read from and the
   * account checked out of it: a signed-in request reads the row every
   * time, and only a row that differs is parsed and checked again.
   */
  #recent = new Map<string, { row: Row; account: UserRecord }>();

  constructor(db: SqliteDatabase) {
    this.#db = db;
  }

  async find(username: string): Promise<UserRecord | null> {
    const row = await this.#db.attempt('find', () => this.#db.get(FIND, username));
    return row === undefined ? null : this.#accountOf(row);
  }

  async add(user: UserRecord): Promise<boolean> {
    const changes = await this.#db.attempt('register', () =>
      this.#db.run(ADD, user.username, user.displayName, user.createdAt, user.generation, JSON.stringify(user.password)),
    );
    return changes === 1;
  }

  async update(username: string, change: (current: UserRecord) => UserRecord): Promise<UserRecord | null> {
    return this.#db.transaction('account update', () => {
      const row = this.#db.get(FIND, username);
      if (row === undefined) return null;
      const changed = change(accountOf(row));
      const { displayName, createdAt, generation, password } = changed;
      this.#db.run(SAVE, changed.username, displayName, createdAt, generation, JSON.stringify(password), username);
      return changed;
    });
  }

  /** #accountOf is accountOf(row), from #recent when the row is the one it was last read from. */
  #accountOf(row: Row): UserRecord {
    const key = String(row.username);
    const recent = this.#recent.get(key);
    if (recent !== undefined && isSameRow(recent.row, row)) return recent.account;
    const account = accountOf(row);
    remember(this.#recent, key, { row, account }, RECENT_ACCOUNTS);
    return account;
  }
}

/** isSameRow: every column of FIND holds the same value in both rows. */
function isSameRow(a: Row, b: Row): boolean {
  return (
    a.username === b.username &&
    a.display_name === b.display_name &&
    a.created_at === b.created_at &&
    a.generation === b.generation &&
    a.password === b.password
  );
}

/**
 * accountOf reads an account out of its row, checking every field as the
 * users file is checked: the database is data on disk, perhaps edited by
 * hand, and a bad field must not surface later in the middle of a sign-in.
 */
function accountOf(row: Row): UserRecord {
  let password: unknown;
  try {
    password = JSON.parse(String(row.password));
  } catch {
    password = undefined;
  }
  const account = {
    username: row.username,
    displayName: row.display_name,
    createdAt: row.created_at,
    generation: row.generation,
    password,
  };
  const problem = userProblem(account);
  if (problem !== null) throw new Error(`the accounts row of ${String(row.username)} is not a valid account: ${problem}`);
  return account as UserRecord;
}
