import assert from 'node:assert/strict';
import path from 'node:path';
import { availableParallelism } from 'node:os';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../lib/config.ts';
import type { Config } from '../../lib/config.ts';

const CWD = '/srv/cloakroom';

interface ValidCase {
  variable: string;
  value: string;
  field: keyof Config;
  expected: Config[keyof Config];
}

interface InvalidCase {
  variable: string;
  value: string;
}

/** assertRefused checks that `value` for `variable` stops start-up with a ConfigError naming the variable. */
function assertRefused({ variable, value }: InvalidCase): void {
  assert.throws(
    () => loadConfig({ [variable]: value }, CWD),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
      assert.ok(error.message.startsWith(`${variable}: `), `"${error.message}" does not name ${variable}`);
      assert.doesNotMatch(error.message, /\n/);
      return true;
    },
  );
}

describe('loadConfig', () => {
  it('applies every default of the Configuration table when the environment is empty', () => {
    assert.deepEqual(loadConfig({}, CWD), {
      port: 3000,
      host: '127.0.0.1',
      sessionsDir: path.join(CWD, 'sessions'),
      usersFile: path.join(CWD, 'data', 'users.json'),
      idleTimeoutMs: 1800_000,
      absoluteTimeoutMs: 28_800_000,
      sweepIntervalMs: 60_000,
      cookieSecure: 'auto',
      trustProxy: false,
      scryptCost: 131072,
      log: 'explain',
      workers: 1,
      guestIdleTimeoutMs: 600_000,
      registrationsPerAddress: 50,
      guestSessionsPerAddress: 100,
      maxSessions: 100_000,
      maxConnections: 1000,
      allowedHosts: [],
      store: { kind: 'files' },
    });
  });

  it('gives guests SESSION_IDLE_TIMEOUT when that is shorter than the default GUEST_IDLE_TIMEOUT, so a guest never outlives a user', () => {
    assert.equal(loadConfig({ SESSION_IDLE_TIMEOUT: '20' }, CWD).guestIdleTimeoutMs, 20_000);
    assert.equal(loadConfig({ SESSION_IDLE_TIMEOUT: '20', GUEST_IDLE_TIMEOUT: '30' }, CWD).guestIdleTimeoutMs, 30_000);
  });

  it('reads ALLOWED_HOSTS as a list of lower-case names', () => {
    assert.deepEqual(loadConfig({ ALLOWED_HOSTS: 'App.Example.org, cloakroom.lan,intranet' }, CWD).allowedHosts, [
      'app.example.org',
      'cloakroom.lan',
      'intranet',
    ]);
  });

  it('reads STORE: files, memory, a Redis URL as given, and a SQLite path resolved against the working directory', () => {
    const storeOf = (value: string) => loadConfig({ STORE: value }, CWD).store;
    assert.deepEqual(storeOf('files'), { kind: 'files' });
    assert.deepEqual(storeOf('memory'), { kind: 'memory' });
    assert.deepEqual(storeOf('redis://127.0.0.1:6380'), { kind: 'redis', url: 'redis://127.0.0.1:6380' });
    assert.deepEqual(storeOf('rediss://app:s3cret@cache.example.org:6379/2'), {
      kind: 'redis',
      url: 'rediss://app:s3cret@cache.example.org:6379/2',
    });
    assert.deepEqual(storeOf('sqlite:./data/cloakroom.db'), { kind: 'sqlite', path: path.join(CWD, 'data', 'cloakroom.db') });
    assert.deepEqual(storeOf('sqlite:/var/lib/cloakroom.db'), { kind: 'sqlite', path: '/var/lib/cloakroom.db' });
  });

  it('refuses STORE=memory with WORKERS above 1, since no worker could see what another stored', () => {
    assert.throws(() => loadConfig({ STORE: 'memory', WORKERS: '2' }, CWD), { name: 'ConfigError', message: /^STORE: memory .*WORKERS/ });
    assert.equal(loadConfig({ STORE: 'memory', WORKERS: '1' }, CWD).store.kind, 'memory');
  });

  it('never repeats a Redis password in the message about a bad STORE', () => {
    assert.throws(
      () => loadConfig({ STORE: 'redis://app:s3cret@cache:6379/99' }, CWD),
      (error: Error) => {
        assert.match(error.message, /^STORE: the database after the host must be a number from 0 to 15/);
        assert.doesNotMatch(error.message, /s3cret/);
        return true;
      },
    );
  });

  it('treats an empty variable as unset, so the default applies', () => {
    const config = loadConfig({ PORT: '', LOG: '', SESSION_IDLE_TIMEOUT: '' }, CWD);
    assert.equal(config.port, 3000);
    assert.equal(config.log, 'explain');
    assert.equal(config.idleTimeoutMs, 1800_000);
  });

  it('resolves relative paths against the working directory it is given', () => {
    assert.equal(loadConfig({}).sessionsDir, path.resolve('sessions'));
  });

  describe('accepts valid values', () => {
    const cases: ValidCase[] = [
      { variable: 'PORT', value: '0', field: 'port', expected: 0 },
      { variable: 'PORT', value: '8080', field: 'port', expected: 8080 },
      { variable: 'PORT', value: '65535', field: 'port', expected: 65535 },
      { variable: 'HOST', value: '0.0.0.0', field: 'host', expected: '0.0.0.0' },
      { variable: 'HOST', value: '::1', field: 'host', expected: '::1' },
      { variable: 'SESSIONS_DIR', value: '/var/lib/cloakroom', field: 'sessionsDir', expected: '/var/lib/cloakroom' },
      { variable: 'SESSIONS_DIR', value: 'store', field: 'sessionsDir', expected: path.join(CWD, 'store') },
      { variable: 'USERS_FILE', value: '/etc/users.json', field: 'usersFile', expected: '/etc/users.json' },
      { variable: 'USERS_FILE', value: 'u.json', field: 'usersFile', expected: path.join(CWD, 'u.json') },
      { variable: 'SESSION_IDLE_TIMEOUT', value: '60', field: 'idleTimeoutMs', expected: 60_000 },
      { variable: 'SESSION_IDLE_TIMEOUT', value: '0.5', field: 'idleTimeoutMs', expected: 500 },
      { variable: 'SESSION_ABSOLUTE_TIMEOUT', value: '3600', field: 'absoluteTimeoutMs', expected: 3_600_000 },
      { variable: 'SESSION_ABSOLUTE_TIMEOUT', value: '2147483', field: 'absoluteTimeoutMs', expected: 2_147_483_000 },
      { variable: 'SWEEP_INTERVAL', value: '1.25', field: 'sweepIntervalMs', expected: 1250 },
      { variable: 'SWEEP_INTERVAL', value: '.5', field: 'sweepIntervalMs', expected: 500 },
      { variable: 'COOKIE_SECURE', value: 'true', field: 'cookieSecure', expected: 'true' },
      { variable: 'COOKIE_SECURE', value: 'false', field: 'cookieSecure', expected: 'false' },
      { variable: 'COOKIE_SECURE', value: 'auto', field: 'cookieSecure', expected: 'auto' },
      { variable: 'TRUST_PROXY', value: 'true', field: 'trustProxy', expected: true },
      { variable: 'TRUST_PROXY', value: 'false', field: 'trustProxy', expected: false },
      { variable: 'SCRYPT_COST', value: '1024', field: 'scryptCost', expected: 1024 },
      { variable: 'SCRYPT_COST', value: '16384', field: 'scryptCost', expected: 16384 },
      { variable: 'SCRYPT_COST', value: '1048576', field: 'scryptCost', expected: 1048576 },
      { variable: 'LOG', value: 'requests', field: 'log', expected: 'requests' },
      { variable: 'LOG', value: 'silent', field: 'log', expected: 'silent' },
      { variable: 'LOG', value: 'explain', field: 'log', expected: 'explain' },
      { variable: 'WORKERS', value: '1', field: 'workers', expected: 1 },
      { variable: 'WORKERS', value: '4', field: 'workers', expected: 4 },
      { variable: 'WORKERS', value: 'auto', field: 'workers', expected: availableParallelism() },
      { variable: 'GUEST_IDLE_TIMEOUT', value: '120', field: 'guestIdleTimeoutMs', expected: 120_000 },
      { variable: 'REGISTRATIONS_PER_ADDRESS', value: '500', field: 'registrationsPerAddress', expected: 500 },
      { variable: 'GUEST_SESSIONS_PER_ADDRESS', value: '1', field: 'guestSessionsPerAddress', expected: 1 },
      { variable: 'MAX_SESSIONS', value: '1000000', field: 'maxSessions', expected: 1_000_000 },
      { variable: 'MAX_CONNECTIONS', value: '64', field: 'maxConnections', expected: 64 },
    ];
    for (const c of cases) {
      it(`reads ${c.variable}=${c.value} as ${c.field} ${JSON.stringify(c.expected)}`, () => {
        assert.equal(loadConfig({ [c.variable]: c.value }, CWD)[c.field], c.expected);
      });
    }
  });

  describe('refuses invalid values with a ConfigError naming the variable', () => {
    const cases: InvalidCase[] = [
      { variable: 'PORT', value: 'abc' },
      { variable: 'PORT', value: '-1' },
      { variable: 'PORT', value: '65536' },
      { variable: 'PORT', value: '80.5' },
      { variable: 'PORT', value: ' 80' },
      { variable: 'HOST', value: ' localhost' },
      { variable: 'SESSIONS_DIR', value: 'sessions ' },
      { variable: 'USERS_FILE', value: ' users.json' },
      { variable: 'SESSION_IDLE_TIMEOUT', value: '0' },
      { variable: 'SESSION_IDLE_TIMEOUT', value: '-5' },
      { variable: 'SESSION_IDLE_TIMEOUT', value: 'ten' },
      { variable: 'SESSION_IDLE_TIMEOUT', value: '1e3' },
      { variable: 'SESSION_IDLE_TIMEOUT', value: '2147484' },
      { variable: 'SESSION_ABSOLUTE_TIMEOUT', value: '0.0' },
      { variable: 'SESSION_ABSOLUTE_TIMEOUT', value: '30m' },
      { variable: 'SWEEP_INTERVAL', value: '0' },
      { variable: 'SWEEP_INTERVAL', value: '5.' },
      { variable: 'SWEEP_INTERVAL', value: '1e3' },
      { variable: 'COOKIE_SECURE', value: 'yes' },
      { variable: 'COOKIE_SECURE', value: 'TRUE' },
      { variable: 'TRUST_PROXY', value: '1' },
      { variable: 'TRUST_PROXY', value: 'auto' },
      { variable: 'SCRYPT_COST', value: '1000' },
      { variable: 'SCRYPT_COST', value: '512' },
      { variable: 'SCRYPT_COST', value: '3000' },
      { variable: 'SCRYPT_COST', value: '2097152' },
      { variable: 'SCRYPT_COST', value: 'lots' },
      { variable: 'LOG', value: 'verbose' },
      { variable: 'WORKERS', value: '0' },
      { variable: 'WORKERS', value: '-2' },
      { variable: 'WORKERS', value: '1.5' },
      { variable: 'WORKERS', value: 'many' },
      { variable: 'WORKERS', value: 'AUTO' },
      { variable: 'WORKERS', value: '65' },
      { variable: 'GUEST_IDLE_TIMEOUT', value: '0' },
      { variable: 'GUEST_IDLE_TIMEOUT', value: '10m' },
      { variable: 'REGISTRATIONS_PER_ADDRESS', value: '0' },
      { variable: 'REGISTRATIONS_PER_ADDRESS', value: 'unlimited' },
      { variable: 'GUEST_SESSIONS_PER_ADDRESS', value: '-1' },
      { variable: 'GUEST_SESSIONS_PER_ADDRESS', value: '2.5' },
      { variable: 'MAX_SESSIONS', value: '0' },
      { variable: 'MAX_SESSIONS', value: '1e6' },
      { variable: 'MAX_CONNECTIONS', value: '0' },
      { variable: 'MAX_CONNECTIONS', value: '1000000001' },
      { variable: 'ALLOWED_HOSTS', value: 'https://app.example.org' },
      { variable: 'ALLOWED_HOSTS', value: 'app.example.org:443' },
      { variable: 'ALLOWED_HOSTS', value: '*.example.org' },
      { variable: 'ALLOWED_HOSTS', value: 'app.example.org,,other.org' },
      { variable: 'ALLOWED_HOSTS', value: 'bad_name.org' },
      { variable: 'STORE', value: 'disk' },
      { variable: 'STORE', value: 'Files' },
      { variable: 'STORE', value: 'sqlite:' },
      { variable: 'STORE', value: 'redis://' },
      { variable: 'STORE', value: 'redis://host:6379/16' },
      { variable: 'STORE', value: 'redis://host:6379/x' },
      { variable: 'STORE', value: 'redis://host:6379?db=1' },
      { variable: 'STORE', value: 'redis://host:99999' },
      { variable: 'STORE', value: 'postgres://host/db' },
    ];
    for (const c of cases) it(`refuses ${c.variable}=${JSON.stringify(c.value)}`, () => assertRefused(c));
  });

  it('says what is wrong with the value, quoting it', () => {
    assert.throws(() => loadConfig({ PORT: 'abc' }, CWD), { name: 'ConfigError', message: /PORT: .*"abc"/ });
    assert.throws(() => loadConfig({ SCRYPT_COST: '3000' }, CWD), { message: /SCRYPT_COST: must be a power of two/ });
  });
});
