import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Links into these folders must name something that exists. */
const CHECKED_FOLDERS = ['lib/', 'public/', 'test/'];

/** linkTargets are the targets of every Markdown link `[text](target)` in `markdown`, without any #fragment. */
function linkTargets(markdown: string): string[] {
  return [...markdown.matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1]!.split('#', 1)[0]!);
}

/** section is the text of the `## title` section of `markdown`, up to the next `## ` heading. */
function section(markdown: string, title: string): string {
  const start = markdown.indexOf(`\n## ${title}\n`);
  assert.ok(start !== -1, `the README has no "## ${title}" section`);
  const end = markdown.indexOf('\n## ', start + 1);
  return markdown.slice(start, end === -1 ? undefined : end);
}

async function exists(relative: string): Promise<boolean> {
  return stat(path.join(REPO_ROOT, relative)).then(
    () => true,
    () => false,
  );
}

describe('README.md stays true to the tree', async () => {
  const readme = await readFile(path.join(REPO_ROOT, 'README.md'), 'utf8');

  it('links only to lib/, public/ and test/ paths that exist', async () => {
    const checked = linkTargets(readme).filter((target) => CHECKED_FOLDERS.some((folder) => target.startsWith(folder)));
    assert.ok(checked.length > 0, 'the README links into the tree');
    const missing: string[] = [];
    for (const target of new Set(checked)) if (!(await exists(target))) missing.push(target);
    assert.deepEqual(missing, [], 'links to files or folders that are not there');
  });

  it('names every file of lib/ in the file map, itself or through its folder', async () => {
    const mapped = linkTargets(section(readme, 'File map'));
    const libFiles = (await readdir(path.join(REPO_ROOT, 'lib'), { recursive: true }))
      .filter((name) => name.endsWith('.ts'))
      .map((name) => `lib/${name.split(path.sep).join('/')}`);
    const unmapped = libFiles.filter(
      (file) => !mapped.some((target) => target === file || (target.endsWith('/') && file.startsWith(target))),
    );
    assert.deepEqual(unmapped.sort(), [], 'lib/ files the file map does not mention');
  });
});

describe('README.md and docs/ stand alone', async () => {
  const readme = await readFile(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const docs = (await readdir(path.join(REPO_ROOT, 'docs'))).filter((name) => name.endsWith('.md'));

  it('links from docs/*.md only to files that exist, and the README links to each of them', async () => {
    const missing: string[] = [];
    for (const doc of docs) {
      const text = await readFile(path.join(REPO_ROOT, 'docs', doc), 'utf8');
      for (const target of new Set(linkTargets(text))) {
        if (target === '' || /^[a-z]+:/.test(target)) continue;
        if (!(await exists(path.join('docs', target)))) missing.push(`${doc} → ${target}`);
      }
      assert.ok(linkTargets(readme).includes(`docs/${doc}`), `the README links to docs/${doc}`);
    }
    assert.deepEqual(missing, []);
  });

  it('cites no contract document, issue number or commit hash', async () => {
    for (const [name, text] of [
      ['README.md', readme],
      ...(await Promise.all(docs.map(async (doc) => [doc, await readFile(path.join(REPO_ROOT, 'docs', doc), 'utf8')]))),
    ]) {
      assert.doesNotMatch(text!, /SPEC\.md|\bissue #?\d+|\b[Cc]ommit [0-9a-f]{7,40}\b/, name);
    }
  });

  it('starts with how to start, stop and reset, before any deep dive', () => {
    const start = readme.indexOf('\n## Start, stop, start afresh\n');
    assert.ok(start !== -1 && start < readme.indexOf('\n## Try it with curl\n'));
    for (const command of ['npm start', 'Ctrl-C', 'npm run reset'])
      assert.ok(section(readme, 'Start, stop, start afresh').includes(command), command);
    assert.match(section(readme, 'Try it with curl'), /```sh\nnpm run reset\n/, 'the walkthrough starts from a clean slate');
  });
});
