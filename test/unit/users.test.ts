import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { PasswordHash } from '../../lib/auth/passwords.ts';
import { UserStore, UsersFileError } from '../../lib/auth/users.ts';
import type { UserRecord } from '../../lib/auth/users.ts';
import type { FileSystem } from '../../lib/file-system.ts';
import { hookedFs, systemError } from '../support/files.ts';
import { makeDirs } from '../support/server.ts';

const FILE_MODE_BITS = 0o777;
const HASH: PasswordHash = { algorithm: 'scrypt', N: 1024, r: 8, p: 1, salt: 'c2FsdA==', hash: 'aGFzaA==' };

function user(username: string, overrides: Partial<UserRecord> = {}): UserRecord {
  return { username, displayName: username, createdAt: '2026-11-22T03:10:00.000Z', generation: 0, password: HASH, ...overrides };
}

/** diskThatFills is the real file system whose writes fail with ENOSPC while `full` is true. */
function diskThatFills(full: boolean): { full: boolean; fs: FileSystem } {
  const disk = {
    full,
    fs: hookedFs({
      before: (operation) => {
        if (operation === 'writeFile' && disk.full) throw systemError('ENOSPC', operation);
      },
    }),
  };
  return disk;
}

describe('UserStore', () => {
  it('opens a missing file as an empty store and creates nothing yet', async (t) => {
    const dirs = await makeDirs(t);
    const users = await UserStore.open(dirs.usersFile);
    assert.equal(users.find('alice'), null);
    await assert.rejects(stat(path.dirname(dirs.usersFile)), { code: 'ENOENT' });
  });

  it('adds an account and finds it by name in any case', async (t) => {
    const users = await UserStore.open((await makeDirs(t)).usersFile);
    assert.equal(await users.add(user('Alice')), true);
    assert.equal(users.find('Alice')?.username, 'Alice');
    assert.equal(users.find('alice')?.username, 'Alice');
    assert.equal(users.find('ALICE')?.username, 'Alice');
    assert.equal(users.find('bob'), null);
  });

  it('refuses a name that is taken, in any case, and keeps the first account', async (t) => {
    const dirs = await makeDirs(t);
    const users = await UserStore.open(dirs.usersFile);
    await users.add(user('alice', { displayName: 'the first' }));
    assert.equal(await users.add(user('ALICE', { displayName: 'the second' })), false);
    assert.equal(users.find('alice')?.displayName, 'the first');
    const saved = JSON.parse(await readFile(dirs.usersFile, 'utf8'));
    assert.equal(saved.users.length, 1);
  });

  it('replaces an account with a changed copy and saves it', async (t) => {
    const dirs = await makeDirs(t);
    const users = await UserStore.open(dirs.usersFile);
    await users.add(user('alice'));
    await users.replace(user('alice', { displayName: 'Alice A.', generation: 1 }));
    assert.equal(users.find('alice')?.displayName, 'Alice A.');
    const reopened = await UserStore.open(dirs.usersFile);
    assert.deepEqual(reopened.find('alice'), user('alice', { displayName: 'Alice A.', generation: 1 }));
  });

  it('writes the file with mode 0600 in a directory it creates 0700', async (t) => {
    const dirs = await makeDirs(t);
    const users = await UserStore.open(dirs.usersFile);
    await users.add(user('alice'));
    assert.equal((await stat(dirs.usersFile)).mode & FILE_MODE_BITS, 0o600);
    assert.equal((await stat(path.dirname(dirs.usersFile))).mode & FILE_MODE_BITS, 0o700);
  });

  it('writes atomically: each save is a new file renamed into place, with no temp file left', async (t) => {
    const dirs = await makeDirs(t);
    const users = await UserStore.open(dirs.usersFile);
    await users.add(user('alice'));
    const before = await stat(dirs.usersFile);
    await users.add(user('bob'));
    const afterwards = await stat(dirs.usersFile);
    assert.notEqual(afterwards.ino, before.ino, 'a save in place would keep the inode');
    assert.deepEqual(await readdir(path.dirname(dirs.usersFile)), ['users.json']);
  });

  it('keeps every account when several are added at once', async (t) => {
    const dirs = await makeDirs(t);
    const users = await UserStore.open(dirs.usersFile);
    const names = ['ann', 'ben', 'cat', 'dan', 'eve'];
    assert.deepEqual(await Promise.all(names.map((name) => users.add(user(name)))), names.map(() => true));
    const saved = JSON.parse(await readFile(dirs.usersFile, 'utf8')) as { users: UserRecord[] };
    assert.deepEqual(saved.users.map((u) => u.username).sort(), names);
  });

  it('reads back what it wrote when reopened', async (t) => {
    const dirs = await makeDirs(t);
    const users = await UserStore.open(dirs.usersFile);
    await users.add(user('alice'));
    await users.add(user('bob', { generation: 4 }));
    const reopened = await UserStore.open(dirs.usersFile);
    assert.deepEqual(reopened.find('ALICE'), user('alice'));
    assert.deepEqual(reopened.find('bob'), user('bob', { generation: 4 }));
  });

  it('refuses to open a file that is not a users file', async (t) => {
    const dirs = await makeDirs(t);
    await mkdir(path.dirname(dirs.usersFile));
    await writeFile(dirs.usersFile, JSON.stringify({ version: 2, users: [] }));
    await assert.rejects(UserStore.open(dirs.usersFile), UsersFileError);
    await writeFile(dirs.usersFile, '{ not json');
    await assert.rejects(UserStore.open(dirs.usersFile), { name: 'UsersFileError', message: /not JSON/ });
  });

  describe('checks every account field by field when it opens the file', () => {
    const { password: _password, ...withoutPassword } = user('alice');
    const cases: Array<[string, unknown, RegExp]> = [
      ['an account that is not an object', 'alice', /users\[0\]: not an object/],
      ['a username with a slash', user('al/ice'), /users\[0\]: username/],
      ['a username of two characters', user('al'), /users\[0\]: username/],
      ['an empty display name', user('alice', { displayName: '' }), /users\[0\]: displayName/],
      ['a display name with a line break', user('alice', { displayName: 'a\nb' }), /users\[0\]: displayName/],
      ['a createdAt that is no date', user('alice', { createdAt: 'yesterday' }), /users\[0\]: createdAt/],
      ['a negative generation', user('alice', { generation: -1 }), /users\[0\]: generation/],
      ['a generation that is a string', { ...user('alice'), generation: '0' }, /users\[0\]: generation/],
      ['no password at all', withoutPassword, /users\[0\]: password/],
      ['a password stored in clear', user('alice', { password: 'hunter22' as unknown as PasswordHash }), /users\[0\]: password/],
      ['a hash of another algorithm', user('alice', { password: { ...HASH, algorithm: 'md5' as 'scrypt' } }), /users\[0\]: password/],
      ['an scrypt cost that is not a power of two', user('alice', { password: { ...HASH, N: 1000 } }), /users\[0\]: password/],
      ['a salt that is not base64', user('alice', { password: { ...HASH, salt: 'not base64!' } }), /users\[0\]: password/],
    ];
    for (const [what, account, problem] of cases) {
      it(`refuses ${what}`, async (t) => {
        const dirs = await makeDirs(t);
        await mkdir(path.dirname(dirs.usersFile));
        await writeFile(dirs.usersFile, JSON.stringify({ version: 1, users: [account] }));
        await assert.rejects(UserStore.open(dirs.usersFile), (error: unknown) => {
          assert.ok(error instanceof UsersFileError);
          assert.match(error.message, problem);
          return true;
        });
      });
    }

    it('refuses the same username twice, in any case', async (t) => {
      const dirs = await makeDirs(t);
      await mkdir(path.dirname(dirs.usersFile));
      await writeFile(dirs.usersFile, JSON.stringify({ version: 1, users: [user('alice'), user('Alice')] }));
      await assert.rejects(UserStore.open(dirs.usersFile), { name: 'UsersFileError', message: /users\[1\]: Alice appears twice/ });
    });
  });

  it('passes on an error other than a missing file', async (t) => {
    const dirs = await makeDirs(t);
    // A directory where the file should be: reading it fails with EISDIR.
    await mkdir(dirs.usersFile, { recursive: true });
    await assert.rejects(UserStore.open(dirs.usersFile), { code: 'EISDIR' });
  });

  it('forgets an account whose save failed, so the name is free and nobody can sign in as it', async (t) => {
    const dirs = await makeDirs(t);
    const disk = diskThatFills(true);
    const users = await UserStore.open(dirs.usersFile, disk.fs);
    await assert.rejects(users.add(user('alice')), { code: 'ENOSPC' });
    assert.equal(users.find('alice'), null);
    disk.full = false;
    assert.equal(await users.add(user('alice')), true);
  });

  it('puts back the previous account when saving a change fails', async (t) => {
    const dirs = await makeDirs(t);
    const disk = diskThatFills(false);
    const users = await UserStore.open(dirs.usersFile, disk.fs);
    await users.add(user('alice'));
    disk.full = true;
    await assert.rejects(users.replace(user('alice', { generation: 1 })), { code: 'ENOSPC' });
    assert.equal(users.find('alice')?.generation, 0);
  });
});
