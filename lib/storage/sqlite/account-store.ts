import { userProblem } from '../../auth/users.ts';
import type { AccountStore, UserRecord } from '../../auth/users.ts';
import type { SqliteDatabase } from './database.ts';
import type { Row } from './driver.ts';

const FIND = 'SELECT username, display_name, created_at, generation, password FROM accounts WHERE username = ?';
/** ADD inserts unless the name is taken, in any case (the key is COLLATE NOCASE): the database picks the one winner of a race. */
const ADD = `INSERT INTO accounts (username, display_name, created_at, generation, password) VALUES (?, ?, ?, ?, ?)
  ON CONFLICT (username) DO NOTHING`;
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

  constructor(db: SqliteDatabase) {
    this.#db = db;
  }

  async find(username: string): Promise<UserRecord | null> {
    const row = await this.#db.attempt('find', () => this.#db.get(FIND, username));
    return row === undefined ? null : accountOf(row);
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
