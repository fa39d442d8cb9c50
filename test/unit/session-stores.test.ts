import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import type { FileSystem } from '../../lib/file-system.ts';
import { FileSessionStore, MAX_SESSION_FILE_BYTES } from '../../lib/sessions/file-store.ts';
import type { FileStoreOptions } from '../../lib/sessions/file-store.ts';
import { MemorySessionStore } from '../../lib/sessions/memory-store.ts';
import { newRecord } from '../../lib/sessions/record.ts';
import type { SessionRecord } from '../../lib/sessions/record.ts';
import { newSessionId, storageKey } from '../../lib/sessions/session-id.ts';
import { USER_INDEX_DIR, userKey } from '../../lib/sessions/user-index.ts';
import { StoreError } from '../../lib/sessions/store.ts';
import { T0 } from '../support/clock.ts';
import { failingFs, hookedFs } from '../support/files.ts';
import { makeDirs } from '../support/server.ts';
import { CONTRACT_TIMEOUTS, recordOf, storeContract } from './session-store-contract.ts';

storeContract('FileSessionStore', async (t, timeouts) => {
  const { sessionsDir } = await makeDirs(t);
  await mkdir(sessionsDir);
  return new FileSessionStore({ dir: sessionsDir, timeouts });
});

storeContract('MemorySessionStore', async (_t, timeouts) => new MemorySessionStore(timeouts));

const FILE_MODE_BITS = 0o777;

interface Corruption {
  fileName: string;
  reason: string;
}

/** fileStore makes a FileSessionStore over a fresh temp directory, recording onCorrupt calls. */
async function fileStore(t: TestContext, options: Partial<FileStoreOptions> = {}) {
  const { sessionsDir } = await makeDirs(t);
  await mkdir(sessionsDir, { mode: 0o700 });
  const corrupt: Corruption[] = [];
  const store = new FileSessionStore({
    dir: sessionsDir,
    timeouts: CONTRACT_TIMEOUTS,
    onCorrupt: (fileName, reason) => corrupt.push({ fileName, reason }),
    ...options,
  });
  return { store, dir: sessionsDir, corrupt };
}

/** countingFs is the real file system, counting readFile calls. */
function countingFs(): { fs: FileSystem; reads: () => number } {
  let reads = 0;
  const fs = hookedFs({
    before: (operation) => {
      if (operation === 'readFile') reads += 1;
    },
  });
  return { fs, reads: () => reads };
}

function guestRecord(cart: string[] = ['apple']): SessionRecord {
  return newRecord(T0, 'created as guest', { cart, theme: null });
}

describe('FileSessionStore on disk', () => {
  it('names the file after the hex SHA-256 of the ID', async (t) => {
    const { store, dir } = await fileStore(t);
    const id = newSessionId();
    await store.create(id, guestRecord());
    const expected = `${createHash('sha256').update(id).digest('hex')}.json`;
    assert.equal(store.fileNameFor(id), expected);
    assert.deepEqual(await readdir(dir), [expected]);
  });

  it('writes the file with mode 0600', async (t) => {
    const { store, dir } = await fileStore(t);
    const id = newSessionId();
    await store.create(id, guestRecord());
    assert.equal((await stat(path.join(dir, store.fileNameFor(id)))).mode & FILE_MODE_BITS, 0o600);
  });

  it('writes pretty-printed JSON with two-space indents', async (t) => {
    const { store, dir } = await fileStore(t);
    const id = newSessionId();
    const record = guestRecord();
    await store.create(id, record);
    assert.equal(await readFile(path.join(dir, store.fileNameFor(id)), 'utf8'), `${JSON.stringify(record, null, 2)}\n`);
  });

  it('never writes the raw ID, in a file name or in a file', async (t) => {
    const { store, dir } = await fileStore(t);
    const id = newSessionId();
    await store.create(id, guestRecord());
    await store.update(id, { ...guestRecord(), user: 'alice', generation: 0 });
    for (const name of await readdir(dir)) {
      assert.ok(!name.includes(id));
      assert.ok(!(await readFile(path.join(dir, name), 'utf8')).includes(id));
    }
  });

  it('leaves no temporary file behind after create and update', async (t) => {
    const { store, dir } = await fileStore(t);
    const id = newSessionId();
    await store.create(id, guestRecord());
    await store.update(id, guestRecord(['pear']));
    assert.deepEqual(await readdir(dir), [store.fileNameFor(id)]);
  });

  it('replaces the file by rename on update (a new inode), so a reader never sees half a file', async (t) => {
    const { store, dir } = await fileStore(t);
    const id = newSessionId();
    await store.create(id, guestRecord());
    const file = path.join(dir, store.fileNameFor(id));
    const before = await stat(file);
    await store.update(id, guestRecord(['pear']));
    assert.notEqual((await stat(file)).ino, before.ino);
  });

  it('deletes the file of a record that get finds expired', async (t) => {
    const { store, dir } = await fileStore(t);
    const id = newSessionId();
    await store.create(id, guestRecord());
    assert.deepEqual(await store.get(id, T0 + CONTRACT_TIMEOUTS.idleMs), { miss: 'expired-idle' });
    assert.deepEqual(await readdir(dir), []);
  });

  it('deletes the file on destroy', async (t) => {
    const { store, dir } = await fileStore(t);
    const id = newSessionId();
    await store.create(id, guestRecord());
    await store.destroy(id);
    assert.deepEqual(await readdir(dir), []);
  });

  it('returns read-only records, so no caller can change the cache', async (t) => {
    const { store } = await fileStore(t);
    const id = newSessionId();
    await store.create(id, guestRecord());
    const record = recordOf(await store.get(id, T0))!;
    assert.throws(() => record.data.cart.push('smuggled'), TypeError);
    assert.deepEqual(recordOf(await store.get(id, T0))?.data.cart, ['apple']);
  });

  it('creates the directory again (0700) if it was deleted while running', async (t) => {
    const { store, dir } = await fileStore(t);
    await rm(dir, { recursive: true });
    const id = newSessionId();
    await store.create(id, guestRecord());
    assert.equal((await stat(dir)).mode & FILE_MODE_BITS, 0o700);
    assert.deepEqual(await store.get(id, T0), { record: guestRecord() });
  });

  describe('an unreadable file is "no session"', () => {
    const cases: Array<{ it: string; contents: string; reason: string }> = [
      { it: 'a corrupt file', contents: '{"version":1,"createdAt":', reason: 'not a session record' },
      { it: 'an empty file', contents: '', reason: 'empty' },
      { it: 'a file of the wrong shape', contents: JSON.stringify({ version: 1, user: 'admin' }), reason: 'not a session record' },
      {
        it: 'a file over the size limit',
        contents: ' '.repeat(MAX_SESSION_FILE_BYTES + 1),
        reason: `larger than ${MAX_SESSION_FILE_BYTES} bytes`,
      },
    ];
    for (const c of cases) {
      it(`misses ${c.it} as unreadable and reports it once per version of the file`, async (t) => {
        const { store, dir, corrupt } = await fileStore(t);
        const id = newSessionId();
        const fileName = store.fileNameFor(id);
        await writeFile(path.join(dir, fileName), c.contents, { mode: 0o600 });
        assert.deepEqual(await store.get(id, T0), { miss: 'unreadable' });
        assert.deepEqual(await store.get(id, T0), { miss: 'unreadable' });
        assert.deepEqual(corrupt, [{ fileName, reason: c.reason }]);
        // Another version of the file (a new inode, as another writer would make) is judged afresh.
        const replacement = path.join(dir, 'replacement');
        await writeFile(replacement, `${c.contents} `);
        await rename(replacement, path.join(dir, fileName));
        assert.equal(recordOf(await store.get(id, T0)), null);
        assert.equal(corrupt.length, 2);
      });
    }

    it('reports a file deleted between its stat and its read as not found, not as corrupt', async (t) => {
      const id = newSessionId();
      const fsys = hookedFs({
        // The race, made certain: a logout deletes the file right after the store's stat.
        before: (operation, args) => (operation === 'readFile' ? unlink(String(args[0])).catch(() => undefined) : undefined),
      });
      const { store, dir, corrupt } = await fileStore(t, { fs: fsys });
      await writeFile(path.join(dir, store.fileNameFor(id)), JSON.stringify(guestRecord()), { mode: 0o600 });
      assert.deepEqual(await store.get(id, T0), { miss: 'not-found' });
      assert.deepEqual(corrupt, []);
    });

    it('misses a directory where the file should be as unreadable', async (t) => {
      const { store, dir, corrupt } = await fileStore(t);
      const id = newSessionId();
      await mkdir(path.join(dir, store.fileNameFor(id)));
      assert.deepEqual(await store.get(id, T0), { miss: 'unreadable' });
      assert.deepEqual(
        corrupt.map((c) => c.reason),
        ['not a regular file'],
      );
    });

    it('lets a corrupt file be replaced by a good one at sign-in (create)', async (t) => {
      const { store, dir } = await fileStore(t);
      const id = newSessionId();
      await writeFile(path.join(dir, store.fileNameFor(id)), 'garbage');
      assert.equal(recordOf(await store.get(id, T0)), null);
      await store.create(id, guestRecord());
      assert.deepEqual(await store.get(id, T0), { record: guestRecord() });
    });
  });

  describe('cache coherence: the files are the truth', () => {
    it('reads an unchanged file only once', async (t) => {
      const fsys = countingFs();
      const { store } = await fileStore(t, { fs: fsys.fs });
      const id = newSessionId();
      await store.create(id, guestRecord());
      await store.get(id, T0);
      await store.get(id, T0);
      await store.get(id, T0);
      assert.equal(fsys.reads(), 1);
    });

    it('sees a hand edit on the next get, even one that keeps the size', async (t) => {
      const { store, dir } = await fileStore(t);
      const id = newSessionId();
      await store.create(id, guestRecord(['apple']));
      assert.deepEqual(recordOf(await store.get(id, T0))?.data.cart, ['apple']);
      const file = path.join(dir, store.fileNameFor(id));
      const before = await stat(file);
      await writeFile(file, (await readFile(file, 'utf8')).replace('"apple"', '"mango"'));
      // An editor's save moves mtime on; set it explicitly so the test never depends on timestamp resolution.
      await utimes(file, before.atime, new Date(before.mtimeMs + 1000));
      assert.equal((await stat(file)).size, before.size);
      assert.deepEqual(recordOf(await store.get(id, T0))?.data.cart, ['mango']);
    });

    it('sees a file replaced by another process on the next get', async (t) => {
      const { store, dir } = await fileStore(t);
      const id = newSessionId();
      await store.create(id, guestRecord(['apple']));
      await store.get(id, T0);
      const other = path.join(dir, 'written-elsewhere');
      await writeFile(other, JSON.stringify({ ...guestRecord(['pear']), user: 'alice', generation: 0 }));
      await rename(other, path.join(dir, store.fileNameFor(id)));
      const record = recordOf(await store.get(id, T0));
      assert.equal(record?.user, 'alice');
      assert.deepEqual(record.data.cart, ['pear']);
    });

    it('sees a deletion by hand on the next get, and update then does not bring it back', async (t) => {
      const { store, dir } = await fileStore(t);
      const id = newSessionId();
      await store.create(id, guestRecord());
      assert.ok('record' in (await store.get(id, T0)));
      await unlink(path.join(dir, store.fileNameFor(id)));
      assert.equal(recordOf(await store.get(id, T0)), null);
      assert.equal(await store.update(id, guestRecord()), false);
      assert.deepEqual(await readdir(dir), []);
    });

    it('keeps at most maxCacheEntries records, dropping the oldest', async (t) => {
      const fsys = countingFs();
      const { store } = await fileStore(t, { fs: fsys.fs, maxCacheEntries: 2 });
      const [a, b, c] = [newSessionId(), newSessionId(), newSessionId()];
      for (const id of [a, b, c]) await store.create(id, guestRecord());
      await store.get(a, T0);
      await store.get(b, T0);
      assert.equal(fsys.reads(), 2);
      await store.get(a, T0);
      await store.get(b, T0);
      assert.equal(fsys.reads(), 2, 'a and b are cached');
      await store.get(c, T0);
      assert.equal(fsys.reads(), 3);
      await store.get(b, T0);
      assert.equal(fsys.reads(), 3, 'b is still cached');
      await store.get(a, T0);
      assert.equal(fsys.reads(), 4, 'a was dropped to make room for c');
    });

    it('keeps the records it no longer holds parsed as text, so they are not read again', async (t) => {
      const fsys = countingFs();
      const { store } = await fileStore(t, { fs: fsys.fs, maxCacheEntries: 3, maxParsedEntries: 1 });
      const ids = [newSessionId(), newSessionId(), newSessionId()];
      for (const [index, id] of ids.entries()) await store.create(id, guestRecord([`item ${index}`]));
      for (const id of ids) await store.get(id, T0);
      assert.equal(fsys.reads(), 3);
      for (const [index, id] of ids.entries()) {
        const record = recordOf(await store.get(id, T0));
        assert.deepEqual(record, guestRecord([`item ${index}`]));
        assert.ok(Object.isFrozen(record.data.cart), 'a record parsed from text is as read-only as one read from its file');
      }
      assert.equal(fsys.reads(), 3, 'every record came from the cache, parsed or as text');
    });

    it('reads a file again when it changed while its record was held as text', async (t) => {
      const fsys = countingFs();
      const { store, dir } = await fileStore(t, { fs: fsys.fs, maxCacheEntries: 3, maxParsedEntries: 1 });
      const [a, b] = [newSessionId(), newSessionId()];
      await store.create(a, guestRecord(['apple']));
      await store.create(b, guestRecord());
      await store.get(a, T0);
      await store.get(b, T0);
      const other = path.join(dir, 'written-elsewhere');
      await writeFile(other, JSON.stringify(guestRecord(['pear'])));
      await rename(other, path.join(dir, store.fileNameFor(a)));
      assert.deepEqual(recordOf(await store.get(a, T0))?.data.cart, ['pear']);
      assert.equal(fsys.reads(), 3);
      await unlink(path.join(dir, store.fileNameFor(b)));
      assert.deepEqual(await store.get(b, T0), { miss: 'not-found' });
    });
  });

  describe('a failing disk is an error, not "no session"', () => {
    const cases: Array<{
      it: string;
      method: keyof FileSystem;
      run: (store: FileSessionStore, id: string) => Promise<unknown>;
      operation: string;
    }> = [
      { it: 'get fails when stat fails', method: 'statSync', run: (store, id) => store.get(id, T0), operation: 'read' },
      { it: 'get fails when the read fails', method: 'readFile', run: (store, id) => store.get(id, T0), operation: 'read' },
      {
        it: 'create fails when the write fails',
        method: 'writeFile',
        run: (store, id) => store.create(id, guestRecord()),
        operation: 'create',
      },
      { it: 'update fails when stat fails', method: 'statSync', run: (store, id) => store.update(id, guestRecord()), operation: 'update' },
      {
        it: 'update fails when the rename fails',
        method: 'rename',
        run: (store, id) => store.update(id, guestRecord()),
        operation: 'update',
      },
      { it: 'destroy fails when unlink fails', method: 'unlink', run: (store, id) => store.destroy(id), operation: 'destroy' },
    ];
    for (const c of cases) {
      it(`${c.it}: StoreError (503), and no temporary file is left`, async (t) => {
        const { store: healthy, dir } = await fileStore(t);
        const id = newSessionId();
        await healthy.create(id, guestRecord());
        const broken = new FileSessionStore({ dir, timeouts: CONTRACT_TIMEOUTS, fs: failingFs(c.method, 'EACCES') });
        await assert.rejects(c.run(broken, id), (error: unknown) => {
          assert.ok(error instanceof StoreError);
          assert.equal(error.status, 503);
          assert.equal(error.operation, c.operation);
          assert.equal((error.cause as { code?: string }).code, 'EACCES');
          return true;
        });
        assert.deepEqual(await readdir(dir), [healthy.fileNameFor(id)]);
        assert.deepEqual(await healthy.get(id, T0), { record: guestRecord() });
      });
    }

    it('create fails when the directory cannot be made again', async (t) => {
      const { dir } = await fileStore(t);
      await rm(dir, { recursive: true });
      const store = new FileSessionStore({ dir, timeouts: CONTRACT_TIMEOUTS, fs: failingFs('mkdir', 'EACCES') });
      await assert.rejects(store.create(newSessionId(), guestRecord()), StoreError);
    });

    it('create fails when the write fails again after making the directory', async (t) => {
      const { dir } = await fileStore(t);
      await rm(dir, { recursive: true });
      const store = new FileSessionStore({ dir, timeouts: CONTRACT_TIMEOUTS, fs: failingFs('writeFile', 'ENOENT') });
      await assert.rejects(store.create(newSessionId(), guestRecord()), { name: 'StoreError', operation: 'create' });
    });
  });
});

describe("FileSessionStore's user index on disk", () => {
  const signedIn = (user: string): SessionRecord => ({ ...guestRecord(), user, generation: 0 });

  it('writes a 0600 marker named by the file id in a 0700 folder per user, and nothing for a guest', async (t) => {
    const { store, dir } = await fileStore(t);
    const [alice, guest] = [newSessionId(), newSessionId()];
    await store.create(guest, guestRecord());
    assert.deepEqual(await readdir(dir), [store.fileNameFor(guest)], 'a guest has no index');
    await store.create(alice, signedIn('Alice'));
    const folder = path.join(dir, USER_INDEX_DIR, userKey('alice'));
    assert.deepEqual(await readdir(folder), [storageKey(alice)]);
    assert.equal((await stat(path.join(folder, storageKey(alice)))).mode & FILE_MODE_BITS, 0o600);
    for (const each of [folder, path.dirname(folder)]) assert.equal((await stat(each)).mode & FILE_MODE_BITS, 0o700);
  });

  it('removes the marker and the folders left empty when the last session of a user ends', async (t) => {
    const { store, dir } = await fileStore(t);
    const [first, second] = [newSessionId(), newSessionId()];
    await store.create(first, signedIn('alice'));
    await store.create(second, signedIn('alice'));
    await store.destroy(first);
    assert.deepEqual(await readdir(path.join(dir, USER_INDEX_DIR, userKey('alice'))), [storageKey(second)]);
    await store.destroyByFileId(storageKey(second));
    assert.deepEqual(await readdir(dir), []);
  });

  it('stores nothing and throws StoreError when the marker cannot be written', async (t) => {
    const fs = hookedFs({
      before: (operation, args) => {
        if (operation === 'writeFile' && String(args[0]).includes(`${path.sep}${USER_INDEX_DIR}${path.sep}`)) {
          throw Object.assign(new Error('EACCES: injected'), { code: 'EACCES' });
        }
      },
    });
    const { store, dir } = await fileStore(t, { fs });
    const id = newSessionId();
    await assert.rejects(store.create(id, signedIn('alice')), StoreError);
    assert.deepEqual(recordOf(await store.get(id, T0)), null);
    assert.deepEqual(
      (await readdir(dir)).filter((name) => name.endsWith('.json')),
      [],
    );
  });

  it('lists through the index only, checking each file: a marker in the wrong folder lists nothing', async (t) => {
    const { store, dir } = await fileStore(t);
    const bob = newSessionId();
    await store.create(bob, signedIn('bob'));
    // A marker of bob's session planted in alice's folder: the file names bob, so alice is not shown it.
    await mkdir(path.join(dir, USER_INDEX_DIR, userKey('alice')), { recursive: true });
    await writeFile(path.join(dir, USER_INDEX_DIR, userKey('alice'), storageKey(bob)), '');
    assert.deepEqual(await store.listByUser('alice', T0), []);
  });
});
