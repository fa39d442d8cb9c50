import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CONTENT_TYPES, isFresh, loadStaticFiles, PUBLIC_DIR } from '../../lib/static-files.ts';
import { makeDirs } from '../support/server.ts';

describe('loadStaticFiles', () => {
  it('maps each asset to its URL path with the right Content-Type', async (t) => {
    const { root } = await makeDirs(t);
    const dir = path.join(root, 'public');
    await mkdir(path.join(dir, 'js', 'deep'), { recursive: true });
    await writeFile(path.join(dir, 'style.css'), 'body{}');
    await writeFile(path.join(dir, 'js', 'app.js'), 'export {};');
    await writeFile(path.join(dir, 'js', 'deep', 'mod.MJS'), 'export {};');
    await writeFile(path.join(dir, 'icon.svg'), '<svg/>');
    await writeFile(path.join(dir, 'logo.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
    const files = loadStaticFiles(dir);
    assert.deepEqual([...files].map(([urlPath, file]) => [urlPath, file.contentType]).sort(), [
      ['/icon.svg', 'image/svg+xml; charset=utf-8'],
      ['/js/app.js', 'text/javascript; charset=utf-8'],
      ['/js/deep/mod.MJS', 'text/javascript; charset=utf-8'],
      ['/logo.png', 'image/png'],
      ['/style.css', 'text/css; charset=utf-8'],
    ]);
    assert.equal(files.get('/style.css')?.body.toString(), 'body{}');
  });

  it('leaves out HTML pages, dot files, unknown types and symbolic links', async (t) => {
    const { root } = await makeDirs(t);
    const dir = path.join(root, 'public');
    await mkdir(dir);
    await writeFile(path.join(root, 'secret.css'), 'outside public/');
    await writeFile(path.join(dir, 'dashboard.html'), '<p>signed in only</p>');
    await writeFile(path.join(dir, '.env.txt'), 'SECRET=1');
    await writeFile(path.join(dir, 'notes.md'), '# notes');
    await writeFile(path.join(dir, 'server.ts'), 'code');
    await symlink(path.join(root, 'secret.css'), path.join(dir, 'linked.css'));
    assert.deepEqual([...loadStaticFiles(dir).keys()], []);
  });

  it('gives each file a quoted ETag that changes with its bytes and only with them', async (t) => {
    const { root } = await makeDirs(t);
    const dir = path.join(root, 'public');
    await mkdir(dir);
    await writeFile(path.join(dir, 'a.css'), 'same');
    await writeFile(path.join(dir, 'b.css'), 'same');
    await writeFile(path.join(dir, 'c.css'), 'different');
    const files = loadStaticFiles(dir);
    const etag = files.get('/a.css')!.etag;
    assert.match(etag, /^"[A-Za-z0-9_-]{27}"$/);
    assert.equal(files.get('/b.css')!.etag, etag);
    assert.notEqual(files.get('/c.css')!.etag, etag);
  });

  it('serves the real public/ directory without its HTML pages', () => {
    const files = loadStaticFiles(PUBLIC_DIR);
    assert.ok(files.has('/style.css'));
    assert.ok(files.has('/favicon.svg'));
    assert.ok([...files.keys()].some((key) => key.startsWith('/js/')));
    assert.deepEqual(
      [...files.keys()].filter((key) => key.endsWith('.html')),
      [],
    );
  });

  it('gives every text type a charset', () => {
    for (const [extension, type] of Object.entries(CONTENT_TYPES)) {
      if (type.startsWith('image/png') || type.startsWith('image/x-icon')) continue;
      assert.match(type, /; charset=utf-8$/, extension);
    }
  });
});

describe('isFresh', () => {
  const etag = '"abc"';
  const cases: Array<{ header: string | undefined; fresh: boolean }> = [
    { header: undefined, fresh: false },
    { header: '', fresh: false },
    { header: '"abc"', fresh: true },
    { header: 'W/"abc"', fresh: true },
    { header: '*', fresh: true },
    { header: '"old", "abc"', fresh: true },
    { header: '"old",W/"abc"', fresh: true },
    { header: '"abcd"', fresh: false },
    { header: 'abc', fresh: false },
    { header: '"old"', fresh: false },
  ];
  for (const c of cases) {
    it(`is ${c.fresh} for If-None-Match ${JSON.stringify(c.header)}`, () => assert.equal(isFresh(c.header, etag), c.fresh));
  }
});

describe('loadStaticFiles and dot folders', () => {
  it('leaves out every file below a dot folder, at any depth, and keeps its ordinary neighbours', async (t) => {
    const { root } = await makeDirs(t);
    const dir = path.join(root, 'public');
    await mkdir(path.join(dir, '.secret'), { recursive: true });
    await mkdir(path.join(dir, '.vscode', 'deep'), { recursive: true });
    await mkdir(path.join(dir, 'js', '.cache'), { recursive: true });
    await writeFile(path.join(dir, '.secret', 'key.txt'), 'KEY');
    await writeFile(path.join(dir, '.vscode', 'deep', 'settings.json'), '{}');
    await writeFile(path.join(dir, 'js', '.cache', 'old.js'), 'export {};');
    await writeFile(path.join(dir, 'js', 'app.js'), 'export {};');
    assert.deepEqual([...loadStaticFiles(dir).keys()], ['/js/app.js']);
  });
});
