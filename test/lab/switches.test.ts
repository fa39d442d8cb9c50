import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAttackArgs } from '../../lib/lab/attack-command.ts';
import { nextIds } from '../../lib/lab/attacks/guessable-ids.ts';
import { countedSessionId } from '../../lib/lab/counted-ids.ts';
import { isLoopbackHost, LAB_DIRECTORIES, labEnvironment } from '../../lib/lab/mode.ts';
import { defenceSite, switchRead } from '../../lib/lab/sites.ts';
import { LabSwitches, SWITCH_NAMES, SwitchesError } from '../../lib/lab/switches.ts';
import { isWellFormedSessionId, newSessionId } from '../../lib/sessions/session-id.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** sourceFiles lists the TypeScript files under `folder` of the project, relative to its root. */
async function sourceFiles(folder: string): Promise<string[]> {
  const names = await readdir(path.join(REPO_ROOT, folder), { recursive: true });
  return names.filter((name) => name.endsWith('.ts')).map((name) => `${folder}/${name.split(path.sep).join('/')}`);
}

/** A line of code that reads a switch: `defences['http-only']`, `defences.expiry`. */
const SWITCH_READ = new RegExp(`defences(?:\\['(?:${SWITCH_NAMES.join('|')})'\\]|\\.(?:${SWITCH_NAMES.join('|')})\\b)`);

describe('LabSwitches', () => {
  it('starts with every defence on, in lab mode', () => {
    const switches = new LabSwitches();
    assert.deepEqual(switches.state(), Object.fromEntries(SWITCH_NAMES.map((name) => [name, true])));
    assert.equal(switches.defences.lab, true);
  });

  it('changes the live defences the app reads, and answers a copy', () => {
    const switches = new LabSwitches();
    const live = switches.defences;
    const state = switches.set({ expiry: false });
    assert.equal(live.expiry, false);
    state.expiry = true;
    assert.equal(live.expiry, false, 'the answer is a copy');
  });

  it('applies all of a change or none of it', () => {
    const switches = new LabSwitches();
    assert.throws(() => switches.set({ expiry: false, 'no-such': false }), SwitchesError);
    assert.throws(() => switches.set({ 'http-only': false, expiry: 'off' }), SwitchesError);
    assert.throws(() => switches.set({ lab: false }), SwitchesError, '`lab` is no switch');
    assert.equal(switches.defences.expiry, true);
    assert.equal(switches.defences['http-only'], true);
    assert.equal(switches.defences.lab, true);
  });
});

describe('each defence reads its switch where it happens, beside a comment naming the attack', () => {
  for (const name of SWITCH_NAMES) {
    it(`the lab page finds ${name}'s line, with its comment above`, () => {
      const site = defenceSite(name);
      const line = site.excerpt.find((entry) => entry.line === site.line);
      assert.ok(line?.text.includes(switchRead(name)), `${site.file}:${site.line}`);
      const before = site.excerpt.filter((entry) => entry.line < site.line).map((entry) => entry.text.trim());
      assert.ok(
        before.some((text) => text.startsWith('//')),
        `no comment above ${site.file}:${site.line}`,
      );
    });
  }

  it('every line in lib/ that reads a switch has a comment on the line above', async () => {
    const bare: string[] = [];
    let reads = 0;
    // lib/lab/ only describes the reads (the lab page's sites); the defences are elsewhere.
    for (const file of (await sourceFiles('lib')).filter((name) => !name.startsWith('lib/lab/'))) {
      const lines = (await readFile(path.join(REPO_ROOT, file), 'utf8')).split('\n');
      lines.forEach((text, index) => {
        if (!SWITCH_READ.test(text) || text.trim().startsWith('//') || text.trim().startsWith('*')) return;
        reads += 1;
        if (!(lines[index - 1] ?? '').trim().startsWith('//')) bare.push(`${file}:${index + 1}`);
      });
    }
    assert.ok(reads >= SWITCH_NAMES.length, `only ${reads} switch reads found`);
    assert.deepEqual(bare, []);
  });
});

describe('only lab mode can make switches', () => {
  it('LabSwitches is made only by the Lab, the Lab only by startApp with AppOptions.lab, and that only by scripts/lab.ts', async () => {
    const files = [...(await sourceFiles('lib')), ...(await sourceFiles('scripts')), 'server.ts'];
    const where = async (pattern: RegExp): Promise<string[]> => {
      const found: string[] = [];
      for (const file of files) if (pattern.test(await readFile(path.join(REPO_ROOT, file), 'utf8'))) found.push(file);
      return found;
    };
    assert.deepEqual(await where(/new LabSwitches\(/), ['lib/lab/mode.ts']);
    assert.deepEqual(await where(/new Lab\(/), ['lib/lab/mode.ts']);
    assert.deepEqual(await where(/openLab\(/), ['lib/app.ts', 'lib/lab/mode.ts']);
    assert.deepEqual(await where(/startApp\([^)]*lab: true/), ['scripts/lab.ts']);
    assert.match(await readFile(path.join(REPO_ROOT, 'lib/app.ts'), 'utf8'), /options\.lab === true \? openLab\(/);
  });
});

describe('lab mode settings', () => {
  const hosts: Array<[string, boolean]> = [
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['localhost', true],
    ['LOCALHOST', true],
    ['::1', true],
    ['[::1]', true],
    ['0.0.0.0', false],
    ['::', false],
    ['10.0.0.1', false],
    ['128.0.0.1', false],
    ['localhost.example.org', false],
    ['127.0.0.1.example.org', false],
  ];
  for (const [host, loopback] of hosts) {
    it(`HOST=${host} is ${loopback ? '' : 'not '}a loopback address`, () => assert.equal(isLoopbackHost(host), loopback));
  }

  it('keeps its own directories unless SESSIONS_DIR or USERS_FILE are set', () => {
    assert.deepEqual(labEnvironment({}), LAB_DIRECTORIES);
    assert.deepEqual(labEnvironment({ SESSIONS_DIR: '' }), LAB_DIRECTORIES);
    assert.deepEqual(labEnvironment({ SESSIONS_DIR: '/tmp/s', PORT: '4000' }), {
      SESSIONS_DIR: '/tmp/s',
      PORT: '4000',
      USERS_FILE: LAB_DIRECTORIES.USERS_FILE,
    });
  });
});

describe("the lab's weak IDs and the attacker's guesses", () => {
  it('counted IDs are well formed, and each is the one before plus one', () => {
    const [first, second] = [countedSessionId(), countedSessionId()];
    assert.equal(isWellFormedSessionId(first), true);
    assert.deepEqual(nextIds(first, 1), [second]);
  });

  it('reads a random ID in base64url digits: the guesses are well formed and never the next random ID', () => {
    const seen = newSessionId();
    const guesses = nextIds(seen, 3);
    assert.equal(
      guesses.every((guess) => isWellFormedSessionId(guess)),
      true,
    );
    assert.equal(nextIds('AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA_', 1)[0], 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABA');
  });
});

describe('npm run attack: the command line', () => {
  const lines: Array<[string[], ReturnType<typeof parseAttackArgs>]> = [
    [['expiry'], { name: 'expiry', url: null }],
    [['all', '--url', 'http://127.0.0.1:4000'], { name: 'all', url: 'http://127.0.0.1:4000' }],
    [['--url', 'http://[::1]:3000', 'http-only'], { name: 'http-only', url: 'http://[::1]:3000' }],
    [[], null],
    [['no-such-defence'], null],
    [['expiry', 'http-only'], null],
    [['expiry', '--url'], null],
  ];
  for (const [args, expected] of lines) {
    it(`reads ${JSON.stringify(args)}`, () => assert.deepEqual(parseAttackArgs(args), expected));
  }
});
