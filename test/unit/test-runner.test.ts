import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { makeDirs } from '../support/server.ts';

// The runner behind `npm test` (scripts/run-tests.mjs) and what its summary
// says, run as a person runs them: a real `node` process, its output read.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RUN_TESTS = path.join(ROOT, 'scripts', 'run-tests.mjs');
const run = promisify(execFile);

interface Outcome {
  code: number;
  output: string;
}

/** node runs `args` with the project's Node from the project's folder, with `env` added, and never throws on a failing exit. */
async function node(args: string[], env: Record<string, string | undefined> = {}): Promise<Outcome> {
  // NODE_TEST_CONTEXT tells a process that it is a test file run by another
  // runner, which makes its own `--test` run nothing; this runner is the outermost.
  const childEnv = { ...process.env, NODE_TEST_CONTEXT: undefined, ...env };
  try {
    const { stdout, stderr } = await run(process.execPath, args, { cwd: ROOT, env: childEnv });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof failed.code !== 'number') throw error;
    return { code: failed.code, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

/** summary reads one count ("tests", "pass", "skipped", …) from the runner's closing lines. */
function summary(output: string, name: string): number {
  const line = new RegExp(`^\\S+ ${name} (\\d+)$`, 'm').exec(output);
  assert.ok(line, `no "${name}" count in:\n${output}`);
  return Number(line[1]);
}

/** testFile writes a test file that passes (or fails) with a test named `name`. */
async function testFile(file: string, name: string, passes = true): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const body = passes ? '' : "throw new Error('failed on purpose');";
  await writeFile(file, `import { it } from 'node:test';\nit(${JSON.stringify(name)}, () => { ${body} });\n`);
}

describe('the test runner', () => {
  it('runs every *.test.ts under the folders it is given, nested ones too, and nothing else', async (t) => {
    const { root } = await makeDirs(t);
    await testFile(path.join(root, 'suite', 'a.test.ts'), 'test a ran');
    await testFile(path.join(root, 'suite', 'deep', 'b.test.ts'), 'test b ran');
    await testFile(path.join(root, 'suite', 'helper.ts'), 'a helper ran as a test');
    await testFile(path.join(root, 'suite', 'c.test.js'), 'a JavaScript file ran as a test');

    const outcome = await node([RUN_TESTS, path.join(root, 'suite')]);

    assert.equal(outcome.code, 0, outcome.output);
    assert.match(outcome.output, /test a ran/);
    assert.match(outcome.output, /test b ran/);
    assert.doesNotMatch(outcome.output, /helper ran|JavaScript file ran/);
    assert.equal(summary(outcome.output, 'tests'), 2);
  });

  it('fails when a test fails, and when there is no test file at all', async (t) => {
    const { root } = await makeDirs(t);
    await testFile(path.join(root, 'failing', 'a.test.ts'), 'test a ran', false);
    await mkdir(path.join(root, 'empty'));

    const failing = await node([RUN_TESTS, path.join(root, 'failing')]);
    assert.notEqual(failing.code, 0, failing.output);
    assert.equal(summary(failing.output, 'fail'), 1);

    const empty = await node([RUN_TESTS, path.join(root, 'empty')]);
    assert.notEqual(empty.code, 0, empty.output);
    assert.match(empty.output, /no \*\.test\.ts files/);
  });

  it('counts each browser test as skipped, with the reason, when CHROMIUM_PATH names no browser', async (t) => {
    const { root } = await makeDirs(t);
    const missing = path.join(root, 'no-such-chromium');

    const outcome = await node([RUN_TESTS, 'test/e2e'], { CHROMIUM_PATH: missing, CLOAKROOM_REQUIRE_BROWSER: undefined });

    assert.equal(outcome.code, 0, outcome.output);
    const tests = summary(outcome.output, 'tests');
    assert.ok(tests > 0, outcome.output);
    assert.equal(summary(outcome.output, 'skipped'), tests, 'every browser test is counted as skipped');
    assert.ok(outcome.output.includes(`${missing} not found`), outcome.output);
  });
});
