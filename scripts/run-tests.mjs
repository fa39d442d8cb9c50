// Runs the test suite: every *.test.ts under test/ (or under the folders and
// files named on the command line), one file at a time, with node:test and
// tsx. `npm test` runs it under c8 after the type-check.
//
// Node 20's `node --test` neither expands globs nor finds .ts files by
// itself, and a shell's `$(find …)` works only in POSIX shells, so the files
// are listed here, in Node, the same way on Linux, macOS and Windows.
//
//   node scripts/run-tests.mjs                       the whole suite
//   node scripts/run-tests.mjs test/unit test/e2e    only these folders

import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TEST_SUFFIX = '.test.ts';

/**
 * testFiles lists the test files under each of `targets` (folders or
 * files), sorted and relative to the project with forward slashes, so the
 * order and the names are the same on every system.
 * @param {string[]} targets
 * @returns {string[]}
 */
function testFiles(targets) {
  const files = targets.flatMap((target) => {
    const absolute = path.resolve(target);
    if (statSync(absolute).isFile()) return [absolute];
    return readdirSync(absolute, { recursive: true, encoding: 'utf8' })
      .filter((name) => name.endsWith(TEST_SUFFIX))
      .map((name) => path.join(absolute, name));
  });
  const relative = files.map((file) => path.relative(ROOT, file).split(path.sep).join('/'));
  return [...new Set(relative)].sort();
}

const targets = process.argv.slice(2);
const files = testFiles(targets.length > 0 ? targets : ['test']);
if (files.length === 0) {
  console.error(`no *.test.ts files under ${targets.join(', ')}`);
  process.exit(1);
}

// One file at a time: many tests start servers and hash passwords, and the
// machines this runs on may have only two cores.
const run = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], {
  cwd: ROOT,
  stdio: 'inherit',
});
if (run.error !== undefined) throw run.error;
process.exitCode = run.status ?? 1;
