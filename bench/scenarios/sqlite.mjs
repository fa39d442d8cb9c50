// Scenario 9: signed-in GET /api/me with STORE=sqlite and 100 000 other
// sessions in the sessions table (BENCH_SWEEP_FILES), beside STORE=files in
// the same rounds. node:sqlite is synchronous and runs on the event loop, so
// each request's statements must stay small and indexed: target p99 ≤ 10 ms.
//
// The other rows are in Cloakroom's exact format (three in four guests, one
// in four a signed-in user of 1000 others), inserted in one transaction
// through a second connection once the server has made the tables, as
// another process would. Needs a Node with node:sqlite (22.13 or later); on
// an older one the scenario says so and measures nothing.
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { makeTempDir, removeTempDir } from '../lib/processes.mjs';
import { measure, runLoad } from '../lib/load.mjs';
import { otherSession } from '../lib/records.mjs';
import { get, startCloakroom, USERNAME } from '../lib/servers.mjs';
import { ROTATING_SESSIONS } from './me.mjs';

const MINUTE_MS = 60_000;
/** The defaults of SESSION_IDLE_TIMEOUT and GUEST_IDLE_TIMEOUT: the deadlines the rows get, as the server would compute them. */
const IDLE_TIMEOUT_MS = 30 * MINUTE_MS;
const GUEST_IDLE_TIMEOUT_MS = 10 * MINUTE_MS;

const sha256 = (text) => createHash('sha256').update(text).digest('hex');

export async function run(ctx) {
  let sqlite;
  try {
    sqlite = await import('node:sqlite');
  } catch {
    return { unavailable: `Node ${process.version} has no node:sqlite (22.13 or later)` };
  }
  const rows = [];
  let fillSeconds = 0;
  let statements = null;
  for (let round = 1; round <= ctx.rounds; round++) {
    for (const store of ['files', 'sqlite']) {
      ctx.log(`sqlite round ${round}/${ctx.rounds}: STORE=${store}`);
      const dir = makeTempDir('sqlite-bench');
      const file = path.join(dir, 'cloakroom.db');
      const server = await startCloakroom(store === 'sqlite' ? { STORE: `sqlite:${file}` } : {});
      try {
        if (store === 'sqlite') {
          const started = performance.now();
          insertOtherSessions(sqlite, file, ctx.sweepFiles);
          fillSeconds = (performance.now() - started) / 1000;
          ctx.log(`  ${ctx.sweepFiles} other sessions inserted in ${fillSeconds.toFixed(1)} s`);
          statements = statementLatency(sqlite, file);
          ctx.log(`  the statements of one /api/me: p50 ${statements.p50Us.toFixed(0)} µs, p99 ${statements.p99Us.toFixed(0)} µs`);
        }
        const cookies = await server.signIn(ROTATING_SESSIONS);
        const answer = await get(`${server.url}/api/me`, cookies.at(-1));
        if (answer.status !== 200) throw new Error(`GET /api/me answered ${answer.status}: ${answer.text}`);
        for (const sessions of [1, ROTATING_SESSIONS]) {
          const load = { url: `${server.url}/api/me`, cookies: cookies.slice(0, sessions), connections: ctx.connections, pid: server.pid };
          await runLoad(ctx.generator, { ...load, seconds: ctx.warmup });
          const result = await measure(ctx.generator, { ...load, seconds: ctx.seconds }, ctx.retries);
          rows.push({ round, store, sessions, load: result });
          ctx.log(`  ${sessions} session(s): ${result.rps.toFixed(0)} req/s, p99 ${result.p99Ms.toFixed(2)} ms, non-2xx ${result.non2xx}`);
        }
      } finally {
        await server.stop();
        removeTempDir(dir);
      }
    }
  }
  return { rows, others: ctx.sweepFiles, fillSeconds, statements, connections: ctx.connections };
}

/** insertOtherSessions adds `total` live sessions of guests and other users to the sessions table, in one transaction. */
function insertOtherSessions(sqlite, file, total) {
  const db = new sqlite.DatabaseSync(file);
  try {
    db.exec('PRAGMA busy_timeout = 10000');
    const now = Date.now();
    const createdAt = new Date(now - MINUTE_MS).toISOString();
    const insert = db.prepare('INSERT INTO sessions (file_id, username, expires_at, record) VALUES (?, ?, ?, ?)');
    db.exec('BEGIN IMMEDIATE');
    for (let index = 0; index < total; index++) {
      const { user, record } = otherSession(index, createdAt);
      const expiresAt = Date.parse(createdAt) + (user === null ? GUEST_IDLE_TIMEOUT_MS : IDLE_TIMEOUT_MS);
      insert.run(sha256(randomBytes(32).toString('base64url')), user, expiresAt, JSON.stringify(record));
    }
    db.exec('COMMIT');
    // A table that has held this many sessions for a while has long had its WAL checkpointed; a
    // fresh 100 000-row WAL would make the server's first write pay for copying it into the file.
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}

/** LATENCY_SAMPLES: how many times the statements of one request are timed. */
const LATENCY_SAMPLES = 20_000;

/**
 * statementLatency times, outside any HTTP load, what STORE=sqlite does for
 * one signed-in GET /api/me: the session row by its primary key (a random
 * one of the table each time, so no page stays hot), its JSON parsed, and
 * the account row by its key. Returns p50 and p99 in microseconds.
 */
function statementLatency(sqlite, file) {
  const db = new sqlite.DatabaseSync(file);
  try {
    const fileIds = db
      .prepare('SELECT file_id FROM sessions ORDER BY random() LIMIT ?')
      .all(LATENCY_SAMPLES)
      .map((row) => row.file_id);
    const session = db.prepare('SELECT record FROM sessions WHERE file_id = ?');
    const account = db.prepare('SELECT username, display_name, created_at, generation, password FROM accounts WHERE username = ?');
    const took = fileIds.map((fileId) => {
      const started = performance.now();
      JSON.parse(session.get(fileId).record);
      account.get(USERNAME);
      return (performance.now() - started) * 1000;
    });
    took.sort((a, b) => a - b);
    return { samples: took.length, p50Us: took[Math.floor(took.length / 2)], p99Us: took[Math.floor(took.length * 0.99)] };
  } finally {
    db.close();
  }
}
