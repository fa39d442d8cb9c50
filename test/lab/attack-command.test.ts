import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SWITCH_NAMES } from '../../lib/lab/switches.ts';
import { serverEnv, spawnServer } from '../support/process.ts';
import { startTestServer } from '../support/server.ts';
import type { Cleanup, TestServer } from '../support/server.ts';

/** A run of scripts/attack.ts is slow to start (tsx), never to finish: this is a deadline, not a wait. */
const DEADLINE_MS = 60_000;

/** attackCommand runs `npm run attack -- ...args` as its own process, as a student would, and returns how it ended. */
async function attackCommand(
  t: Cleanup,
  server: TestServer,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = spawnServer(t, serverEnv(server.dirs, env), ['scripts/attack.ts', ...args]);
  const { code } = await run.exited(DEADLINE_MS);
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

describe('npm run attack', () => {
  it('narrates each step and ends "the attack worked", exit 0, with the switch off', async (t) => {
    const server = await startTestServer(t, {}, { lab: true });
    server.app.lab?.switches.set({ 'rotate-on-sign-in': false });
    const { code, stdout } = await attackCommand(t, server, ['rotate-on-sign-in', '--url', server.url]);
    assert.equal(code, 0);
    const lines = stdout.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^Session fixation, against http:\/\/127\.0\.0\.1:\d+ \(rotate-on-sign-in is OFF\):$/);
    assert.match(lines[1] ?? '', /^ {2}1\. The attacker starts a guest session/);
    assert.equal(lines.at(-1), 'the attack worked');
  });

  it('ends "the attack was stopped by <defence>", exit 0, with the switch on, finding the lab from PORT', async (t) => {
    const server = await startTestServer(t, {}, { lab: true });
    const { code, stdout } = await attackCommand(t, server, ['server-side-logout'], { PORT: new URL(server.url).port });
    assert.equal(code, 0);
    assert.equal(stdout.trimEnd().split('\n').at(-1), 'the attack was stopped by server-side-logout');
  });

  it('all: runs every attack and prints a table', async (t) => {
    const server = await startTestServer(t, {}, { lab: true });
    server.app.lab?.switches.set({ 'http-only': false, 'random-ids': false });
    const { code, stdout } = await attackCommand(t, server, ['all', '--url', server.url]);
    assert.equal(code, 0);
    const rows = stdout.trimEnd().split('\n');
    assert.match(rows[0] ?? '', /^switch\s+defence\s+attack\s+result$/);
    assert.equal(rows.length, 2 + SWITCH_NAMES.length);
    for (const [index, name] of SWITCH_NAMES.entries()) {
      const off = name === 'http-only' || name === 'random-ids';
      assert.match(rows[index + 2] ?? '', new RegExp(`^${name}\\s+${off ? 'OFF' : 'ON'}\\s+.+\\s${off ? 'worked' : 'stopped'}$`));
    }
  });

  it('exits 1 when it cannot run: no lab at that address, or no such attack', async (t) => {
    const normal = await startTestServer(t);
    const notLab = await attackCommand(t, normal, ['expiry', '--url', normal.url]);
    assert.equal(notLab.code, 1);
    assert.match(notLab.stderr, /^attack: could not run: http:\/\/127\.0\.0\.1:\d+ is not a lab server/);
    const unknown = await attackCommand(t, normal, ['no-such-defence']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^usage: npm run attack -- NAME/);
  });
});
