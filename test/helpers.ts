import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { startApp } from '../lib/app.ts';
import type { AppOptions, RunningApp } from '../lib/app.ts';
import type { Config } from '../lib/config.ts';
import { Logger } from '../lib/log.ts';

/** TEST_SCRYPT_COST: the lowest cost SPEC.md allows, so tests sign in in milliseconds. */
export const TEST_SCRYPT_COST = 1024;

/** Dirs is one test's private place on disk, removed when the test ends. */
export interface Dirs {
  root: string;
  sessionsDir: string;
  usersFile: string;
}

/** makeDirs creates a fresh temporary directory for `t` and removes it after. */
export async function makeDirs(t: TestContext): Promise<Dirs> {
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
    ...overrides,
  };
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
export async function startTestServer(
  t: TestContext,
  overrides: Partial<Config> = {},
  options: AppOptions = {},
): Promise<TestServer> {
  const dirs = await makeDirs(t);
  const config = testConfig(dirs, overrides);
  const app = await startApp(config, { logger: new Logger({ mode: 'silent', writeError: () => undefined }), ...options });
  t.after(() => app.close());
  return { app, url: app.url, dirs, client: () => new Client(app.url) };
}

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  /** json is the body parsed as JSON (undefined when it is not JSON). */
  json: any;
}

/**
 * Client is a tiny browser: it keeps cookies between requests (by name,
 * honouring Max-Age=0 as a deletion) and never follows redirects, so tests
 * see every 303.
 */
export class Client {
  readonly base: string;
  readonly cookies = new Map<string, string>();

  constructor(base: string) {
    this.base = base;
  }

  /** sid is the session cookie's value, if the jar has one. */
  get sid(): string | undefined {
    return this.cookies.get('sid') ?? this.cookies.get('__Host-sid');
  }

  get(pathname: string, headers: Record<string, string> = {}): Promise<Reply> {
    return this.request('GET', pathname, undefined, headers);
  }

  /** json sends `body` as JSON with the given method. */
  json(method: string, pathname: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return this.request(method, pathname, payload, { 'Content-Type': 'application/json', Accept: 'application/json', ...headers });
  }

  /** form posts `fields` as an HTML form would. */
  form(pathname: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Reply> {
    return this.request('POST', pathname, new URLSearchParams(fields).toString(), {
      'Content-Type': 'application/x-www-form-urlencoded',
      ...headers,
    });
  }

  async request(method: string, pathname: string, body?: string, headers: Record<string, string> = {}): Promise<Reply> {
    const cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    const response = await fetch(new URL(pathname, this.base), {
      method,
      body,
      redirect: 'manual',
      headers: { ...(cookie === '' ? {} : { Cookie: cookie }), ...headers },
    });
    for (const line of response.headers.getSetCookie()) this.#store(line);
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, text, json };
  }

  #store(setCookie: string): void {
    const [pair = '', ...attributes] = setCookie.split(';');
    const equals = pair.indexOf('=');
    const name = pair.slice(0, equals).trim();
    const value = pair.slice(equals + 1).trim();
    const expired = attributes.some((attribute) => attribute.trim().toLowerCase() === 'max-age=0');
    if (expired || value === '') this.cookies.delete(name);
    else this.cookies.set(name, value);
  }
}

/** register signs up `username` through the JSON API (signing the client in) and checks it worked. */
export async function register(client: Client, username: string, password = 'correct horse battery'): Promise<Reply> {
  const reply = await client.json('POST', '/register', { username, password });
  if (reply.status !== 201) throw new Error(`register ${username} failed: ${reply.status} ${reply.text}`);
  return reply;
}

/**
 * rawRequest sends `request` byte for byte on a new TCP connection and
 * returns everything the server answers, for targets fetch() would
 * normalise away (`/../`, `%2e`, absolute-form, NUL).
 */
export function rawRequest(url: string, request: string | Buffer): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.end(request));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

/** statusOf reads the status code from a raw HTTP response. */
export function statusOf(raw: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);
}
