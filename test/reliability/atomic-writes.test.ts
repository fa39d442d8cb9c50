import assert from 'node:assert/strict';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { FileSessionStore, SESSIONS_DIR_MODE, TEMP_FILE_PATTERN } from '../../lib/sessions/file-store.ts';
import { newRecord, parseRecord } from '../../lib/sessions/record.ts';
import type { SessionRecord } from '../../lib/sessions/record.ts';
import { newSessionId } from '../../lib/sessions/session-id.ts';
import { hookedFs } from '../support/files.ts';
import { makeDirs } from '../support/server.ts';

const WRITES = 1000;
const READERS = 4;
const TIMEOUTS = { idleMs: 1_800_000, absoluteMs: 28_800_000 };
const MAX_ITEMS = 100;

/**
 * versionRecord is write number `version`: a cart whose length and contents
 * change with every write (so sizes differ and a torn file cannot pass for
 * a whole one), every item naming the version it belongs to.
 */
function versionRecord(base: SessionRecord, version: number): SessionRecord {
  const cart = Array.from({ length: version % MAX_ITEMS }, (_, index) => `v${version}-item-${index}`);
  return { ...base, data: { cart, theme: version % 2 === 0 ? 'dark' : 'light' } };
}

/** versionOf reads back which write a record came from, and checks every item agrees. */
function versionOf(record: SessionRecord): number | 'empty cart' {
  const versions = new Set(record.data.cart.map((item) => item.slice(1, item.indexOf('-'))));
  assert.ok(versions.size <= 1, `a cart mixes items of writes ${[...versions].join(', ')}`);
  const [version] = versions;
  return version === undefined ? 'empty cart' : Number(version);
}

describe('atomic session writes', () => {
  it(`never show a reader a torn, empty or mixed file during ${WRITES} rewrites, and leave no temp file`, async (t) => {
    const dirs = await makeDirs(t);
    await mkdir(dirs.sessionsDir, { recursive: true, mode: SESSIONS_DIR_MODE });
    const store = new FileSessionStore({ dir: dirs.sessionsDir, timeouts: TIMEOUTS });
    const id = newSessionId();
    const base = newRecord(Date.now(), 'created for the hammer');
    await store.create(id, base);
    const file = path.join(dirs.sessionsDir, store.fileNameFor(id));

    let writing = true;
    const seen = new Set<number | 'empty cart'>();
    let reads = 0;
    const reader = async (): Promise<void> => {
      while (writing) {
        const text = await readFile(file, 'utf8');
        assert.notEqual(text, '', 'a reader saw an empty file');
        // JSON.parse throws on a torn file; parseRecord also checks the shape.
        JSON.parse(text);
        const record = parseRecord(text);
        assert.ok(record !== null, `a reader saw something that is not a record: ${text.slice(0, 80)}`);
        seen.add(versionOf(record));
        reads += 1;
      }
    };
    const readers = Array.from({ length: READERS }, reader);

    try {
      for (let version = 1; version <= WRITES; version += 1) {
        assert.equal(await store.update(id, versionRecord(base, version)), true);
      }
    } finally {
      writing = false;
    }
    await Promise.all(readers);

    t.diagnostic(`${reads} reads by ${READERS} readers saw ${seen.size} different versions of the file`);
    assert.ok(seen.size > 1, 'the readers must have read while the writes went on');
    assert.deepEqual(await readdir(dirs.sessionsDir), [store.fileNameFor(id)], 'only the session file remains');
    const final = parseRecord(await readFile(file, 'utf8'));
    assert.deepEqual(final?.data, versionRecord(base, WRITES).data);
  });
});

describe('temporary files of atomic writes', () => {
  it('get a unique name every time, so two writers of one session never share one', async (t) => {
    const dirs = await makeDirs(t);
    await mkdir(dirs.sessionsDir, { mode: SESSIONS_DIR_MODE });
    const temps: string[] = [];
    const fs = hookedFs({
      before: (operation, args) => {
        if (operation === 'writeFile') temps.push(path.basename(String(args[0])));
      },
    });
    // Two stores on one directory, as two Cloakroom processes would be.
    const stores = [
      new FileSessionStore({ dir: dirs.sessionsDir, timeouts: TIMEOUTS, fs }),
      new FileSessionStore({ dir: dirs.sessionsDir, timeouts: TIMEOUTS, fs }),
    ];
    const id = newSessionId();
    const base = newRecord(Date.now(), 'created as guest');
    await stores[0]!.create(id, base);
    await Promise.all(Array.from({ length: 20 }, (_, version) => stores[version % 2]!.update(id, versionRecord(base, version + 1))));
    assert.equal(temps.length, 21);
    assert.equal(new Set(temps).size, temps.length, 'a temporary name was used twice');
    for (const name of temps) assert.match(name, TEMP_FILE_PATTERN);
    assert.deepEqual(await readdir(dirs.sessionsDir), [stores[0]!.fileNameFor(id)]);
  });
});
