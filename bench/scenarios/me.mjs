// Scenario 1 (issue 7, targets 1 and 5): signed-in GET /api/me, the request a
// session store serves most. Measured with one session cookie (the hot path)
// and with 1000 cookies sent round-robin (no single session stays hot, so a
// cache must hold many sessions and a store must find each one).
//
// Two raw node:http peers bound it from above: the plain one, and one that
// sends exactly Cloakroom's headers and body shape, so that Cloakroom's ratio
// to the second is what its sessions cost and nothing else.
//
// Every server is fresh each round and the servers run interleaved
// (A B C D E F, A B C D E F), so a slow minute on a shared machine hurts them
// all alike; ratios compare servers measured in the same round.
import { sampleRss } from '../lib/processes.mjs';
import { measure, runLoad } from '../lib/load.mjs';
import { SERVERS, get, start } from '../lib/servers.mjs';
import { statMicros } from '../lib/stat-cost.mjs';

export const ROTATING_SESSIONS = 1000;

/**
 * The speed counts only with every header Cloakroom must send (the README's
 * Routes and Security sections): a fast answer that dropped them would not
 * count, so Cloakroom's are checked first.
 */
const REQUIRED_HEADERS = {
  'content-security-policy': "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  vary: 'Cookie',
  'content-type': 'application/json; charset=utf-8',
};

/**
 * Returns {rows: [{round, key, sessions, load, rss}], headerProblems,
 * statUs} for every server, round and session count; statUs is what one
 * stat() costs here, timed after the last round, with no server running.
 */
export async function run(ctx) {
  const rows = [];
  let headerProblems = [];
  for (let round = 1; round <= ctx.rounds; round++) {
    for (const { key } of SERVERS) {
      ctx.log(`/api/me round ${round}/${ctx.rounds}: ${key}`);
      const server = await start(key);
      try {
        const cookies = await server.signIn(ROTATING_SESSIONS);
        const answer = await expectSignedIn(server, cookies);
        if (key === 'cloakroom') headerProblems = missingHeaders(answer.headers);
        for (const sessions of [1, ROTATING_SESSIONS]) {
          const load = { url: `${server.url}/api/me`, cookies: cookies.slice(0, sessions), connections: ctx.connections, pid: server.pid };
          await runLoad(ctx.generator, { ...load, seconds: ctx.warmup });
          const rss = sampleRss(server.pid);
          const result = await measure(ctx.generator, { ...load, seconds: ctx.seconds }, ctx.retries);
          const { peakMb, lastMb } = rss.stop();
          rows.push({ round, key, sessions, load: result, rss: { peakMb, lastMb } });
          ctx.log(`  ${sessions} session(s): ${result.rps.toFixed(0)} req/s, p99 ${result.p99Ms.toFixed(2)} ms, non-2xx ${result.non2xx}`);
        }
      } finally {
        await server.stop();
      }
    }
  }
  return { rows, headerProblems, statUs: statMicros() };
}

/** A load of 401s would measure nothing: check the first and last cookie work before timing. */
async function expectSignedIn(server, cookies) {
  let answer;
  for (const cookie of [cookies[0], cookies.at(-1)]) {
    answer = await get(`${server.url}/api/me`, cookie);
    if (answer.status !== 200) throw new Error(`${server.key}: GET /api/me with a fresh cookie answered ${answer.status}: ${answer.text}`);
  }
  return answer;
}

function missingHeaders(headers) {
  const problems = Object.entries(REQUIRED_HEADERS)
    .filter(([name, value]) => headers.get(name) !== value)
    .map(([name, value]) => `${name}: want "${value}", got "${headers.get(name)}"`);
  if (headers.has('x-powered-by')) problems.push('x-powered-by is present');
  return problems;
}
