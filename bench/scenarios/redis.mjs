// Signed-in GET /api/me with every session in Redis: Cloakroom with
// STORE=redis://… (its own client, lib/storage/redis/) against express 5 +
// express-session + connect-redis on the official `redis` client, on the
// same redis-server, emptied between them. One session (the hot path) and
// 1000 sessions round-robin, as in the /api/me scenario.
import { measure, runLoad } from '../lib/load.mjs';
import { sampleRss } from '../lib/processes.mjs';
import { startRedis } from '../lib/redis.mjs';
import { get, start, startCloakroom } from '../lib/servers.mjs';

export const VARIANTS = [
  { key: 'cloakroom', label: 'Cloakroom, STORE=redis' },
  { key: 'express-redis', label: 'express 5 + express-session + connect-redis' },
];
const ROTATING_SESSIONS = 1000;

/** Returns {rows: [{round, key, sessions, load, rss}]}. */
export async function run(ctx) {
  const redis = await startRedis();
  const rows = [];
  try {
    for (let round = 1; round <= ctx.rounds; round++) {
      for (const { key } of VARIANTS) {
        ctx.log(`redis round ${round}/${ctx.rounds}: ${key}`);
        redis.flush();
        const server = key === 'cloakroom' ? await startCloakroom({ STORE: redis.url }) : await start(key, { REDIS_URL: redis.url });
        try {
          const cookies = await server.signIn(ROTATING_SESSIONS);
          for (const cookie of [cookies[0], cookies.at(-1)]) {
            const answer = await get(`${server.url}/api/me`, cookie);
            if (answer.status !== 200) throw new Error(`${key}: GET /api/me answered ${answer.status}: ${answer.text}`);
          }
          for (const sessions of [1, ROTATING_SESSIONS]) {
            const load = {
              url: `${server.url}/api/me`,
              cookies: cookies.slice(0, sessions),
              connections: ctx.connections,
              pid: server.pid,
            };
            await runLoad(ctx.generator, { ...load, seconds: ctx.warmup });
            const rss = sampleRss(server.pid);
            const result = await measure(ctx.generator, { ...load, seconds: ctx.seconds }, ctx.retries);
            rows.push({ round, key, sessions, load: result, rss: rss.stop() });
            ctx.log(
              `  ${sessions} session(s): ${result.rps.toFixed(0)} req/s, p99 ${result.p99Ms.toFixed(2)} ms, non-2xx ${result.non2xx}`,
            );
          }
        } finally {
          await server.stop();
        }
      }
    }
  } finally {
    await redis.stop();
  }
  return { rows };
}
