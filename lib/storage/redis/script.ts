import { createHash } from 'node:crypto';
import { StoreError } from '../../sessions/store.ts';
import type { RedisClient } from './client.ts';
import { RedisReplyError } from './client.ts';
import { describeCommand } from './explain.ts';
import type { RespValue } from './resp.ts';

/**
 * Script is a Lua script that Redis runs as one step: no other command of
 * any client runs between its first line and its last, which is what makes
 * "check, then write" atomic without a lock (docs/redis.md lists each).
 *
 * It is sent by its SHA-1 (EVALSHA), so the body crosses the wire once.
 * Redis forgets scripts when it restarts (or on SCRIPT FLUSH): it then
 * answers NOSCRIPT, and the script is sent whole with EVAL, which also
 * caches it again.
 */
export class Script {
  readonly name: string;
  readonly #source: string;
  readonly #sha: string;

  constructor(name: string, source: string) {
    this.name = name;
    this.#source = source;
    this.#sha = createHash('sha1').update(source).digest('hex');
  }

  /** run runs the script on `client` with `keys` (KEYS[1…]) and `args` (ARGV[1…]). */
  async run(client: RedisClient, keys: readonly string[], args: readonly string[]): Promise<RespValue> {
    const tail = [String(keys.length), ...keys, ...args];
    // The log shows the script's name, which says more than its SHA-1.
    const trace = describeCommand(['EVALSHA', ...tail]).replace('EVALSHA', `EVALSHA ${this.name}`);
    try {
      return await client.call(['EVALSHA', this.#sha, ...tail], trace);
    } catch (error) {
      if (!isNoScript(error)) throw error;
      return client.call(['EVAL', this.#source, ...tail], trace.replace('EVALSHA', 'EVAL'));
    }
  }
}

function isNoScript(error: unknown): boolean {
  return error instanceof StoreError && error.cause instanceof RedisReplyError && error.cause.message.startsWith('NOSCRIPT');
}
