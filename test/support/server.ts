import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { startApp } from '../../lib/app.ts';
import type { AppOptions, RunningApp } from '../../lib/app.ts';
import type { Config } from '../../lib/config.ts';
import { Logger } from '../../lib/log.ts';
import { Client } from './client.ts';

/** TEST_SCRYPT_COST: the lowest cost the configuration allows (MIN_SCRYPT_COST), so tests sign in in milliseconds. */
export const TEST_SCRYPT_COST = 1024;

/** Dirs is one test's private place on disk, removed when the test ends. */
export interface Dirs {
  root: string;
  sessionsDir: string;
  usersFile: string;
}

/** Cleanup is the part of a test context this toolkit needs: somewhere to register what to undo. */
export type Cleanup = Pick<TestContext, 'after'>;

/** makeDirs creates a fresh temporary directory for `t` and removes it after. */
export async function makeDirs(t: Cleanup): Promise<Dirs> {
  const root = await mkdtemp(path.join(tmpdir(), 'cloakroom-test-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  return { root, sessionsDir: path.join(root, 'sessions'), usersFile: path.join(root, 'data', 'users.json') };
}

/** testConfig is a Config for tests: port 0, silent, cheap scrypt, the given directories. */
export function testConfig(dirs: Dirs, overrides: Partial<Config> = {}): Config {
  return {
    port: 0,
    host: '127.0.0.1',
    sessionsDir: dirs.sessionsDir,
    usersFile: dirs.usersFile,
    idleTimeoutMs: 1800_000,
    absoluteTimeoutMs: 28_800_000,
    sweepIntervalMs: 3_600_000,
    cookieSecure: 'auto',
    trustProxy: false,
    scryptCost: TEST_SCRYPT_COST,
    log: 'silent',
    workers: 1,
    // As lib/config.ts does by default: 600 s, or the idle timeout when that is shorter.
    guestIdleTimeoutMs: Math.min(600_000, overrides.idleTimeoutMs ?? 1800_000),
    registrationsPerAddress: 50,
    guestSessionsPerAddress: 100,
    maxSessions: 100_000,
    maxConnections: 1000,
    allowedHosts: [],
    store: { kind: 'files' },
    ...overrides,
  };
}

/** silentLogger prints nothing, not even unexpected errors: for tests that provoke them on purpose. */
export function silentLogger(): Logger {
  return new Logger({ mode: 'silent', writeError: () => undefined });
}

export interface TestServer {
  app: RunningApp;
  url: string;
  dirs: Dirs;
  /** client makes a new browser-like client with its own cookie jar. */
  client(): Client;
}

/**
 * startTestServer runs the real app on 127.0.0.1 port 0 over fresh
 * temporary directories, and stops it when `t` ends.
 */
export async function startTestServer(t: Cleanup, overrides: Partial<Config> = {}, options: AppOptions = {}): Promise<TestServer> {
  const dirs = await makeDirs(t);
  const app = await startApp(testConfig(dirs, overrides), { logger: silentLogger(), ...options });
  t.after(() => app.close());
  return { app, url: app.url, dirs, client: () => new Client(app.url) };
}

/**
 * SuiteScope lets several `it`s share one server: `context` stands in for a
 * test's context in startTestServer, and `close` (for an `after` hook) runs
 * what it collected, last first, so the server stops before its directory goes.
 */
export interface SuiteScope {
  context: Cleanup;
  close(): Promise<void>;
}

export function suiteScope(): SuiteScope {
  const cleanups: Array<() => unknown> = [];
  return {
    context: { after: (fn: () => unknown) => cleanups.push(fn) },
    close: async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
    },
  };
}
