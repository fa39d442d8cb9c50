import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { lutimes, mkdir, readdir, readFile, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { SESSION_FILE_PATTERN, SESSIONS_DIR_MODE } from '../../lib/sessions/file-store.ts';
import { newRecord } from '../../lib/sessions/record.ts';
import type { SessionRecord } from '../../lib/sessions/record.ts';
import { storageKey } from '../../lib/sessions/session-id.ts';
import { STALE_TEMP_MS, sweep, SWEEP_CONCURRENCY } from '../../lib/sessions/sweeper.ts';
import { USER_INDEX_DIR } from '../../lib/sessions/user-index.ts';
import { register } from '../support/client.ts';
import { entriesBesideNotes, hookedFs } from '../support/files.ts';
import { makeDirs, startTestServer } from '../support/server.ts';

const SESSIONS = 5_000;
const TEMPS = 20;
const CORRUPT = 5;
const SERVING_SESSIONS = 2_000;
const TIMEOUTS = { idleMs: 1_800_000, absoluteMs: 28_800_000 };
const MS_PER_SECOND = 1000;
const MIB = 1024 * 1024;
/** Live heap may grow by this much while 5 000 files are swept: a few files in hand, never the whole directory. */
const MAX_LIVE_HEAP_GROWTH_BYTES = 4 * MIB;
/** What the sweep leaves behind on the heap once it is done. */
const MAX_RETAINED_HEAP_BYTES = 1 * MIB;
const HEAP_SAMPLE_EVERY = 500;
/** How many files the test writes at once while setting up. */
const SETUP_CONCURRENCY = 64;

// A full collection before each heap reading, so garbage does not pass for growth.
v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;

function liveHeap(): number {
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');
const sessionName = (): string => `${hex(32)}.json`;
const tempName = (): string => `.${hex(32)}.json.${hex(6)}.tmp`;

/** recordAt is a session begun `startedAgoMs` and last seen `seenAgoMs` before `now`. */
function recordAt(now: number, startedAgoMs: number, seenAgoMs: number): string {
  const record: SessionRecord = {
    ...newRecord(now - startedAgoMs, 'created for the sweep'),
    lastSeenAt: new Date(now - seenAgoMs).toISOString(),
  };
  return JSON.stringify(record, null, 2);
}

async function inBatches<T>(items: readonly T[], task: (item: T) => Promise<unknown>): Promise<void> {
  for (let start = 0; start < items.length; start += SETUP_CONCURRENCY) {
    await Promise.all(items.slice(start, start + SETUP_CONCURRENCY).map(task));
  }
}

/** setOld gives `file` an mtime `ageMs` before `now`. */
async function setOld(file: string, now: number, ageMs: number): Promise<void> {
  const seconds = (now - ageMs) / MS_PER_SECOND;
  await utimes(file, seconds, seconds);
}

describe('the sweeper at scale', () => {
  it(`deletes exactly the expired sessions and stale temp files among ${SESSIONS} files, with few files open and a flat heap`, async (t) => {
    const dirs = await makeDirs(t);
    const dir = dirs.sessionsDir;
    await mkdir(dir, { recursive: true, mode: SESSIONS_DIR_MODE });
    const now = Date.now();
    const keep = new Set<string>();
    const contents = new Map<string, string>();

    // Half live, a quarter idle too long, a quarter past the absolute timeout though recently used.
    for (let index = 0; index < SESSIONS; index += 1) {
      const name = sessionName();
      const kind = index % 4;
      if (kind < 2) keep.add(name);
      const text =
        kind < 2
          ? recordAt(now, 60_000, 1_000)
          : kind === 2
            ? recordAt(now, TIMEOUTS.idleMs + 60_000, TIMEOUTS.idleMs + 1)
            : recordAt(now, TIMEOUTS.absoluteMs, 1_000);
      contents.set(name, text);
    }
    await inBatches([...contents], ([name, text]) => writeFile(path.join(dir, name), text, { mode: 0o600 }));
    const expiredSessions = SESSIONS / 2;

    const staleTemps = Array.from({ length: TEMPS }, tempName);
    const freshTemps = Array.from({ length: TEMPS }, tempName);
    for (const name of [...staleTemps, ...freshTemps]) await writeFile(path.join(dir, name), '{"version": 1, "half": ');
    for (const name of staleTemps) await setOld(path.join(dir, name), now, STALE_TEMP_MS + 60_000);
    freshTemps.forEach((name) => keep.add(name));

    // Unreadable session files are kept for a while, then deleted once older than any session can be.
    const recentCorrupt = Array.from({ length: CORRUPT }, sessionName);
    const oldCorrupt = Array.from({ length: CORRUPT }, sessionName);
    for (const name of [...recentCorrupt, ...oldCorrupt]) await writeFile(path.join(dir, name), 'not json at all');
    for (const name of oldCorrupt) await setOld(path.join(dir, name), now, TIMEOUTS.absoluteMs + 60_000);
    recentCorrupt.forEach((name) => keep.add(name));

    // A symbolic link named like a session file points at an expired record outside: neither may be touched.
    const outside = path.join(dirs.root, 'outside-record.json');
    await writeFile(outside, recordAt(now, TIMEOUTS.absoluteMs * 2, TIMEOUTS.absoluteMs * 2));
    await setOld(outside, now, TIMEOUTS.absoluteMs * 2);
    const sessionLink = sessionName();
    await symlink(outside, path.join(dir, sessionLink));
    const tempLink = tempName();
    await symlink(outside, path.join(dir, tempLink));
    await lutimes(path.join(dir, tempLink), (now - STALE_TEMP_MS * 2) / MS_PER_SECOND, (now - STALE_TEMP_MS * 2) / MS_PER_SECOND);
    const directory = sessionName();
    await mkdir(path.join(dir, directory));
    keep.add(sessionLink).add(tempLink).add(directory);

    // Foreign names hold expired records and are old: only their names protect them.
    const id = hex(32);
    const foreign = [
      'README.md',
      'notes.json',
      `${id.toUpperCase()}.json`,
      `${id.slice(1)}.json`,
      `${id}.json.bak`,
      `.${id}.json.tmp`,
      '.gitkeep',
    ];
    for (const name of foreign) {
      await writeFile(path.join(dir, name), recordAt(now, TIMEOUTS.absoluteMs * 2, TIMEOUTS.absoluteMs * 2));
      await setOld(path.join(dir, name), now, TIMEOUTS.absoluteMs * 2);
      keep.add(name);
    }

    let inFlight = 0;
    let maxInFlight = 0;
    let calls = 0;
    let peakHeap = 0;
    const opened: string[] = [];
    // Counted, not collected: a list of 5 000 names would itself show up as heap growth.
    let strayReads = 0;
    const fs = hookedFs({
      before: (operation, args) => {
        if (operation === 'opendir') opened.push(String(args[0]));
        if (operation === 'readFile') {
          const name = path.basename(String(args[0]));
          if (!SESSION_FILE_PATTERN.test(name) || name === sessionLink) strayReads += 1;
        }
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
      },
      after: () => {
        inFlight -= 1;
        calls += 1;
        if (calls % HEAP_SAMPLE_EVERY === 0) peakHeap = Math.max(peakHeap, liveHeap());
      },
    });

    const rssBefore = process.memoryUsage().rss;
    const heapBefore = liveHeap();
    const started = performance.now();
    const result = await sweep({ dir, now, timeouts: TIMEOUTS, fs });
    const elapsedMs = performance.now() - started;
    const retained = liveHeap() - heapBefore;
    const rssGrowth = process.memoryUsage().rss - rssBefore;

    t.diagnostic(
      `swept ${result.scanned} files in ${elapsedMs.toFixed(0)} ms; at most ${maxInFlight} file calls at once; ` +
        `live heap +${((peakHeap - heapBefore) / MIB).toFixed(2)} MiB at peak, +${(retained / MIB).toFixed(2)} MiB after; RSS +${(rssGrowth / MIB).toFixed(1)} MiB`,
    );
    assert.deepEqual(result, {
      scanned: SESSIONS + 2 * TEMPS + 2 * CORRUPT + 3,
      expired: expiredSessions + CORRUPT,
      staleTemps: TEMPS,
      failed: 0,
      live: SESSIONS - expiredSessions + CORRUPT,
      indexAdded: 0,
      indexDropped: 0,
    });
    assert.deepEqual((await readdir(dir)).sort(), [...keep].sort());
    for (const name of keep) {
      if (contents.has(name)) assert.equal(await readFile(path.join(dir, name), 'utf8'), contents.get(name));
    }
    assert.ok((await readFile(outside, 'utf8')).length > 0, 'the symbolic link target outside is untouched');
    assert.deepEqual(opened, [dir], 'the directory is opened once, as a stream');
    assert.equal(strayReads, 0, 'only real session files are read');
    assert.ok(maxInFlight <= SWEEP_CONCURRENCY, `${maxInFlight} file calls ran at once`);
    assert.ok(peakHeap - heapBefore < MAX_LIVE_HEAP_GROWTH_BYTES, `live heap grew ${peakHeap - heapBefore} bytes`);
    assert.ok(retained < MAX_RETAINED_HEAP_BYTES, `the sweep left ${retained} bytes on the heap`);
  });

  it(`keeps answering requests while it sweeps ${SERVING_SESSIONS} files`, async (t) => {
    const server = await startTestServer(t);
    const browser = server.client();
    await register(browser, 'steady');
    const now = Date.now();
    const expired = Array.from({ length: SERVING_SESSIONS }, sessionName);
    await inBatches(expired, (name) =>
      writeFile(path.join(server.dirs.sessionsDir, name), recordAt(now, TIMEOUTS.idleMs * 2, TIMEOUTS.idleMs * 2), { mode: 0o600 }),
    );

    let swept = false;
    const sweepDone = server.app.sweeper.runNow().finally(() => (swept = true));
    // Read through a function: the flag is set in the callback above, where the type checker's narrowing cannot see it.
    const sweeping = (): boolean => !swept;
    const latencies: number[] = [];
    const statuses: number[] = [];
    while (sweeping()) {
      const started = performance.now();
      const reply = await browser.get('/api/me');
      // Only answers that arrived while the sweep was still running count.
      if (sweeping()) latencies.push(performance.now() - started);
      statuses.push(reply.status);
    }
    await sweepDone;

    latencies.sort((a, b) => a - b);
    t.diagnostic(
      `${latencies.length} answers during the sweep; median ${latencies[Math.floor(latencies.length / 2)]?.toFixed(1)} ms, ` +
        `max ${latencies.at(-1)?.toFixed(1)} ms`,
    );
    assert.ok(latencies.length >= 1, 'at least one request must be answered while the sweep runs');
    assert.deepEqual(new Set(statuses), new Set([200]));
    assert.deepEqual(
      await entriesBesideNotes(server.dirs.sessionsDir),
      [`${storageKey(browser.sid!)}.json`, USER_INDEX_DIR],
      'every expired file is gone; the live one stays, with the user index that lists it',
    );
    assert.equal((await browser.get('/api/me')).status, 200);
  });
});
