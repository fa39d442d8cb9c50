import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { TestContext } from 'node:test';
import type { Reply } from '../helpers.ts';

/**
 * Shared tools of the security suite: what an attacker would look at
 * (files on disk, cookies, headers) and a clock the tests control.
 */

/** SESSION_ID_PATTERN is the shape of every issued ID: 32 random bytes in base64url. */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** PASSWORD is the one every test account uses. */
export const PASSWORD = 'correct horse battery';

/** sessionFileName is where the server keeps `id`: the hex SHA-256 of the ID, never the ID. */
export function sessionFileName(id: string): string {
  return `${createHash('sha256').update(id).digest('hex')}.json`;
}

/**
 * snapshotDir records every entry of `dir` with its contents and mtime, so
 * a test can prove that an attack wrote, touched or deleted nothing.
 */
export async function snapshotDir(dir: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) {
    const file = path.join(dir, name);
    const info = await stat(file);
    result[name] = info.isFile() ? `${info.mtimeMs} ${await readFile(file, 'utf8')}` : `${info.mtimeMs} (not a file)`;
  }
  return result;
}

/** filesUnder lists every regular file below `root`, dot files included. */
export async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath ?? entry.path, entry.name));
}

/** ParsedCookie is one Set-Cookie line: name, value and attributes (names lower-cased; flags map to true). */
export interface ParsedCookie {
  name: string;
  value: string;
  attributes: Map<string, string | true>;
}

/** parseSetCookie reads one Set-Cookie line the way a browser would split it. */
export function parseSetCookie(line: string): ParsedCookie {
  const [pair = '', ...rest] = line.split(';');
  const equals = pair.indexOf('=');
  const attributes = new Map<string, string | true>();
  for (const part of rest) {
    const trimmed = part.trim();
    const at = trimmed.indexOf('=');
    if (at === -1) attributes.set(trimmed.toLowerCase(), true);
    else attributes.set(trimmed.slice(0, at).toLowerCase(), trimmed.slice(at + 1));
  }
  return { name: pair.slice(0, equals).trim(), value: pair.slice(equals + 1).trim(), attributes };
}

/** sessionCookieOf is the one Set-Cookie of a reply, parsed; it fails the test when there is not exactly one. */
export function sessionCookieOf(reply: Reply): ParsedCookie {
  const lines = reply.headers.getSetCookie();
  if (lines.length !== 1) throw new Error(`expected one Set-Cookie, got ${lines.length}`);
  return parseSetCookie(lines[0]!);
}

/** headersWithoutDate lists a reply's headers (lower-case names, sorted), Date left out: the only one allowed to differ. */
export function headersWithoutDate(headers: Headers): Array<[string, string]> {
  return [...headers].filter(([name]) => name !== 'date').sort(([a], [b]) => a.localeCompare(b));
}

/** RawReply is a raw HTTP/1.1 answer split into status, headers and body. */
export interface RawReply {
  status: number;
  headers: Headers;
  body: string;
}

/** parseRawReply splits what rawRequest returned; a connection closed without an answer has status 0. */
export function parseRawReply(raw: string): RawReply {
  const end = raw.indexOf('\r\n\r\n');
  const head = end === -1 ? raw : raw.slice(0, end);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  return {
    status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0),
    headers,
    body: end === -1 ? '' : raw.slice(end + 4),
  };
}

/** RawConversation is an open connection: write the request in pieces, then await the reply. */
export interface RawConversation {
  write(data: string | Buffer): void;
  /** reply settles when the server closes the connection (send `Connection: close`). */
  reply: Promise<RawReply>;
}

/**
 * openRaw connects to the server and lets a test send a request byte for
 * byte, as slowly as it likes. It never half-closes the socket: Node's
 * server drops the answer to a request still in flight when the client
 * half-closes (as rawRequest in test/helpers.ts does), which would hide
 * every answer that needs a file read.
 */
export function openRaw(url: string): Promise<RawConversation> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(Number(port), hostname);
    const reply = new Promise<RawReply>((settle) => {
      socket.on('close', () => settle(parseRawReply(Buffer.concat(chunks).toString('utf8'))));
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('error', reject);
    socket.once('connect', () => resolve({ write: (data) => socket.write(data), reply }));
  });
}

/** rawExchange sends a whole raw request and returns the parsed answer. */
export async function rawExchange(url: string, request: string | Buffer): Promise<RawReply> {
  const conversation = await openRaw(url);
  conversation.write(request);
  return conversation.reply;
}

/** FakeClock is a clock that only moves when the test says so. */
export interface FakeClock {
  clock: () => number;
  advance(ms: number): void;
}

/** fakeClock starts at `start` (epoch milliseconds) and stands still. */
export function fakeClock(start = Date.UTC(2026, 10, 22, 3, 10)): FakeClock {
  let now = start;
  return {
    clock: () => now,
    advance: (ms) => {
      now += ms;
    },
  };
}

/**
 * SuiteScope lets several `it`s share one server: `context` stands in for a
 * test's context in startTestServer, and `close` (for an `after` hook) runs
 * what it collected, last first, so the server stops before its directory goes.
 */
export interface SuiteScope {
  context: TestContext;
  close(): Promise<void>;
}

export function suiteScope(): SuiteScope {
  const cleanups: Array<() => unknown> = [];
  return {
    context: { after: (fn: () => unknown) => cleanups.push(fn) } as unknown as TestContext,
    close: async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
    },
  };
}
