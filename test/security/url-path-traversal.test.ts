import assert from 'node:assert/strict';
import { cp, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startApp } from '../../lib/app.ts';
import type { RunningApp } from '../../lib/app.ts';
import { PUBLIC_DIR } from '../../lib/static-files.ts';
import { Client, PASSWORD, register } from '../support/client.ts';
import { rawExchange } from '../support/raw-http.ts';
import type { RawResponse } from '../support/raw-http.ts';
import { makeDirs, suiteScope, testConfig, silentLogger } from '../support/server.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/**
 * What must never come back: each planted or real file outside public/
 * (and the protected pages) is recognised by a string only it contains.
 */
const SECRETS: ReadonlyArray<[what: string, marker: string]> = [
  ['a session file', '"lastSeenAt"'],
  ['the users file', '"algorithm": "scrypt"'],
  ['package.json', '"name": "cloakroom"'],
  ['server.ts', 'startApp'],
  ['.env', 'CLOAKROOM_TEST_SECRET'],
  ['.git/config', 'repositoryformatversion'],
  ['a text file beside public/', 'TOP-SECRET-TEXT'],
  ['a backup file inside public/', 'BACKUP-COPY'],
  ['a dot file inside public/', 'HIDDEN-DOT-FILE'],
  ['a symbolic link inside public/', 'TOP-SECRET-TEXT'],
  ['an unrendered page template', 'data-theme="{{theme}}"'],
  ['the dashboard, to a signed-out visitor', '<title>Dashboard'],
  ['the profile page, to a signed-out visitor', '<title>Profile'],
];

describe('URL → file traversal: nothing outside public/ is ever served', () => {
  const scope = suiteScope();
  let app: RunningApp;
  let sessionFile: string;
  after(() => scope.close());

  before(async () => {
    const dirs = await makeDirs(scope.context);
    const root = dirs.root;
    const publicDir = path.join(root, 'public');
    // The real public/ with secrets around it, laid out like the repository.
    await cp(PUBLIC_DIR, publicDir, { recursive: true });
    await cp(path.join(REPO, 'package.json'), path.join(root, 'package.json'));
    await cp(path.join(REPO, 'server.ts'), path.join(root, 'server.ts'));
    await writeFile(path.join(root, '.env'), 'CLOAKROOM_TEST_SECRET=hunter2\n');
    await mkdir(path.join(root, '.git'));
    await writeFile(path.join(root, '.git', 'config'), '[core]\n\trepositoryformatversion = 0\n');
    await writeFile(path.join(root, 'secret.txt'), 'TOP-SECRET-TEXT\n');
    await writeFile(path.join(publicDir, 'style.css.bak'), 'BACKUP-COPY\n');
    await writeFile(path.join(publicDir, '.hidden.txt'), 'HIDDEN-DOT-FILE\n');
    await symlink(path.join(root, 'secret.txt'), path.join(publicDir, 'link.txt'));
    app = await startApp(testConfig(dirs), { publicDir, logger: silentLogger() });
    scope.context.after(() => app.close());
    await register(new Client(app.url), 'alice', PASSWORD);
    sessionFile = (await readdir(dirs.sessionsDir))[0]!;
    // Every marker really is in its file, so finding none in a reply means something.
    assert.match(await readFile(path.join(dirs.sessionsDir, sessionFile), 'utf8'), /"lastSeenAt"/);
    assert.match(await readFile(dirs.usersFile, 'utf8'), /"algorithm": "scrypt"/);
  });

  async function get(target: string, method = 'GET'): Promise<RawResponse> {
    const { host } = new URL(app.url);
    return rawExchange(app.url, Buffer.from(`${method} ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, 'latin1'));
  }

  it('serves a public asset on the same raw channel (the control)', async () => {
    const reply = await get('/style.css');
    assert.equal(reply.status, 200);
    assert.equal(reply.body, await readFile(path.join(PUBLIC_DIR, 'style.css'), 'utf8'));
  });

  it('answers none of more than 60 hostile request targets, by GET or HEAD, with a file from outside public/, and none with a 500', async () => {
    const { host } = new URL(app.url);
    const targets = [
      '/../package.json',
      '/../../package.json',
      '/js/../../package.json',
      '/..%2fpackage.json',
      '/%2e%2e/package.json',
      '/%2e%2e%2fpackage.json',
      '/%2E%2E%2Fpackage.json',
      '/.%2e/package.json',
      '/js/%2e%2e/%2e%2e/package.json',
      '/..%5cpackage.json',
      '/%5c..%5cpackage.json',
      '/..\\package.json',
      '/js\\..\\..\\package.json',
      '/%252e%252e/package.json',
      '/%252e%252e%252fpackage.json',
      '/js/..%252f..%252fpackage.json',
      '/%c0%ae%c0%ae/package.json',
      '/%c0%ae%c0%ae%c0%afpackage.json',
      '/%e0%80%ae%e0%80%ae/package.json',
      '/style.css%00/../../package.json',
      '/package.json%00.css',
      '/style.css\0',
      '/..;/package.json',
      '/js/..;/..;/package.json',
      '/;/../package.json',
      '/.env',
      '/../.env',
      '/%2e%65nv',
      '/.git/config',
      '/../.git/config',
      '/secret.txt',
      '/../secret.txt',
      `/sessions/${sessionFile}`,
      `/../sessions/${sessionFile}`,
      `/..%2fsessions%2f${sessionFile}`,
      '/data/users.json',
      '/../data/users.json',
      '/server.ts',
      '/../server.ts',
      '/package.json',
      '/style.css.bak',
      '/.hidden.txt',
      '/link.txt',
      '/public/login.html',
      '/public/dashboard.html',
      '/dashboard.html',
      '/profile.html',
      '/login.html',
      '/js/../dashboard.html',
      '/./dashboard',
      '//dashboard',
      '/dashboard/',
      '/DASHBOARD',
      '/dashboard%2f',
      '/%64ashboard',
      `http://${host}/../package.json`,
      `http://${host}/%2e%2e/package.json`,
      'http://evil.example/../../package.json',
      'http://evil.example/dashboard',
      'file:///etc/passwd',
      '../package.json',
      '*',
    ];
    assert.ok(targets.length >= 60);
    for (const target of targets) {
      for (const method of ['GET', 'HEAD']) {
        const reply = await get(target, method);
        assert.ok(reply.status >= 200 && reply.status < 500, `${method} ${JSON.stringify(target)} answered ${reply.status}`);
        for (const [what, marker] of SECRETS) {
          assert.ok(!reply.body.includes(marker), `${method} ${JSON.stringify(target)} served ${what}`);
        }
      }
    }
  });

  it('sends a signed-out visitor of a protected page to the login page, whatever the spelling', async () => {
    for (const target of ['/dashboard', '/profile', 'http://evil.example/dashboard']) {
      const reply = await get(target);
      assert.equal(reply.status, 303, target);
      assert.match(reply.headers.get('location') ?? '', /^\/login\?next=/);
    }
  });
});

describe('URL → file traversal: a dot folder inside public/ is never served', () => {
  it('answers 404 for files in nested dot folders, raw or encoded, while their ordinary neighbours are served', async (t) => {
    const dirs = await makeDirs(t);
    const publicDir = path.join(dirs.root, 'public');
    await cp(PUBLIC_DIR, publicDir, { recursive: true });
    await mkdir(path.join(publicDir, '.secret'));
    await writeFile(path.join(publicDir, '.secret', 'key.txt'), 'DOT-FOLDER-KEY\n');
    await mkdir(path.join(publicDir, 'js', '.vscode', 'deep'), { recursive: true });
    await writeFile(path.join(publicDir, 'js', '.vscode', 'deep', 'settings.json'), '{"token": "DOT-FOLDER-TOKEN"}\n');
    await writeFile(path.join(publicDir, 'js', 'visible.txt'), 'VISIBLE\n');
    const app = await startApp(testConfig(dirs), { publicDir, logger: silentLogger() });
    t.after(() => app.close());
    const browser = new Client(app.url);

    assert.equal((await browser.get('/js/visible.txt')).text, 'VISIBLE\n', 'the control: a file beside the dot folder is served');
    for (const target of ['/.secret/key.txt', '/%2esecret/key.txt', '/js/.vscode/deep/settings.json', '/js/%2Evscode/deep/settings.json']) {
      const reply = await browser.get(target);
      assert.equal(reply.status, 404, target);
      assert.doesNotMatch(reply.text, /DOT-FOLDER/, target);
    }
  });
});
