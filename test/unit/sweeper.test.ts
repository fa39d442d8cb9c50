import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { nodeFileSystem, tempPathFor } from '../../lib/file-system.ts';
import type { FileSystem } from '../../lib/file-system.ts';
import { MAX_SESSION_FILE_BYTES } from '../../lib/sessions/file-store.ts';
import { newRecord } from '../../lib/sessions/record.ts';
import { newSessionId, storageKey } from '../../lib/sessions/session-id.ts';
import { STALE_TEMP_MS, sweep, Sweeper } from '../../lib/sessions/sweeper.ts';
import type { SweepReport } from '../../lib/storage/storage.ts';
import { makeDirs } from '../support/server.ts';

const MINUTE = 60_000;
const timeouts = { idleMs: 30 * MINUTE, absoluteMs: 8 * 60 * MINUTE };

async function sessionsDir(t: TestContext): Promise<string> {
  const { sessionsDir: dir } = await makeDirs(t);
  await mkdir(dir);
  return dir;
}

/** writeSession writes a session file as the store would, seen last at `lastSeenAt`; returns its name. */
async function writeSession(dir: string, createdAt: number, lastSeenAt = createdAt): Promise<string> {
  const name = `${storageKey(newSessionId())}.json`;
  const record = { ...newRecord(createdAt, 'created as guest'), lastSeenAt: new Date(lastSeenAt).toISOString() };
  await writeFile(path.join(dir, name), JSON.stringify(record, null, 2), { mode: 0o600 });
  return name;
}

/** writeAged writes `contents` under `name` with a modification time of `mtime`. */
async function writeAged(dir: string, name: string, contents: string, mtime: number): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, contents);
  await utimes(file, new Date(mtime), new Date(mtime));
  return name;
}

/** tempName is the name writeFileAtomic gives a temporary file for some session. */
function tempName(): string {
  return path.basename(tempPathFor(path.join('/', `${storageKey(newSessionId())}.json`)));
}

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('sweep', () => {
  it('deletes expired session files and keeps live ones', async (t) => {
    const dir = await sessionsDir(t);
    const now = Date.now();
    const live = await writeSession(dir, now - MINUTE);
    const idle = await writeSession(dir, now - 31 * MINUTE);
    const old = await writeSession(dir, now - 8 * 60 * MINUTE, now - MINUTE);
    const result = await sweep({ dir, now, timeouts });
    assert.deepEqual(await readdir(dir), [live]);
    assert.deepEqual(result, { scanned: 3, expired: 2, staleTemps: 0, failed: 0, live: 1, indexAdded: 0, indexDropped: 0 });
    assert.ok(!(await readdir(dir)).includes(idle) && !(await readdir(dir)).includes(old));
  });

  it('deletes temporary files older than a minute and keeps fresh ones (a write may be under way)', async (t) => {
    const dir = await sessionsDir(t);
    const now = Date.now();
    const fresh = await writeAged(dir, tempName(), '{', now - STALE_TEMP_MS + 1000);
    await writeAged(dir, tempName(), '{', now - STALE_TEMP_MS);
    const result = await sweep({ dir, now, timeouts });
    assert.deepEqual(await readdir(dir), [fresh]);
    assert.deepEqual(result, { scanned: 2, expired: 0, staleTemps: 1, failed: 0, live: 0, indexAdded: 0, indexDropped: 0 });
  });

  it('deletes an unreadable session file once it is older than the absolute timeout, and keeps a young one', async (t) => {
    const dir = await sessionsDir(t);
    const now = Date.now();
    const young = await writeAged(dir, `${storageKey(newSessionId())}.json`, 'not json', now - MINUTE);
    await writeAged(dir, `${storageKey(newSessionId())}.json`, 'not json', now - timeouts.absoluteMs);
    await writeAged(dir, `${storageKey(newSessionId())}.json`, ' '.repeat(MAX_SESSION_FILE_BYTES + 1), now - timeouts.absoluteMs);
    const result = await sweep({ dir, now, timeouts });
    assert.deepEqual(await readdir(dir), [young]);
    assert.equal(result.expired, 2);
  });

  it('never touches names outside its own patterns, however old', async (t) => {
    const dir = await sessionsDir(t);
    const now = Date.now();
    const ancient = now - 10 * timeouts.absoluteMs;
    const foreign = [
      '.gitkeep',
      'README.txt',
      `${'A'.repeat(64)}.json`,
      `${'a'.repeat(63)}.json`,
      `${'a'.repeat(64)}.json.bak`,
      `.${'a'.repeat(64)}.json.tmp`,
      `${tempName()}~`,
    ];
    for (const name of foreign) await writeAged(dir, name, 'not json', ancient);
    const result = await sweep({ dir, now, timeouts });
    assert.deepEqual((await readdir(dir)).sort(), [...foreign].sort());
    assert.equal(result.scanned, 0);
  });

  it('never follows or deletes a symbolic link, even one named like a session pointing at an expired record', async (t) => {
    const dir = await sessionsDir(t);
    const { root } = await makeDirs(t);
    const now = Date.now();
    const target = await writeSession(root, now - 10 * timeouts.absoluteMs);
    const link = `${storageKey(newSessionId())}.json`;
    await symlink(path.join(root, target), path.join(dir, link));
    const tempLink = tempName();
    await symlink(path.join(root, target), path.join(dir, tempLink));
    const result = await sweep({ dir, now: now + 10 * timeouts.absoluteMs, timeouts });
    assert.deepEqual((await readdir(dir)).sort(), [link, tempLink].sort());
    assert.deepEqual(await readdir(root), [target]);
    assert.deepEqual(result, { scanned: 2, expired: 0, staleTemps: 0, failed: 0, live: 0, indexAdded: 0, indexDropped: 0 });
  });

  it('does not follow a symbolic link swapped in between its lstat and its read', async (t) => {
    const dir = await sessionsDir(t);
    const { root } = await makeDirs(t);
    const now = Date.now();
    const name = await writeSession(dir, now);
    const expiredElsewhere = await writeSession(root, now - 10 * timeouts.absoluteMs);
    const fsys: FileSystem = {
      ...nodeFileSystem,
      // The race, made certain: the file is regular when looked at, a link when opened.
      lstat: (async (...args: Parameters<typeof nodeFileSystem.lstat>) => {
        const stats = await nodeFileSystem.lstat(...args);
        await rm(path.join(dir, name));
        await symlink(path.join(root, expiredElsewhere), path.join(dir, name));
        return stats;
      }) as typeof nodeFileSystem.lstat,
    };
    const result = await sweep({ dir, now, timeouts, fs: fsys });
    assert.deepEqual(result, { scanned: 1, expired: 0, staleTemps: 0, failed: 1, live: 0, indexAdded: 0, indexDropped: 0 });
    assert.deepEqual(await readdir(dir), [name], 'the link was neither followed to an expired record nor deleted for it');
  });

  it('is not blocked by a FIFO swapped in between its lstat and its read', { timeout: 10_000 }, async (t) => {
    const dir = await sessionsDir(t);
    const now = Date.now();
    const name = await writeSession(dir, now);
    const fsys: FileSystem = {
      ...nodeFileSystem,
      lstat: (async (...args: Parameters<typeof nodeFileSystem.lstat>) => {
        const stats = await nodeFileSystem.lstat(...args);
        await rm(path.join(dir, name));
        // A FIFO with no writer: a plain open for reading would wait for one for ever.
        execFileSync('mkfifo', [path.join(dir, name)]);
        return stats;
      }) as typeof nodeFileSystem.lstat,
    };
    const result = await sweep({ dir, now, timeouts, fs: fsys });
    assert.deepEqual(result, { scanned: 1, expired: 0, staleTemps: 0, failed: 0, live: 1, indexAdded: 0, indexDropped: 0 });
    assert.deepEqual(await readdir(dir), [name], 'a young unreadable file is kept for a while');
  });

  it('leaves a directory named like a session file alone', async (t) => {
    const dir = await sessionsDir(t);
    const name = `${storageKey(newSessionId())}.json`;
    await mkdir(path.join(dir, name));
    await sweep({ dir, now: Date.now() + 10 * timeouts.absoluteMs, timeouts });
    assert.deepEqual(await readdir(dir), [name]);
  });

  it('keeps at most `concurrency` files in hand at once', async (t) => {
    const dir = await sessionsDir(t);
    const now = Date.now();
    for (let i = 0; i < 12; i++) await writeSession(dir, now - 31 * MINUTE);
    let inHand = 0;
    let most = 0;
    const fsys: FileSystem = {
      ...nodeFileSystem,
      lstat: (async (...args: Parameters<typeof nodeFileSystem.lstat>) => {
        inHand += 1;
        most = Math.max(most, inHand);
        try {
          return await nodeFileSystem.lstat(...args);
        } finally {
          await new Promise<void>((resolve) => setImmediate(resolve));
          inHand -= 1;
        }
      }) as typeof nodeFileSystem.lstat,
    };
    const result = await sweep({ dir, now, timeouts, fs: fsys, concurrency: 3 });
    assert.equal(result.expired, 12);
    assert.ok(most <= 3, `${most} files were in hand at once`);
    assert.ok(most > 1, 'files are examined side by side');
  });

  it('counts a file it cannot delete as failed and carries on', async (t) => {
    const dir = await sessionsDir(t);
    const now = Date.now();
    await writeSession(dir, now - 31 * MINUTE);
    await writeSession(dir, now - 31 * MINUTE);
    let unlinks = 0;
    const fsys: FileSystem = {
      ...nodeFileSystem,
      unlink: async (...args: Parameters<typeof nodeFileSystem.unlink>) => {
        unlinks += 1;
        if (unlinks === 1) throw Object.assign(new Error('EACCES: simulated'), { code: 'EACCES' });
        return nodeFileSystem.unlink(...args);
      },
    };
    const result = await sweep({ dir, now, timeouts, fs: fsys });
    assert.deepEqual(result, { scanned: 2, expired: 1, staleTemps: 0, failed: 1, live: 0, indexAdded: 0, indexDropped: 0 });
    assert.equal((await readdir(dir)).length, 1);
  });

  it('does not count a file that vanished meanwhile as a failure', async (t) => {
    const dir = await sessionsDir(t);
    await writeSession(dir, Date.now() - 31 * MINUTE);
    const fsys: FileSystem = {
      ...nodeFileSystem,
      unlink: async () => Promise.reject(Object.assign(new Error('ENOENT: simulated'), { code: 'ENOENT' })),
    };
    assert.deepEqual(await sweep({ dir, now: Date.now(), timeouts, fs: fsys }), {
      scanned: 1,
      expired: 0,
      staleTemps: 0,
      failed: 0,
      live: 0,
      indexAdded: 0,
      indexDropped: 0,
    });
  });
});

describe('Sweeper', () => {
  /** A storage's report of one pass: the Sweeper passes it on as it is. */
  const REPORT: SweepReport = { live: 3, expired: 1, leftovers: 2, failed: 0 };

  it('never overlaps runs, schedules the next only after one finishes, and stop() waits for a run under way', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const interval = 10_000;
    const gates = [gate(), gate(), gate()];
    let opened = 0;
    const slowPass = async (): Promise<SweepReport> => {
      const mine = gates[opened]!;
      opened += 1;
      await mine.promise;
      return REPORT;
    };
    const sweeps: SweepReport[] = [];
    const sweeper = new Sweeper({
      sweep: slowPass,
      intervalMs: interval,
      clock: () => Date.now(),
      onSweep: (report) => sweeps.push(report),
    });

    sweeper.start();
    assert.equal(opened, 1, 'the first sweep starts at once');
    const joined = sweeper.runNow();
    t.mock.timers.tick(3 * interval);
    assert.equal(opened, 1, 'a slow run is never overlapped, by runNow or by the timer');

    gates[0]!.open();
    await joined;
    assert.equal(sweeps.length, 1);
    t.mock.timers.tick(interval - 1);
    assert.equal(opened, 1, 'the interval counts from the end of the previous run');
    t.mock.timers.tick(1);
    assert.equal(opened, 2);

    let stopped = false;
    const stopping = sweeper.stop().then(() => (stopped = true));
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.equal(stopped, false, 'stop waits for the run under way');
    gates[1]!.open();
    await stopping;
    assert.equal(sweeps.length, 2);
    t.mock.timers.tick(10 * interval);
    assert.equal(opened, 2, 'no run after stop');
  });

  it('reports a failed run and tries again at the next interval', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const errors: unknown[] = [];
    const failing = async (): Promise<SweepReport> => {
      throw new Error('storage unreachable');
    };
    const sweeper = new Sweeper({ sweep: failing, intervalMs: 1000, onError: (error) => errors.push(error) });
    await sweeper.runNow();
    assert.equal(errors.length, 1);
    assert.match(String(errors[0]), /storage unreachable/);
    t.mock.timers.tick(1000);
    await sweeper.runNow();
    assert.equal(errors.length, 2);
    await sweeper.stop();
  });

  it('passes the clock time to the pass and reports how long the run took', async () => {
    const now = Date.now();
    const times = [now + 31 * MINUTE, now + 31 * MINUTE + 5];
    const passedNow: number[] = [];
    const reports: Array<[SweepReport, number]> = [];
    const sweeper = new Sweeper({
      sweep: async (at) => {
        passedNow.push(at);
        return REPORT;
      },
      intervalMs: 1000,
      clock: () => times.shift()!,
      onSweep: (report, ms) => reports.push([report, ms]),
    });
    await sweeper.runNow();
    await sweeper.stop();
    assert.deepEqual(passedNow, [now + 31 * MINUTE]);
    assert.deepEqual(reports, [[REPORT, 5]]);
  });
});

describe('sweep, with several processes on one directory', () => {
  it('deletes the lock of a session whose holder died long ago, and keeps a live one and a fresh holder file', async (t) => {
    const dir = await sessionsDir(t);
    const now = Date.now();
    const lockOf = (): string => `${storageKey(newSessionId())}.lock`;
    const holder = (expiresAt: number): string => JSON.stringify({ pid: 1, host: 'h', token: 't', expiresAt });
    const live = await writeAged(dir, lockOf(), holder(now + 5000), now);
    await writeAged(dir, lockOf(), holder(now - 10 * MINUTE), now - 10 * MINUTE);
    const freshTemp = await writeAged(dir, `.${storageKey(newSessionId())}.lock.0123456789ab.tmp`, holder(now + 5000), now);
    await writeAged(dir, `.${storageKey(newSessionId())}.lock.0123456789ab.tmp`, holder(now), now - STALE_TEMP_MS);
    const result = await sweep({ dir, now, timeouts });
    assert.deepEqual((await readdir(dir)).sort(), [live, freshTemp].sort());
    assert.deepEqual(result, { scanned: 4, expired: 0, staleTemps: 2, failed: 0, live: 0, indexAdded: 0, indexDropped: 0 });
  });

  it('lets two sweepers run at once: each expired file is deleted once, and none counts as a failure', async (t) => {
    const dir = await sessionsDir(t);
    const now = Date.now();
    const live = await writeSession(dir, now - MINUTE);
    for (let i = 0; i < 200; i++) await writeSession(dir, now - 31 * MINUTE);
    const results = await Promise.all([sweep({ dir, now, timeouts }), sweep({ dir, now, timeouts })]);
    assert.deepEqual(await readdir(dir), [live]);
    assert.equal(results[0].expired + results[1].expired, 200);
    assert.equal(results[0].failed + results[1].failed, 0);
  });
});
