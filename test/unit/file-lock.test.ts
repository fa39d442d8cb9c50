import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FileLock, LockTimeoutError, isLockFileStale, removeStaleLock } from '../../lib/file-lock.ts';
import { countThroughLocks } from '../support/locks.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cloakroom-lock-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** deadPid is the pid of a process that has already exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid;
}

/** holderFile writes a lock file as another process would have left it. */
async function holderFile(key: string, holder: { pid: number; host: string; expiresAt: number; token?: string }): Promise<void> {
  await writeFile(path.join(dir, `${key}.lock`), JSON.stringify({ token: 'theirs', ...holder }));
}

describe('FileLock, a lock shared through the file system', () => {
  it('lets two locks on one directory (as two processes would) lose no update of a read-modify-write', async () => {
    assert.deepEqual(await countThroughLocks([new FileLock({ dir }), new FileLock({ dir })], 40), { value: 40, mostInside: 1 });
  });

  it('leaves no lock or temporary file behind, whether the task succeeds or throws', async () => {
    const lock = new FileLock({ dir });
    await lock.run('tidy', async () => undefined);
    await assert.rejects(
      lock.run('tidy', async () => {
        throw new Error('task failed');
      }),
      /task failed/,
    );
    assert.deepEqual(
      (await readdir(dir)).filter((name) => name.includes('tidy')),
      [],
    );
  });

  it('breaks at once the lock of a process of this host that has died (killed while holding it)', async () => {
    await holderFile('dead-holder', { pid: deadPid(), host: hostname(), expiresAt: Date.now() + 60_000 });
    const lock = new FileLock({ dir, maxWaitMs: 0 });
    assert.equal(await lock.run('dead-holder', async () => 'got it'), 'got it');
  });

  it("waits for a live holder's lock and gives a 503 when it stays busy past the wait", async () => {
    await holderFile('busy', { pid: process.pid, host: hostname(), expiresAt: Date.now() + 60_000 });
    let now = Date.now();
    const lock = new FileLock({
      dir,
      maxWaitMs: 1000,
      clock: () => now,
      wait: async (ms) => {
        now += ms;
      },
    });
    const error = await lock.run('busy', async () => 'never').catch((caught: unknown) => caught);
    assert.ok(error instanceof LockTimeoutError);
    assert.equal(error.status, 503);
    assert.equal(error.headers['Retry-After'], '1');
    // The live holder's lock is still there: a waiter never breaks it.
    assert.match(await readFile(path.join(dir, 'busy.lock'), 'utf8'), /theirs/);
  });

  it("breaks another host's lock only once its lease has run out", async () => {
    let now = Date.now();
    await holderFile('remote', { pid: 1, host: 'another-host', expiresAt: now + 5000 });
    const lock = new FileLock({
      dir,
      maxWaitMs: 60_000,
      clock: () => now,
      wait: async (ms) => {
        now += ms;
      },
    });
    const started = now;
    await lock.run('remote', async () => undefined);
    assert.ok(now - started >= 5000, `took the lock after ${now - started} ms, before the lease ran out`);
  });

  it('breaks a lock file that does not say who holds it (edited by hand)', async () => {
    await writeFile(path.join(dir, 'garbled.lock'), 'not json');
    const lock = new FileLock({ dir, maxWaitMs: 0 });
    assert.equal(await lock.run('garbled', async () => 'got it'), 'got it');
  });

  it('does not delete at release a lock that was broken and taken by someone else meanwhile', async () => {
    const lock = new FileLock({ dir });
    await lock.run('stolen', async () => {
      await holderFile('stolen', { pid: process.pid, host: hostname(), expiresAt: Date.now() + 60_000, token: 'newer' });
    });
    assert.match(await readFile(path.join(dir, 'stolen.lock'), 'utf8'), /newer/);
  });

  it('refuses a key that is not a plain file name', async () => {
    const lock = new FileLock({ dir });
    await assert.rejects(
      lock.run('../escape', async () => undefined),
      TypeError,
    );
    await assert.rejects(
      lock.run('', async () => undefined),
      TypeError,
    );
  });
});

describe('isLockFileStale, for the sweeper', () => {
  const now = 1_000_000;
  it('keeps a lock whose lease runs or ran out only just now, and deletes one long expired', () => {
    assert.equal(isLockFileStale(JSON.stringify({ pid: 1, host: 'h', token: 't', expiresAt: now + 10 }), 0, now), false);
    assert.equal(isLockFileStale(JSON.stringify({ pid: 1, host: 'h', token: 't', expiresAt: now - 10 }), 0, now), false);
    assert.equal(isLockFileStale(JSON.stringify({ pid: 1, host: 'h', token: 't', expiresAt: now - 60_000 }), 0, now), true);
  });
  it('judges an unreadable lock file by its age', () => {
    assert.equal(isLockFileStale('', now - 1000, now), false);
    assert.equal(isLockFileStale('', now - 60_000, now), true);
  });
});

describe('removeStaleLock, for the sweeper', () => {
  it('deletes a lock still stale when moved aside, and puts back one that was taken again since the sweeper looked', async () => {
    const now = Date.now();
    await holderFile('swept', { pid: 1, host: 'h', expiresAt: now - 60_000 });
    assert.equal(await removeStaleLock(path.join(dir, 'swept.lock'), now), true);
    await holderFile('retaken', { pid: process.pid, host: hostname(), expiresAt: now + 5000, token: 'fresh' });
    assert.equal(await removeStaleLock(path.join(dir, 'retaken.lock'), now), false);
    assert.match(await readFile(path.join(dir, 'retaken.lock'), 'utf8'), /fresh/);
    assert.deepEqual(
      (await readdir(dir)).filter((name) => name.includes('swept') || name.includes('retaken')),
      ['retaken.lock'],
    );
  });
});
