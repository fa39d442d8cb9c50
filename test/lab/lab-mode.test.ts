import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { startApp } from '../../lib/app.ts';
import { ConfigError } from '../../lib/config.ts';
import { signedInVictim, VICTIM } from '../../lib/lab/attacks/attack.ts';
import type { Attack } from '../../lib/lab/attacks/attack.ts';
import { cookieTheft } from '../../lib/lab/attacks/cookie-theft.ts';
import { csrf } from '../../lib/lab/attacks/csrf.ts';
import { fixation } from '../../lib/lab/attacks/fixation.ts';
import { guessableIds } from '../../lib/lab/attacks/guessable-ids.ts';
import { logoutReplay } from '../../lib/lab/attacks/logout-replay.ts';
import { lostUpdate } from '../../lib/lab/attacks/lost-update.ts';
import { DEFENDED, SWITCH_NAMES, weakenedNote } from '../../lib/lab/switches.ts';
import { Logger } from '../../lib/log.ts';
import { RAW_ID_FILE_PATTERN } from '../../lib/sessions/file-store.ts';
import { Client } from '../support/client.ts';
import { bodyOf, sessionView } from '../support/json.ts';
import { serverEnv, spawnServer } from '../support/process.ts';
import { makeDirs, silentLogger, startTestServer, testConfig } from '../support/server.ts';
import type { Dirs, TestServer } from '../support/server.ts';

/** BANNER: what every page says in lab mode. */
const BANNER = 'Lab mode: defences can be switched off';
/** Every route the lab adds, with a method and path that would reach it. */
const LAB_ROUTES: Array<[string, string]> = [
  ['GET', '/lab'],
  ['GET', '/api/lab'],
  ['PUT', '/api/lab'],
  ['POST', '/api/lab/attacks/rotate-on-sign-in'],
  ['POST', '/api/lab/clock'],
  ['DELETE', '/api/lab/clock'],
  ['GET', '/lab/source/expiry'],
];
/** Every switch off, as a PUT /api/lab body. */
const ALL_OFF = Object.fromEntries(SWITCH_NAMES.map((name) => [name, false]));

function labServer(t: Parameters<typeof startTestServer>[0]): Promise<TestServer> {
  return startTestServer(t, {}, { lab: true });
}

describe('outside lab mode there is no lab', () => {
  it('answers 404 on every lab route, as on any unknown path', async (t) => {
    const server = await startTestServer(t);
    const client = server.client();
    for (const [method, path] of LAB_ROUTES) {
      const reply = await client.json(method, path, method === 'GET' ? undefined : {});
      assert.equal(reply.status, 404, `${method} ${path}`);
    }
  });

  it('runs on DEFENDED: frozen, every defence on, and no lab', async (t) => {
    const server = await startTestServer(t);
    assert.equal(server.app.defences, DEFENDED);
    assert.equal(server.app.lab, null);
    assert.equal(Object.isFrozen(DEFENDED), true);
    assert.equal(DEFENDED.lab, false);
    for (const name of SWITCH_NAMES) assert.equal(DEFENDED[name], true, name);
    assert.throws(() => {
      (DEFENDED as unknown as Record<string, boolean>)['rotate-on-sign-in'] = false;
    }, TypeError);
  });

  it('stops every attack that needs no lab API, even after PUT /api/lab asked for every switch off', async (t) => {
    const server = await startTestServer(t);
    assert.equal((await server.client().json('PUT', '/api/lab', ALL_OFF)).status, 404);
    const attacks: Attack[] = [fixation, cookieTheft, guessableIds, csrf, lostUpdate, logoutReplay];
    for (const attack of attacks) {
      const steps: string[] = [];
      const worked = await attack.run({ url: server.url, sessionsDir: server.dirs.sessionsDir }, (step) => steps.push(step));
      assert.equal(worked, false, `${attack.title}:\n${steps.join('\n')}`);
    }
  });

  it('shows no lab banner on any page', async (t) => {
    const server = await startTestServer(t);
    assert.doesNotMatch((await server.client().get('/login')).text, new RegExp(BANNER));
  });
});

describe('lab mode starts only where it is safe', () => {
  it('refuses a HOST that is not a loopback address: exit 1, naming HOST', async (t) => {
    const dirs = await makeDirs(t);
    const lab = spawnServer(t, serverEnv(dirs, { HOST: '0.0.0.0' }), ['scripts/lab.ts']);
    const { code } = await lab.exited(20_000);
    assert.equal(code, 1);
    assert.match(lab.stderr(), /^HOST: the lab switches defences off, so it listens only on a loopback address .*"0\.0\.0\.0"/);
  });

  for (const host of ['0.0.0.0', '192.168.1.10', '::', 'example.org']) {
    it(`startApp in lab mode refuses HOST=${host} before listening`, async (t) => {
      const dirs = await makeDirs(t);
      await assert.rejects(startApp(testConfig(dirs, { host }), { lab: true, logger: silentLogger() }), (error: unknown) => {
        return error instanceof ConfigError && error.message.startsWith('HOST:');
      });
    });
  }

  it('refuses WORKERS above 1 and a STORE other than files or memory', async (t) => {
    const dirs = await makeDirs(t);
    const refused = async (overrides: Parameters<typeof testConfig>[1], variable: string): Promise<void> => {
      await assert.rejects(startApp(testConfig(dirs, overrides), { lab: true, logger: silentLogger() }), (error: unknown) => {
        return error instanceof ConfigError && error.message.startsWith(`${variable}:`);
      });
    };
    await refused({ workers: 2 }, 'WORKERS');
    await refused({ store: { kind: 'sqlite', path: `${dirs.root}/lab.db` } }, 'STORE');
  });

  it('npm run lab starts on loopback, prints where the lab is, and serves it', async (t) => {
    const dirs = await makeDirs(t);
    const lab = spawnServer(t, serverEnv(dirs), ['scripts/lab.ts']);
    const [, url] = await lab.line(/Cloakroom listening on (http:\/\/\S+) in lab mode: defences can be switched off at \S+\/lab/);
    const page = await new Client(url!).get('/lab');
    assert.equal(page.status, 200);
    assert.match(page.text, new RegExp(BANNER));
  });
});

describe('the lab API', () => {
  it('GET /api/lab tells every switch (all on at start), where each defence is, and the store', async (t) => {
    const server = await labServer(t);
    const body = bodyOf(await server.client().get('/api/lab'));
    assert.deepEqual(body.switches, Object.fromEntries(SWITCH_NAMES.map((name) => [name, true])));
    assert.equal(body.store, 'files');
    assert.equal(body.absoluteTimeoutSeconds, 28_800);
    assert.deepEqual(Object.keys(body.sites as object), [...SWITCH_NAMES]);
  });

  it('PUT /api/lab sets the switches named and answers the new state', async (t) => {
    const server = await labServer(t);
    const reply = await server.client().json('PUT', '/api/lab', { 'rotate-on-sign-in': false, expiry: false });
    assert.equal(reply.status, 200);
    const switches = bodyOf(reply).switches as Record<string, boolean>;
    assert.equal(switches['rotate-on-sign-in'], false);
    assert.equal(switches.expiry, false);
    assert.equal(switches['http-only'], true);
    assert.equal(server.app.defences['rotate-on-sign-in'], false);
  });

  const refusals: Array<[string, unknown]> = [
    ['an unknown name', { 'rotate-on-sign-in': false, 'no-such-defence': false }],
    ['a name from the prototype', JSON.parse('{"__proto__": false}')],
    ['a string', { expiry: 'false' }],
    ['a number', { expiry: 0 }],
    ['null', { expiry: null }],
  ];
  for (const [what, body] of refusals) {
    it(`PUT /api/lab with ${what} is 400 and changes nothing`, async (t) => {
      const server = await labServer(t);
      const reply = await server.client().json('PUT', '/api/lab', body);
      assert.equal(reply.status, 400, reply.text);
      assert.equal(bodyOf(reply).error, 'invalid_switch');
      for (const name of SWITCH_NAMES) assert.equal(server.app.defences[name], true, name);
    });
  }

  it('refuses another origin on its own controls even with origin-check off', async (t) => {
    const server = await labServer(t);
    const client = server.client();
    assert.equal((await client.json('PUT', '/api/lab', { 'origin-check': false })).status, 200);
    const elsewhere = { Origin: 'http://evil.example', 'Sec-Fetch-Site': 'cross-site' };
    assert.equal((await client.json('PUT', '/api/lab', { expiry: false }, elsewhere)).status, 403);
    assert.equal((await client.json('POST', '/api/lab/attacks/expiry', {}, elsewhere)).status, 403);
    assert.equal((await client.json('POST', '/api/lab/clock', { advanceSeconds: 60 }, elsewhere)).status, 403);
    assert.equal(server.app.defences.expiry, true);
    assert.equal(server.app.lab?.clock.offsetMs, 0);
  });

  it("runs a lesson's attack against itself: POST /api/lab/attacks/<switch> answers its steps and verdict", async (t) => {
    const server = await labServer(t);
    const client = server.client();
    await client.json('PUT', '/api/lab', { 'rotate-on-sign-in': false });
    const off = bodyOf(await client.json('POST', '/api/lab/attacks/rotate-on-sign-in'));
    assert.equal(off.worked, true);
    assert.equal(off.verdict, 'the attack worked');
    assert.ok(Array.isArray(off.steps) && off.steps.length >= 4, JSON.stringify(off.steps));
    await client.json('PUT', '/api/lab', { 'rotate-on-sign-in': true });
    const on = bodyOf(await client.json('POST', '/api/lab/attacks/rotate-on-sign-in'));
    assert.equal(on.verdict, 'the attack was stopped by rotate-on-sign-in');
    assert.equal((await client.json('POST', '/api/lab/attacks/no-such-defence')).status, 404);
  });

  it('moves its clock forward and back, within bounds', async (t) => {
    const server = await labServer(t);
    const client = server.client();
    assert.deepEqual(bodyOf(await client.json('POST', '/api/lab/clock', { advanceSeconds: 90 })), { clockOffsetSeconds: 90 });
    for (const advanceSeconds of [0, -5, '60', 366 * 24 * 3600]) {
      assert.equal((await client.json('POST', '/api/lab/clock', { advanceSeconds })).status, 400, String(advanceSeconds));
    }
    assert.deepEqual(bodyOf(await client.json('DELETE', '/api/lab/clock')), { clockOffsetSeconds: 0 });
  });

  it('serves the file in which a defence happens, and 404 for anything else', async (t) => {
    const server = await labServer(t);
    const source = await server.client().get('/lab/source/origin-check');
    assert.equal(source.status, 200);
    assert.match(source.headers.get('content-type') ?? '', /^text\/plain/);
    assert.match(source.text, /defences\['origin-check'\]/);
    assert.equal((await server.client().get('/lab/source/..%2Fconfig')).status, 404);
  });
});

describe('lab mode shows itself and leaves nothing normal mode would trust', () => {
  it('puts the banner on every page, signed in or not', async (t) => {
    const server = await labServer(t);
    const visitor = server.client();
    for (const path of ['/login', '/register', '/lab']) assert.match((await visitor.get(path)).text, new RegExp(BANNER), path);
    const member = server.client();
    assert.equal((await member.json('POST', '/register', { username: 'alice', password: 'correct horse battery' })).status, 201);
    for (const path of ['/dashboard', '/profile', '/devices']) assert.match((await member.get(path)).text, new RegExp(BANNER), path);
  });

  it('sessions made with IDs from a counter, kept at sign-in or named by the raw ID are refused, and raw-named files deleted, by a server outside the lab', async (t) => {
    const dirs: Dirs = await makeDirs(t);
    const lab = await startApp(testConfig(dirs), { lab: true, logger: silentLogger() });
    let labClosed = false;
    t.after(() => (labClosed ? undefined : lab.close()));
    lab.lab?.switches.set({ 'random-ids': false, 'rotate-on-sign-in': false, 'hashed-file-names': false, 'server-side-logout': false });
    const guest = new Client(lab.url);
    assert.equal((await guest.json('POST', '/api/cart', { item: 'umbrella' })).status, 200);
    const victim = await signedInVictim(lab.url, guest.sid);
    const loggedOut = await signedInVictim(lab.url);
    const afterLogout = loggedOut.sid;
    await loggedOut.request('POST', '/logout', { json: {} });
    lab.lab?.switches.set({ 'hashed-file-names': true });
    const counted = await signedInVictim(lab.url);
    const ids = [guest.sid, victim.sid, afterLogout, counted.sid].filter((id) => id !== null && id !== undefined);
    assert.equal(ids.length, 4);
    assert.ok(
      (await readdir(dirs.sessionsDir)).some((name) => RAW_ID_FILE_PATTERN.test(name)),
      'the lab wrote raw-named files',
    );
    await lab.close();
    labClosed = true;

    const normal = await startApp(testConfig(dirs), { logger: silentLogger() });
    t.after(() => normal.close());
    for (const id of ids) {
      const client = new Client(normal.url);
      client.cookies.set('sid', id);
      assert.equal((await client.get('/api/me')).status, 401, `the lab's session ${id.slice(0, 6)}… was trusted`);
    }
    await normal.sweeper.runNow();
    assert.deepEqual(
      (await readdir(dirs.sessionsDir)).filter((name) => RAW_ID_FILE_PATTERN.test(name)),
      [],
      'a raw-named file outlived the sweep',
    );
  });
});

describe("the explain log and the session's history note each weakened step", () => {
  it('"lab: rotate-on-sign-in is OFF, the ID was kept at sign-in", in both', async (t) => {
    const lines: string[] = [];
    const logger = new Logger({ mode: 'explain', write: (text) => lines.push(text), color: false });
    const server = await startTestServer(t, {}, { lab: true, logger });
    server.app.lab?.switches.set({ 'rotate-on-sign-in': false });
    const browser = server.client();
    await browser.json('POST', '/api/cart', { item: 'umbrella' });
    const planted = browser.sid;
    await signedInVictim(server.url, planted);
    browser.cookies.set('sid', planted!);
    const events = sessionView(await browser.get('/api/session')).events.map(({ event }) => event);
    assert.ok(events.includes(weakenedNote('rotate-on-sign-in')), events.join('\n'));
    assert.equal(weakenedNote('rotate-on-sign-in'), 'lab: rotate-on-sign-in is OFF, the ID was kept at sign-in');
    assert.match(lines.join('\n'), /weakened lab: rotate-on-sign-in is OFF, the ID was kept at sign-in/);
  });

  for (const name of SWITCH_NAMES) {
    it(`the explain log says when ${name} is off and let a step through`, async (t) => {
      const lines: string[] = [];
      const logger = new Logger({ mode: 'explain', write: (text) => lines.push(text), color: false });
      const server = await startTestServer(t, {}, { lab: true, logger });
      const client = server.client();
      await client.json('PUT', '/api/lab', { [name]: false });
      await client.json('POST', `/api/lab/attacks/${name}`);
      assert.ok(lines.join('\n').includes(weakenedNote(name)), `no "${weakenedNote(name)}" in:\n${lines.join('\n')}`);
    });
  }

  it('a logout with server-side-logout off keeps the session and writes the note into its history', async (t) => {
    const server = await labServer(t);
    server.app.lab?.switches.set({ 'server-side-logout': false });
    const victim = await signedInVictim(server.url);
    const copy = server.client();
    copy.cookies.set('sid', victim.sid!);
    assert.equal((await victim.request('POST', '/logout', { json: {} })).status, 204);
    assert.equal(victim.sid, null, "the browser's cookie is cleared");
    const view = sessionView(await copy.get('/api/session'));
    assert.equal(view.user, VICTIM.username);
    assert.ok(view.events.some(({ event }) => event === weakenedNote('server-side-logout')));
  });
});
