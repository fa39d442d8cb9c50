import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runAttack } from '../../lib/lab/attacks/attack.ts';
import { ATTACKS } from '../../lib/lab/attacks/index.ts';
import { SWITCH_NAMES } from '../../lib/lab/switches.ts';
import type { SwitchName } from '../../lib/lab/switches.ts';
import { Client } from '../support/client.ts';
import { startTestServer } from '../support/server.ts';
import type { Cleanup } from '../support/server.ts';

// Every defence proved both necessary and effective, through the real
// server in lab mode (real HTTP, temporary directories): with its switch
// off the lesson's attack works, with it on the same attack is stopped.
// The attacks are the very functions `npm run attack` and the lab page's
// "try it" run (lib/lab/attacks/).

/** labServer starts the app in lab mode with `name` switched to `on`, through PUT /api/lab as the lab page does. */
async function labServer(t: Cleanup, name: SwitchName, on: boolean): Promise<{ url: string; sessionsDir: string }> {
  const server = await startTestServer(t, {}, { lab: true });
  const reply = await new Client(server.url).json('PUT', '/api/lab', { [name]: on });
  assert.equal(reply.status, 200, reply.text);
  return { url: server.url, sessionsDir: server.dirs.sessionsDir };
}

describe('the lab: each attack works with its defence off and is stopped with it on', () => {
  for (const name of SWITCH_NAMES) {
    const attack = ATTACKS[name];
    describe(`${name}: ${attack.title}`, () => {
      it('works with the switch off', async (t) => {
        const report = await runAttack(attack, await labServer(t, name, false));
        assert.equal(report.worked, true, report.steps.join('\n'));
        assert.equal(report.verdict, 'the attack worked');
      });

      it(`is stopped by ${name} with the switch on`, async (t) => {
        const report = await runAttack(attack, await labServer(t, name, true));
        assert.equal(report.worked, false, report.steps.join('\n'));
        assert.equal(report.verdict, `the attack was stopped by ${name}`);
      });
    });
  }
});
