import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../lib/config.ts';
import { Logger, startupSummary } from '../../lib/log.ts';
import type { StoreSetting } from '../../lib/storage/storage.ts';
import type { LoggerOptions } from '../../lib/log.ts';

// eslint-disable-next-line no-control-regex -- ESC opens every ANSI colour code, which is what these tests look for
const ANSI = /\x1b\[/;

function capture(options: Omit<LoggerOptions, 'write' | 'writeError'>): { logger: Logger; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    logger: new Logger({ color: false, ...options, write: (text) => out.push(text), writeError: (text) => err.push(text) }),
    out,
    err,
  };
}

describe('Logger', () => {
  describe('in explain mode', () => {
    it('prints one block per request: the summary line, then each step under its topic', () => {
      const { logger, out } = capture({ mode: 'explain' });
      const log = logger.begin();
      log.step('cookie', 'sid=abcdef… (well formed)');
      log.step('session', 'read sessions/0123456789abcdef….json: guest, not expired');
      logger.end(log, 'POST', '/api/cart', 200, 3.14159);
      assert.deepEqual(out, [
        'POST /api/cart 200 3.1 ms\n' +
          '  cookie   sid=abcdef… (well formed)\n' +
          '  session  read sessions/0123456789abcdef….json: guest, not expired',
      ]);
    });

    it('prints only the summary line when a request had no steps', () => {
      const { logger, out } = capture({ mode: 'explain' });
      logger.end(logger.begin(), 'GET', '/style.css', 304, 0.04);
      assert.deepEqual(out, ['GET /style.css 304 0.0 ms']);
    });

    it('keeps the steps of two requests apart', () => {
      const { logger, out } = capture({ mode: 'explain' });
      const a = logger.begin();
      const b = logger.begin();
      a.step('file', 'for a');
      b.step('file', 'for b');
      logger.end(b, 'GET', '/b', 200, 1);
      logger.end(a, 'GET', '/a', 200, 1);
      assert.match(out[0]!, /^GET \/b[^]*for b$/);
      assert.doesNotMatch(out[0]!, /for a/);
      assert.match(out[1]!, /^GET \/a[^]*for a$/);
    });
  });

  describe('in requests mode', () => {
    it('prints one line per request and drops the steps', () => {
      const { logger, out } = capture({ mode: 'requests' });
      const log = logger.begin();
      log.step('cookie', 'not printed');
      logger.end(log, 'GET', '/login', 200, 1.25);
      assert.deepEqual(out, ['GET /login 200 1.3 ms']);
      assert.deepEqual(log.lines, []);
      assert.equal(logger.printsRequests, true);
    });

    it('prints server lines and warnings', () => {
      const { logger, out } = capture({ mode: 'requests' });
      logger.info('sweeper: 2 deleted');
      logger.warn('session file x is unreadable');
      assert.deepEqual(out, ['sweeper: 2 deleted', 'session file x is unreadable']);
    });
  });

  describe('in silent mode', () => {
    it('prints nothing for requests, server lines or warnings', () => {
      const { logger, out } = capture({ mode: 'silent' });
      const log = logger.begin();
      log.step('cookie', 'x');
      logger.end(log, 'GET', '/', 303, 1);
      logger.info('info');
      logger.warn('warn');
      assert.deepEqual(out, []);
      assert.equal(logger.printsRequests, false);
    });

    it('still reports unexpected errors, with their stack, on the error writer', () => {
      const { logger, out, err } = capture({ mode: 'silent' });
      logger.error('GET /x failed', new Error('boom'));
      logger.error('odd failure', 'a string');
      assert.deepEqual(out, []);
      assert.equal(err.length, 2);
      assert.match(err[0]!, /^GET \/x failed: Error: boom\n\s+at /);
      assert.equal(err[1], 'odd failure: a string');
    });
  });

  describe('colour', () => {
    it('is used only when asked for', () => {
      const plain = capture({ mode: 'explain', color: false });
      const log = plain.logger.begin();
      log.step('cookie', 'x');
      plain.logger.end(log, 'GET', '/', 500, 1);
      plain.logger.info('info');
      assert.doesNotMatch(plain.out.join('\n'), ANSI);

      const coloured = capture({ mode: 'explain', color: true });
      const colouredLog = coloured.logger.begin();
      colouredLog.step('cookie', 'x');
      coloured.logger.end(colouredLog, 'GET', '/', 500, 1);
      assert.match(coloured.out[0]!, ANSI);
      assert.ok(coloured.out[0]!.includes('\x1b[31m500'), 'a 5xx status is red');
    });

    it('paints 4xx yellow and 2xx green', () => {
      const { logger, out } = capture({ mode: 'requests', color: true });
      logger.end(logger.begin(), 'GET', '/nope', 404, 1);
      logger.end(logger.begin(), 'GET', '/ok', 200, 1);
      assert.ok(out[0]!.includes('\x1b[33m404'));
      assert.ok(out[1]!.includes('\x1b[32m200'));
    });

    it('is off by default when stdout is not a terminal', () => {
      const out: string[] = [];
      const logger = new Logger({ mode: 'requests', write: (text) => out.push(text) });
      logger.end(logger.begin(), 'GET', '/', 200, 1);
      assert.equal(out[0]!.includes('\x1b['), (process.stdout as { isTTY?: boolean }).isTTY === true);
    });
  });
});

describe('startupSummary', () => {
  const summaryFor = (store: StoreSetting): string => startupSummary({ ...loadConfig({}, '/srv/cloakroom'), store }).join('\n');

  it('names the sessions directory and the users file for STORE=files, and npm run reset', () => {
    const summary = summaryFor({ kind: 'files' });
    assert.match(summary, /sessions {2}\/srv\/cloakroom\/sessions \(a file per session/);
    assert.match(summary, /accounts {2}\/srv\/cloakroom\/data\/users\.json/);
    assert.match(summary, /expired files swept every 1 minute/);
    assert.match(summary, /npm run reset/);
  });

  it('names Redis by its host and port only, never its password, and says Redis expires the sessions itself', () => {
    const summary = summaryFor({ kind: 'redis', url: 'redis://app:s3cret@cache.lan:6380/2' });
    assert.match(summary, /sessions {2}Redis at cache\.lan:6380 \(STORE\)/);
    assert.match(summary, /Redis deletes each expired session itself/);
    assert.doesNotMatch(summary, /s3cret|sessions\/|users\.json|npm run reset/);
  });

  it('names the database for STORE=sqlite and the memory for STORE=memory, and no directory', () => {
    assert.match(summaryFor({ kind: 'sqlite', path: '/srv/c.db' }), /sessions {2}\/srv\/c\.db \(STORE=sqlite\), table sessions/);
    const memory = summaryFor({ kind: 'memory' });
    assert.match(memory, /sessions {2}this process's memory/);
    assert.doesNotMatch(memory, /\/srv\/cloakroom/);
  });
});
