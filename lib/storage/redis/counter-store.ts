import { randomBytes } from 'node:crypto';
import type { CounterStore } from '../../auth/counters.ts';
import type { RedisClient } from './client.ts';
import { keys } from './keys.ts';
import { integer } from './replies.ts';
import { Script } from './script.ts';

/**
 * HIT is the whole sliding-window count in one atomic step: drop the events
 * that have left the window, and either refuse (returning how long until
 * the oldest event that still counts leaves it) or count one more. Run as
 * one script, twenty parallel attempts from twenty hosts cannot all see
 * "four so far" and all slip in.
 *   KEYS: the counter (a sorted set of events, scored by time)
 *   ARGV: now (epoch ms), window ms, limit, a member name unique to this event
 */
const HIT = new Script(
  'hit-counter',
  `local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
  return tonumber(oldest[2]) + window - now
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(window))
return 0`,
);

/**
 * FORGET_ONE takes back one event counted at a given time.
 *   KEYS: the counter   ARGV: the event's time (epoch ms)
 */
const FORGET_ONE = new Script(
  'forget-event',
  `local found = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[1], 'LIMIT', 0, 1)
if found[1] then redis.call('ZREM', KEYS[1], found[1]) end
return #found`,
);

/**
 * RedisCounterStore keeps each counted key as a sorted set of its events
 * (`cloakroom:counter:account:alice`), scored by their times, with a TTL of
 * the window: a key not hit for a whole window holds nothing that counts,
 * and Redis deletes it. Every host that shares the Redis shares the counts.
 */
export class RedisCounterStore implements CounterStore {
  #client: RedisClient;
  /** Members of a sorted set are unique: each event is named by its time, this process and a sequence number. */
  #process = randomBytes(6).toString('hex');
  #sequence = 0;

  constructor(client: RedisClient) {
    this.#client = client;
  }

  async hit(key: string, limit: number, windowMs: number, now: number): Promise<number> {
    const member = `${now}:${this.#process}:${this.#sequence++}`;
    const reply = await HIT.run(this.#client, [keys.counter(key)], [String(now), String(windowMs), String(limit), member]);
    return integer(reply, HIT.name);
  }

  async forget(key: string, at?: number): Promise<void> {
    if (at === undefined) await this.#client.call(['DEL', keys.counter(key)]);
    else await FORGET_ONE.run(this.#client, [keys.counter(key)], [String(at)]);
  }
}
