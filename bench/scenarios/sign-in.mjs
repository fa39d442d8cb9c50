// Scenario 5 (issue 7, target 6): sign-in is slow on purpose (scrypt at the
// default cost, N = 131072), so the question is not how fast it is but whether
// it hurts everyone else. Measured at the default SCRYPT_COST (the variable
// is omitted):
//   * sign-ins per second with SIGN_IN_CONCURRENCY logins kept in flight;
//   * GET /api/me alone, then the same load while IN_FLIGHT_SIGN_INS logins
//     are kept in flight the whole time (each finished login is replaced at
//     once). Hashing runs on libuv's thread pool, so /api/me p99 shows whether
//     it ever blocks the event loop.
// Each login in flight is a different user (20 people signing in at once):
// Cloakroom counts a sign-in against its account's failure limit until the
// hash matches, so more than a few at once on one account are refused with
// 429 before hashing and would not load the hasher at all. That behaviour is
// probed on its own: PROBE_SAME_ACCOUNT correct sign-ins at once for one
// account, with the answers and Retry-After values reported.
//
// A 503 (the bounded hash queue is full) is an allowed answer and is counted;
// a client that gets one (or a 429) waits PAUSE_AFTER_REFUSAL_MS before trying
// again, as a polite client would, instead of spinning on refusals.
import { measure, runLoad } from '../lib/load.mjs';
import { PASSWORD, USERNAME, pool, postJson, startCloakroom } from '../lib/servers.mjs';

const SIGN_IN_CONCURRENCY = 4;
export const IN_FLIGHT_SIGN_INS = 20;
const PROBE_SAME_ACCOUNT = 8;
const REGISTER_CONCURRENCY = 4;
const PAUSE_AFTER_REFUSAL_MS = 50;
const SIGN_IN_TIMEOUT_MS = 60_000;

const userName = (index) => `${USERNAME}-${index}`;

export async function run(ctx) {
  ctx.log('sign-in at the default SCRYPT_COST');
  const server = await startCloakroom({ SCRYPT_COST: null });
  try {
    const [cookie] = await server.signIn(1);
    ctx.log(`  registering ${IN_FLIGHT_SIGN_INS} users`);
    await pool(IN_FLIGHT_SIGN_INS, REGISTER_CONCURRENCY, (index) => server.signIn(0, userName(index)));

    const probe = await sameAccountProbe(server.url);
    ctx.log(
      `  ${PROBE_SAME_ACCOUNT} correct sign-ins at once for one account: ${JSON.stringify(probe.statuses)}, Retry-After ${JSON.stringify(probe.retryAfter)}`,
    );

    ctx.log(`  ${SIGN_IN_CONCURRENCY} concurrent sign-ins for ${ctx.seconds} s`);
    const alone = signInLoop(server.url, SIGN_IN_CONCURRENCY);
    await new Promise((resolve) => setTimeout(resolve, ctx.seconds * 1000));
    const signIns = await alone.stop();

    const load = { url: `${server.url}/api/me`, cookies: [cookie], connections: ctx.connections, pid: server.pid };
    await runLoad(ctx.generator, { ...load, seconds: ctx.warmup });
    const quiet = await measure(ctx.generator, { ...load, seconds: ctx.seconds }, ctx.retries);
    ctx.log(`  /api/me alone: ${quiet.rps.toFixed(0)} req/s, p99 ${quiet.p99Ms.toFixed(2)} ms`);

    const busy = signInLoop(server.url, IN_FLIGHT_SIGN_INS);
    const duringSignIns = await runLoad(ctx.generator, { ...load, seconds: ctx.seconds });
    const concurrent = await busy.stop();
    ctx.log(
      `  /api/me with ${IN_FLIGHT_SIGN_INS} sign-ins in flight: ${duringSignIns.rps.toFixed(0)} req/s, p99 ${duringSignIns.p99Ms.toFixed(2)} ms; sign-ins ${JSON.stringify(concurrent.statuses)}`,
    );
    return { concurrency: SIGN_IN_CONCURRENCY, signIns, quiet, inFlight: IN_FLIGHT_SIGN_INS, duringSignIns, concurrent, probe };
  } finally {
    await server.stop();
  }
}

/**
 * Keeps `inFlight` POST /login requests going until stop(); stop() waits for
 * the ones in flight and returns {statuses, ok, seconds, perSecond, meanMs}.
 */
function signInLoop(url, inFlight) {
  let running = true;
  const statuses = {};
  const okDurations = [];
  const started = performance.now();
  async function worker(_, index) {
    while (running) {
      const begin = performance.now();
      let status;
      try {
        const credentials = { username: userName(index), password: PASSWORD };
        status = (await postJson(`${url}/login`, credentials, { signal: AbortSignal.timeout(SIGN_IN_TIMEOUT_MS) })).status;
      } catch (error) {
        status = error.name === 'TimeoutError' ? 'timeout' : 'network error';
      }
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status === 200) okDurations.push(performance.now() - begin);
      else await new Promise((resolve) => setTimeout(resolve, PAUSE_AFTER_REFUSAL_MS));
    }
  }
  const workers = Array.from({ length: inFlight }, worker);
  return {
    async stop() {
      running = false;
      await Promise.all(workers);
      // Until the last login in flight has finished, so every counted login lies inside the time.
      const seconds = (performance.now() - started) / 1000;
      const ok = okDurations.length;
      return {
        statuses,
        ok,
        seconds,
        perSecond: ok / seconds,
        meanMs: ok > 0 ? okDurations.reduce((a, b) => a + b, 0) / ok : null,
      };
    },
  };
}

/** PROBE_SAME_ACCOUNT correct sign-ins at once for one account: {statuses, retryAfter}. */
async function sameAccountProbe(url) {
  const answers = await Promise.all(
    Array.from({ length: PROBE_SAME_ACCOUNT }, () =>
      postJson(`${url}/login`, { username: USERNAME, password: PASSWORD }, { signal: AbortSignal.timeout(SIGN_IN_TIMEOUT_MS) }),
    ),
  );
  const statuses = {};
  for (const { status } of answers) statuses[status] = (statuses[status] ?? 0) + 1;
  const retryAfter = [...new Set(answers.map((a) => a.headers.get('retry-after')).filter((v) => v !== null))];
  return { count: PROBE_SAME_ACCOUNT, statuses, retryAfter };
}
