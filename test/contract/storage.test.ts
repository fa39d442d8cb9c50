import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { FilesStorage, throttleDirOf } from '../../lib/storage/files.ts';
import { MemoryStorage } from '../../lib/storage/memory.ts';
import { openSqliteStorage } from '../../lib/storage/sqlite/storage.ts';
import { newRecord } from '../../lib/sessions/record.ts';
import { newSessionId } from '../../lib/sessions/session-id.ts';
import { T0 } from '../support/clock.ts';
import { makeDirs } from '../support/server.ts';
import { describeSqlite, openTestStorage, sqliteFile } from '../support/sqlite.ts';
import { CONTRACT_TIMEOUTS } from '../unit/session-store-contract.ts';
import { storageContract } from './storage-contract.ts';

// One contract, every backend. A backend that cannot keep a case lists it
// here with its reason; every other case must pass.

storageContract('files', async (t, timeouts) => {
  const dirs = await makeDirs(t);
  const open = () => FilesStorage.open({ sessionsDir: dirs.sessionsDir, usersFile: dirs.usersFile, timeouts });
  return { storage: await open(), again: open };
});

storageContract('memory', async (_t, timeouts) => ({ storage: new MemoryStorage(timeouts), again: null }));

// On a Node without node:sqlite (20), one test proves the refusal instead.
describeSqlite('sqlite', () => {
  storageContract(
    'sqlite',
    async (t, timeouts) => {
      const file = await sqliteFile(t);
      return { storage: await openTestStorage(t, { timeouts }, file), again: () => openSqliteStorage(file, { timeouts }) };
    },
    [
      {
        case: 'notes the ending of each session its sweep finds expired',
        reason:
          'the sweep deletes expired rows by their expires_at column in batches, without reading each record to tell an idle from an absolute expiry, so it writes no note; a browser coming back after the sweep is told "no session" without the reason (an expiry found on read is still noted)',
      },
    ],
  );
});

describe('FilesStorage', () => {
  it("still counts the live sessions when the counters' clean-up fails, and counts that failure", async (t) => {
    const dirs = await makeDirs(t);
    const storage = await FilesStorage.open({ sessionsDir: dirs.sessionsDir, usersFile: dirs.usersFile, timeouts: CONTRACT_TIMEOUTS });
    await storage.sessions.create(newSessionId(), newRecord(T0, 'created as guest'));
    // A file where the counters' folder should be: their clean-up cannot read it.
    await writeFile(throttleDirOf(dirs.usersFile), 'not a folder');
    const report = await storage.sweep(T0 + 1);
    assert.equal(report.live, 1);
    assert.equal(report.failed, 1);
  });

  it('names a session as `ls` shows it from beside SESSIONS_DIR', async (t) => {
    const dirs = await makeDirs(t);
    const storage = await FilesStorage.open({ sessionsDir: dirs.sessionsDir, usersFile: dirs.usersFile, timeouts: CONTRACT_TIMEOUTS });
    const fileId = 'ab'.repeat(32);
    assert.equal(storage.where(fileId), `${path.basename(dirs.sessionsDir)}/${fileId}.json`);
    assert.equal(storage.where(fileId, 4), `${path.basename(dirs.sessionsDir)}/abab….json`);
  });
});
