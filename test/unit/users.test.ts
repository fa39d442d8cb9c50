import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { PasswordHash } from '../../lib/auth/passwords.ts';
import { UserFileStore, UsersFileError } from '../../lib/auth/users.ts';
import type { UserRecord } from '../../lib/auth/users.ts';
import type { FileSystem } from '../../lib/file-system.ts';
import { hookedFs, systemError } from '../support/files.ts';
import { usersIn } from '../support/json.ts';
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

describe('UserFileStore', () => {
  it('opens a missing file as an empty store and creates nothing yet', async (t) => {
    const dirs = await makeDirs(t);
    const users = await UserFileStore.open(dirs.usersFile);
    assert.equal(await users.find('alice'), null);
    await assert.rejects(stat(path.dirname(dirs.usersFile)), { code: 'ENOENT' });
  });

  it('adds an account and finds it by name in any case', async (t) => {
    const users = await UserFileStore.open((await makeDirs(t)).usersFile);
    assert.equal(await users.add(user('Alice')), true);
    assert.equal((await users.find('Alice'))?.username, 'Alice');
    assert.equal((await users.find('alice'))?.username, 'Alice');
    assert.equal((await users.find('ALICE'))?.username, 'Alice');
    assert.equal(await users.find('bob'), null);
  });

  it('refuses a name that is taken, in any case, and keeps the first account', async (t) => {
    const dirs = await makeDirs(t);
    const users = await UserFileStore.open(dirs.usersFile);
    await users.add(user('alice', { displayName: 'the first' }));
    assert.equal(await users.add(user('ALICE', { displayName: 'the second' })), false);
    assert.equal((await users.find('alice'))?.displayName, 'the first');
    assert.equal(usersIn(await readFile(dirs.usersFile, 'utf8')).length, 1);
  });

  it('updates an account from its stored copy and saves it', async (t) => {
    const dirs = await makeDirs(t);
    const users = await UserFileStore.open(dirs.usersFile);
    await users.add(user('alice'));
    const saved = await users.update('ALICE', (current) => ({ ...current, displayName: 'Alice A.', generation: 1 }));
    assert.deepEqual(saved, user('alice', { displayName: 'Alice A.', generation: 1 }));
    assert.equal((await users.find('alice'))?.displayName, 'Alice A.');
    const reopened = await UserFileStore.open(dirs.usersFile);
    assert.deepEqual(await reopened.find('alice'), user('alice', { displayName: 'Alice A.', generation: 1 }));
  });

  it('writes the file with mode 0600 in a directory it creates 0700', async (t) => {
    const dirs = await makeDirs(t);
    const users = await UserFileStore.open(dirs.usersFile);
    await users.add(user('alice'));
    assert.equal((await stat(dirs.usersFile)).mode & FILE_MODE_BITS, 0o600);
    assert.equal((await stat(path.dirname(dirs.usersFile))).mode & FILE_MODE_BITS, 0o700);
  });

  it('writes atomically: each save is a new file renamed into place, with no temp file left', async (t) => {
    const dirs = await makeDirs(t);
    const users = await UserFileStore.open(dirs.usersFile);
    await users.add(user('alice'));
    const before = await stat(dirs.usersFile);
    await users.add(user('bob'));
    const afterwards = await stat(dirs.usersFile);
    assert.notEqual(afterwards.ino, before.ino, 'a save in place would keep the inode');
    assert.deepEqual(await readdir(path.dirname(dirs.usersFile)), ['users.json']);
  });

  it('keeps every account when several are added at once', async (t) => {
    const dirs = await makeDirs(t);
    const users = await UserFileStore.open(dirs.usersFile);
    const names = ['ann', 'ben', 'cat', 'dan', 'eve'];
    assert.deepEqual(
      await Promise.all(names.map((name) => users.add(user(name)))),
      names.map(() => true),
    );
    const saved = JSON.parse(await readFile(dirs.usersFile, 'utf8')) as { users: UserRecord[] };
    assert.deepEqual(saved.users.map((u) => u.username).sort(), names);
  });

  it('reads back what it wrote when reopened', async (t) => {
    const dirs = await makeDirs(t);
    const users = await UserFileStore.open(dirs.usersFile);
    await users.add(user('alice'));
    await users.add(user('bob', { generation: 4 }));
    const reopened = await UserFileStore.open(dirs.usersFile);
    assert.deepEqual(await reopened.find('ALICE'), user('alice'));
    assert.deepEqual(await reopened.find('bob'), user('bob', { generation: 4 }));
  });

  it('refuses to open a file that is not a users file', async (t) => {
    const dirs = await makeDirs(t);
    await mkdir(path.dirname(dirs.usersFile));
    await writeFile(dirs.usersFile, JSON.stringify({ version: 2, users: [] }));
    await assert.rejects(UserFileStore.open(dirs.usersFile), UsersFileError);
    await writeFile(dirs.usersFile, '{ not json');
    await assert.rejects(UserFileStore.open(dirs.usersFile), { name: 'UsersFileError', message: /not JSON/ });
  });

  describe('checks every account field by field when it opens the file', () => {
    const withoutPassword: Partial<UserRecord> = user('alice');
    delete withoutPassword.password;
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
        await assert.rejects(UserFileStore.open(dirs.usersFile), (error: unknown) => {
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
      await assert.rejects(UserFileStore.open(dirs.usersFile), { name: 'UsersFileError', message: /users\[1\]: Alice appears twice/ });
    });
  });

  it('passes on an error other than a missing file', async (t) => {
    const dirs = await makeDirs(t);
    // A directory where the file should be: reading it fails with EISDIR.
    await mkdir(dirs.usersFile, { recursive: true });
    await assert.rejects(UserFileStore.open(dirs.usersFile), { code: 'EISDIR' });
  });

  it('forgets an account whose save failed, so the name is free and nobody can sign in as it', async (t) => {
    const dirs = await makeDirs(t);
    const disk = diskThatFills(true);
    const users = await UserFileStore.open(dirs.usersFile, disk.fs);
    await assert.rejects(users.add(user('alice')), { code: 'ENOSPC' });
    assert.equal(await users.find('alice'), null);
    disk.full = false;
    assert.equal(await users.add(user('alice')), true);
  });

  it('keeps the previous account when saving a change fails', async (t) => {
    const dirs = await makeDirs(t);
    const disk = diskThatFills(false);
    const users = await UserFileStore.open(dirs.usersFile, disk.fs);
    await users.add(user('alice'));
    disk.full = true;
    await assert.rejects(
      users.update('alice', (current) => ({ ...current, generation: 1 })),
      { code: 'ENOSPC' },
    );
    assert.equal((await users.find('alice'))?.generation, 0);
  });

  it('changes nothing for an account that does not exist, and passes on an error of the change itself', async (t) => {
    const dirs = await makeDirs(t);
    const users = await UserFileStore.open(dirs.usersFile);
    assert.equal(await users.update('nobody', (current) => current), null);
    await users.add(user('alice'));
    const before = await readFile(dirs.usersFile, 'utf8');
    await assert.rejects(
      users.update('alice', () => {
        throw new Error('refused');
      }),
      /refused/,
    );
    assert.equal(await readFile(dirs.usersFile, 'utf8'), before);
  });
});

describe('UserFileStore shared by two processes (two stores on one file)', () => {
  it('sees an account the other registered, at the very next find', async (t) => {
    const dirs = await makeDirs(t);
    const a = await UserFileStore.open(dirs.usersFile);
    const b = await UserFileStore.open(dirs.usersFile);
    assert.equal(await b.find('alice'), null);
    await a.add(user('alice'));
    assert.equal((await b.find('alice'))?.username, 'alice');
  });

  it('loses no account when both register different names, and keeps both changes to one account', async (t) => {
    const dirs = await makeDirs(t);
    const a = await UserFileStore.open(dirs.usersFile);
    const b = await UserFileStore.open(dirs.usersFile);
    await a.add(user('alice'));
    assert.equal(await b.add(user('bobby')), true);
    assert.equal(await a.add(user('carol')), true);
    await Promise.all([
      a.update('alice', (current) => ({ ...current, displayName: 'Alice A.' })),
      b.update('alice', (current) => ({ ...current, generation: current.generation + 1 })),
    ]);
    const saved = JSON.parse(await readFile(dirs.usersFile, 'utf8')) as { users: UserRecord[] };
    assert.deepEqual(saved.users.map((u) => u.username).sort(), ['alice', 'bobby', 'carol']);
    assert.deepEqual(await b.find('alice'), user('alice', { displayName: 'Alice A.', generation: 1 }));
  });

  it('gives exactly one of two registrations of one name at the same moment', async (t) => {
    const dirs = await makeDirs(t);
    const a = await UserFileStore.open(dirs.usersFile);
    const b = await UserFileStore.open(dirs.usersFile);
    const results = await Promise.all([a.add(user('dana', { displayName: 'A' })), b.add(user('DANA', { displayName: 'B' }))]);
    assert.deepEqual(results.sort(), [false, true]);
    const saved = JSON.parse(await readFile(dirs.usersFile, 'utf8')) as { users: UserRecord[] };
    assert.equal(saved.users.length, 1);
  });

  it('reads a users file of the version-1 shape, written by hand or by an older Cloakroom, with every account intact', async (t) => {
    const dirs = await makeDirs(t);
    await mkdir(path.dirname(dirs.usersFile), { recursive: true });
    const existing = { version: 1, users: [user('alice'), user('bob', { generation: 3, displayName: 'Bob B.' })] };
    await writeFile(dirs.usersFile, JSON.stringify(existing, null, 2));
    const users = await UserFileStore.open(dirs.usersFile);
    await users.add(user('carol'));
    const saved = JSON.parse(await readFile(dirs.usersFile, 'utf8')) as { version: number; users: UserRecord[] };
    assert.equal(saved.version, 1);
    assert.deepEqual(saved.users, [...existing.users, user('carol')]);
  });

  it('treats a users file deleted while running (a reset) as no accounts', async (t) => {
    const dirs = await makeDirs(t);
    const users = await UserFileStore.open(dirs.usersFile);
    await users.add(user('alice'));
    await rm(dirs.usersFile);
    assert.equal(await users.find('alice'), null);
    assert.equal(await users.add(user('alice')), true);
  });
});
