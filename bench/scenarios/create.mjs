// Scenario 3 (issue 7, target 3): session creation. A guest's first
// POST /api/cart {item} with no cookie creates a session, so every request
// under this load writes a new session file (Cloakroom, express-session +
// session-file-store, and the raw readFile peer, whose atomic write is the
// floor for a crash-safe file store) or a new in-memory session
// (express-session + MemoryStore, for context). Raw node:http stores nothing:
// it is the ceiling. After the load, the session files are counted to check
// that each answered request really made one.
import { readdir } from 'node:fs/promises';
import { measure, runLoad } from '../lib/load.mjs';
import { SERVERS, start } from '../lib/servers.mjs';

const CART_BODY = JSON.stringify({ item: 'apple' });
const FILE_BACKED = new Set(['raw-readfile', 'express-file', 'cloakroom']);
/**
 * Real guests come from many addresses, and Cloakroom counts the new guest
 * sessions of each address (GUEST_SESSIONS_PER_ADDRESS, 100 by default) in
 * a counter every process shares. From one address the limit would answer
 * 429 from the 101st request on, and raising it instead would time one
 * ever-longer counter that every request waits its turn for, which no real
 * load looks like. So every request claims an address of its own
 * (X-Forwarded-For, read with TRUST_PROXY=true, as behind a proxy) and is
 * counted under it at the default limit. MAX_SESSIONS is raised so that a
 * long run does not reach the ceiling of 100 000 stored sessions.
 */
const CLOAKROOM_ENV = { TRUST_PROXY: 'true', MAX_SESSIONS: '1000000000' };

export async function run(ctx) {
  const rows = [];
  for (let round = 1; round <= ctx.rounds; round++) {
    for (const { key } of SERVERS.filter((server) => !server.meOnly)) {
      ctx.log(`session creation round ${round}/${ctx.rounds}: ${key}`);
      const server = await start(key, key === 'cloakroom' ? CLOAKROOM_ENV : {});
      try {
        const load = {
          url: `${server.url}/api/cart`,
          method: 'POST',
          body: CART_BODY,
          spreadAddresses: true,
          connections: ctx.connections,
          pid: server.pid,
        };
        await runLoad(ctx.generator, { ...load, seconds: ctx.warmup });
        const filesBefore = await countSessionFiles(server.sessionsDir);
        const result = await measure(ctx.generator, { ...load, seconds: ctx.seconds }, ctx.retries);
        const files = FILE_BACKED.has(key) ? (await countSessionFiles(server.sessionsDir)) - filesBefore : null;
        rows.push({ round, key, load: result, filesCreated: files });
        ctx.log(`  ${result.rps.toFixed(0)} req/s, p99 ${result.p99Ms.toFixed(2)} ms, non-2xx ${result.non2xx}, files ${files ?? '-'}`);
      } finally {
        await server.stop();
      }
    }
  }
  return rows;
}

async function countSessionFiles(dir) {
  return (await readdir(dir)).filter((name) => name.endsWith('.json')).length;
}
