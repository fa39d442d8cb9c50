import type { AccountStore, UserRecord } from './users.ts';

/**
 * MemoryAccountStore keeps the accounts in a Map of this process, by
 * lower-case name: lost at restart and seen by no other process, for
 * STORE=memory and for contrast with the users file. Accounts are kept as
 * JSON text, so no caller can change a stored account through an object
 * it was given.
 */
export class MemoryAccountStore implements AccountStore {
  #accounts = new Map<string, string>();

  async find(username: string): Promise<UserRecord | null> {
    const text = this.#accounts.get(username.toLowerCase());
    return text === undefined ? null : (JSON.parse(text) as UserRecord);
  }

  async add(user: UserRecord): Promise<boolean> {
    const key = user.username.toLowerCase();
    if (this.#accounts.has(key)) return false;
    this.#accounts.set(key, JSON.stringify(user));
    return true;
  }

  async update(username: string, change: (current: UserRecord) => UserRecord): Promise<UserRecord | null> {
    const key = username.toLowerCase();
    const text = this.#accounts.get(key);
    if (text === undefined) return null;
    // Nothing runs between this read and the write below (no await), so no change made meanwhile can be lost.
    const changed = change(JSON.parse(text) as UserRecord);
    this.#accounts.set(key, JSON.stringify(changed));
    return changed;
  }
}
