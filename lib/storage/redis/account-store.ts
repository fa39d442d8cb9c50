import { userProblem } from '../../auth/users.ts';
import type { AccountStore, UserRecord } from '../../auth/users.ts';
import { KeyedLock } from '../../sessions/lock.ts';
import { StoreError } from '../../sessions/store.ts';
import type { RedisClient } from './client.ts';
import { keys } from './keys.ts';
import { integer, textOrNull } from './replies.ts';
import { Script } from './script.ts';

/**
 * COMPARE_AND_SET writes an account only if it still holds exactly what
 * the writer read: the check and the write are one step, so a change
 * made by another process in between is never overwritten.
 *   KEYS: the account   ARGV: the JSON read, the JSON to write
 */
const COMPARE_AND_SET = new Script(
  'compare-and-set-account',
  `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1`,
);

/** MAX_UPDATE_TRIES: an update that keeps meeting other writers gives up after this many tries, with a 503. */
export const MAX_UPDATE_TRIES = 16;

/**
 * RedisAccountStore keeps each account as one string key named by the
 * lower-cased username (`cloakroom:account:alice`), holding its JSON, with
 * no TTL. Registration is `SET … NX`: of two at the same moment, Redis lets
 * exactly one create the key. An update is a function of the stored
 * account, which Redis cannot run, so it is optimistic: read, apply the
 * function here, and write with COMPARE_AND_SET; if another writer came
 * in between, read again and retry. Within one process the updates of an
 * account queue first (a KeyedLock), so only other hosts ever make one retry.
 */
export class RedisAccountStore implements AccountStore {
  #client: RedisClient;
  #local = new KeyedLock();

  constructor(client: RedisClient) {
    this.#client = client;
  }

  async find(username: string): Promise<UserRecord | null> {
    const text = await this.#read(username);
    return text === null ? null : parseAccount(text);
  }

  async add(user: UserRecord): Promise<boolean> {
    return (await this.#client.call(['SET', keys.account(user.username), JSON.stringify(user), 'NX'])) === 'OK';
  }

  async update(username: string, change: (current: UserRecord) => UserRecord): Promise<UserRecord | null> {
    return this.#local.run(username.toLowerCase(), () => this.#update(username, change));
  }

  async #update(username: string, change: (current: UserRecord) => UserRecord): Promise<UserRecord | null> {
    for (let tries = 0; tries < MAX_UPDATE_TRIES; tries++) {
      const text = await this.#read(username);
      if (text === null) return null;
      const changed = change(parseAccount(text));
      const written = await COMPARE_AND_SET.run(this.#client, [keys.account(username)], [text, JSON.stringify(changed)]);
      if (integer(written, COMPARE_AND_SET.name) === 1) return changed;
    }
    throw new StoreError('accounts', new Error(`account changed by others ${MAX_UPDATE_TRIES} times during one update`));
  }

  async #read(username: string): Promise<string | null> {
    return textOrNull(await this.#client.call(['GET', keys.account(username)]), 'GET');
  }
}

/** parseAccount checks a stored account field by field, as the users file is checked; one that fails is a broken store, not "no account". */
function parseAccount(text: string): UserRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  const problem = userProblem(value);
  if (problem !== null) throw new StoreError('accounts', new Error(`a stored account is not valid: ${problem}`));
  return value as UserRecord;
}
