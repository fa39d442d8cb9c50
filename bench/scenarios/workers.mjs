// Signed-in GET /api/me with WORKERS=1 and WORKERS=2 (one port, node:cluster
// handing connections to the workers), one session and 1000 sessions.
//
// On a 2-core machine there is no honest way to give two workers two cores
// of their own and the load generator a third: here the servers are not
// pinned (WORKERS=1 and WORKERS=2 may both use both cores) and the load
// generator stays on its core as in every scenario, so the workers share
// the cores with it. The figure shows what a second worker buys on such a
// machine, not what it buys on a larger one.
import { measure, runLoad } from '../lib/load.mjs';
import { sampleRss } from '../lib/processes.mjs';
import { get, startCloakroom } from '../lib/servers.mjs';

export const VARIANTS = ['1', '2'];
const ROTATING_SESSIONS = 1000;

/** Returns {rows: [{round, workers, sessions, load, rss}]}. */
export async function run(ctx) {
  const rows = [];
  for (let round = 1; round <= ctx.rounds; round++) {
    for (const workers of VARIANTS) {
      ctx.log(`workers round ${round}/${ctx.rounds}: WORKERS=${workers}`);
      const server = await startCloakroom({ WORKERS: workers }, { pin: false });
      try {
        const cookies = await server.signIn(ROTATING_SESSIONS);
        const answer = await get(`${server.url}/api/me`, cookies[0]);
        if (answer.status !== 200) throw new Error(`WORKERS=${workers}: GET /api/me answered ${answer.status}`);
        for (const sessions of [1, ROTATING_SESSIONS]) {
          const load = { url: `${server.url}/api/me`, cookies: cookies.slice(0, sessions), connections: ctx.connections, pid: server.pid };
          await runLoad(ctx.generator, { ...load, seconds: ctx.warmup });
          const rss = sampleRss(server.pid);
          // No retries: with unpinned servers every core is shared, so "disturbed" has no meaning here.
          const result = await measure(ctx.generator, { ...load, seconds: ctx.seconds }, 0);
          rows.push({ round, workers, sessions, load: result, rss: rss.stop() });
          ctx.log(`  ${sessions} session(s): ${result.rps.toFixed(0)} req/s, p99 ${result.p99Ms.toFixed(2)} ms, non-2xx ${result.non2xx}`);
        }
      } finally {
        await server.stop();
      }
    }
  }
  return { rows };
}
