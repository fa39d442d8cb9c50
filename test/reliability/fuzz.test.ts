import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Logger } from '../../lib/log.ts';
import { storageKey } from '../../lib/sessions/session-id.ts';
import { register } from '../support/client.ts';
import type { Client } from '../support/client.ts';
import { bodyOf, sessionView } from '../support/json.ts';
import { RawExchange } from '../support/raw-http.ts';
import { startTestServer } from '../support/server.ts';

/** The seed of a run; FUZZ_SEED (decimal or 0x hex) replays another. */
const DEFAULT_SEED = 0x5eed_c10a;
const SEED = process.env.FUZZ_SEED === undefined ? DEFAULT_SEED : Number(process.env.FUZZ_SEED) >>> 0;
const REQUESTS = 5_000;
/** Requests in flight at once: enough to interleave on one session, few enough for two cores. */
const CONCURRENCY = 24;
/** A raw connection quiet this long is half-closed (its body will never complete), and reported hung if quiet again. */
const RAW_IDLE_MS = 250;
const FETCH_SHARE = 0.3;
const MUTATION_SHARE = 0.12;
/** Node's default limit on the request head is 16 KiB: pad below, around and well beyond it. */
const HEADER_PADDINGS = [...Array<number>(12).fill(0), 100, 4_000, 8_000, 15_000, 16_500, 40_000, 100_000];
const BODY_LIMIT = 16 * 1024;
const FUZZ_GUESTS = 6;
const FUZZ_USERS = 3;
const ID_LENGTH = 43;
const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Random is a source of numbers in [0, 1). */
type Random = () => number;

/**
 * mulberry32 is a tiny seeded generator (32 bits of state): plenty for
 * choosing test inputs, and the same seed always gives the same sequence.
 */
function mulberry32(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), state | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 2 ** 32;
  };
}

const int = (random: Random, below: number): number => Math.floor(random() * below);
const pick = <T>(random: Random, items: readonly T[]): T => items[int(random, items.length)]!;
const chance = (random: Random, probability: number): boolean => random() < probability;

/** randomText draws `length` code points (never half of a surrogate pair) from `alphabet`. */
function randomText(random: Random, length: number, alphabet: string): string {
  const characters = [...alphabet];
  return Array.from({ length }, () => pick(random, characters)).join('');
}

function randomBytes(random: Random, length: number): Buffer {
  return Buffer.from(Array.from({ length }, () => int(random, 256)));
}

const PRINTABLE = Array.from({ length: 95 }, (_, index) => String.fromCharCode(32 + index)).join('');
const UNICODE = 'äöüßéñ€😀𝄞\u202e\u200b\u0000\u001f\u007f\u2028中文👩‍👩‍👧';

const ROUTES = [
  '/',
  '/login',
  '/register',
  '/dashboard',
  '/profile',
  '/logout',
  '/api/me',
  '/api/profile',
  '/api/password',
  '/api/session',
  '/api/cart',
  '/api/preferences',
  '/style.css',
  '/js/api.js',
  '/favicon.svg',
];
const ODD_PATHS = [
  '/../../etc/passwd',
  '/%2e%2e/%2e%2e/etc/passwd',
  '/..%2f..%2fserver.ts',
  '/public/../lib/app.ts',
  '/js/../../package.json',
  '/.%2e/sessions',
  '/sessions/',
  '/data/users.json',
  '/dashboard.html',
  '/DASHBOARD',
  '/dashboard/',
  '//dashboard',
  '/dashboard%00',
  '/dashboard;.css',
  '/\\..\\server.ts',
  '/%5c..%5cserver.ts',
  '/api/../api/me',
  '/api/me/',
  '/api/me?x=1#frag',
  '/%F0%9F%98%80',
  '/%ff%fe',
  '/%',
  '/%zz',
  '/ü',
  '/😀',
  '/\u202e',
  '*',
  'http://evil.example/api/me',
  'https://127.0.0.1/api/session',
  '/login?next=//evil.example&error=__proto__',
  '/login?error=toString',
  '/register?next=%2F%2Fevil',
  '/?a=%zz&&&==',
];
const METHODS = [
  'GET',
  'GET',
  'POST',
  'POST',
  'HEAD',
  'PUT',
  'PATCH',
  'DELETE',
  'OPTIONS',
  'TRACE',
  'CONNECT',
  'PROPFIND',
  'get',
  'BREW',
  'M-SEARCH',
  'X'.repeat(40),
];
/** The methods each route answers, so that half the requests get past the router into a handler. */
const ROUTE_METHODS: Readonly<Record<string, readonly string[]>> = {
  '/login': ['GET', 'POST'],
  '/register': ['GET', 'POST'],
  '/logout': ['POST'],
  '/api/profile': ['PATCH'],
  '/api/password': ['POST'],
  '/api/cart': ['POST', 'POST', 'DELETE'],
  '/api/preferences': ['PUT'],
};
const FETCH_METHODS = ['GET', 'POST', 'HEAD', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'PROPFIND', 'BREW'];
const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/json;;;',
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded; charset=latin1',
  'text/plain',
  'multipart/form-data; boundary=x',
  '',
  'application/jsonx',
  '*/*',
];
const VERSIONS = [...Array<string>(8).fill('HTTP/1.1'), 'HTTP/1.0', 'HTTP/2.0', 'HTTP/0.9', 'HTTX/1.1', ''];

/** Sessions the fuzz may use and end; the bystander's own ID is never among them. */
interface Identities {
  fuzzIds: string[];
  bystanderId: string;
}

/** nearMiss is an ID that differs from `id` after any cookie parsing: one character swapped, cut or added, or an invalid one. */
function nearMiss(random: Random, id: string): string {
  const position = int(random, id.length);
  switch (int(random, 5)) {
    case 0: {
      const current = id[position]!;
      const others = ID_ALPHABET.replace(current, '');
      return id.slice(0, position) + pick(random, [...others]) + id.slice(position + 1);
    }
    case 1:
      return id.slice(0, ID_LENGTH - 1);
    case 2:
      return `${id}${pick(random, Array.from(ID_ALPHABET))}`;
    case 3:
      return id.slice(0, position) + pick(random, ['!', '.', '=', '+', '/', '%', ' x']) + id.slice(position + 1);
    default:
      return id.toUpperCase() === id ? id.slice(1) : id.toUpperCase();
  }
}

function cookieHeader(random: Random, identities: Identities): string | undefined {
  const fuzzId = (): string => pick(random, identities.fuzzIds);
  switch (int(random, 12)) {
    case 0:
      return undefined;
    case 1:
      return randomText(random, int(random, 200), PRINTABLE);
    case 2:
      return `sid=${nearMiss(random, identities.bystanderId)}`;
    case 3:
      return `sid=${randomText(random, ID_LENGTH, ID_ALPHABET)}`;
    case 4:
      return `sid=${fuzzId()}`;
    case 5:
      return `sid="${fuzzId()}"; theme=dark`;
    case 6:
      return `sid=${nearMiss(random, identities.bystanderId)}; sid=${fuzzId()}`;
    case 7:
      return `__proto__=x; constructor=y; sid=${encodeURIComponent(fuzzId()).replace(/A/g, '%41')}`;
    case 8:
      return `sid=${randomText(random, int(random, 8_000), ID_ALPHABET)}`;
    case 9:
      return `__Host-sid=${fuzzId()}; sid=%zz`;
    case 10:
      return `${';'.repeat(int(random, 500))}sid=${fuzzId()}`;
    default:
      return `sid=${randomText(random, int(random, 60), PRINTABLE.replace(';', ''))}`;
  }
}

function pathFor(random: Random): string {
  switch (int(random, 6)) {
    case 0:
    case 1:
    case 2:
      return pick(random, ROUTES);
    case 3:
      return pick(random, ODD_PATHS);
    case 4:
      return `/${randomText(random, int(random, 40), PRINTABLE.replace(/[ #?]/g, ''))}`;
    default:
      return `${pick(random, ROUTES)}?${randomText(random, int(random, 3_000), PRINTABLE.replace(/[ #]/g, ''))}`;
  }
}

function jsonValue(random: Random): unknown {
  return pick(random, [
    randomText(random, 1 + int(random, 64), PRINTABLE),
    randomText(random, 1 + int(random, 80), UNICODE),
    '',
    int(random, 1000),
    null,
    true,
    ['a'],
    { nested: 'x' },
    'dark',
    'light',
    'x'.repeat(2_000),
  ]);
}

function bodyFor(random: Random): string | Buffer {
  const fields = ['item', 'theme', 'username', 'password', 'displayName', 'currentPassword', 'newPassword', 'next', '__proto__'];
  switch (int(random, 12)) {
    case 0:
      return '';
    case 10:
      return JSON.stringify({ item: randomText(random, 1 + int(random, 64), PRINTABLE) });
    case 11:
      return JSON.stringify({ theme: pick(random, ['dark', 'light', 'blue']) });
    case 1:
    case 2:
    case 3: {
      const object: Record<string, unknown> = {};
      for (let count = 1 + int(random, 3); count > 0; count -= 1) object[pick(random, fields)] = jsonValue(random);
      return JSON.stringify(object);
    }
    case 4:
      return pick(random, ['{', '{"item":', '[]', 'null', '"text"', '{"item":"a"}}', '{"__proto__":{"item":"x"}}', '\ufeff{"item":"bom"}']);
    case 5:
      return '['.repeat(1 + int(random, BODY_LIMIT - 1));
    case 6:
      return `${pick(random, fields)}=${encodeURIComponent(String(jsonValue(random)))}&${pick(random, fields)}=%zz&item=${randomText(random, int(random, 70), UNICODE)}`;
    case 7:
      return randomBytes(random, int(random, 2_000));
    case 8:
      return 'x'.repeat(BODY_LIMIT + int(random, 3) * BODY_LIMIT);
    default:
      return Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x28, 0x8c, 0xbc]);
  }
}

/** FuzzCase is one request as generated, before it is put on the wire. */
interface FuzzCase {
  method: string;
  target: string;
  headers: Array<[string, string]>;
  body: Buffer;
}

function generateCase(random: Random, identities: Identities, host: string): FuzzCase {
  const target = pathFor(random);
  const method = chance(random, 0.5) ? pick(random, ROUTE_METHODS[target] ?? ['GET', 'HEAD']) : pick(random, METHODS);
  const body = Buffer.from(chance(random, 0.7) ? bodyFor(random) : '');
  const headers: Array<[string, string]> = [];
  if (!chance(random, 0.03)) headers.push(['Host', chance(random, 0.95) ? host : randomText(random, int(random, 300), PRINTABLE)]);
  const cookie = cookieHeader(random, identities);
  if (cookie !== undefined) headers.push(['Cookie', cookie]);
  if (chance(random, 0.8)) headers.push(['Content-Type', chance(random, 0.5) ? 'application/json' : pick(random, CONTENT_TYPES)]);
  if (chance(random, 0.3))
    headers.push(['Accept', pick(random, ['application/json', 'text/html', '*/*', randomText(random, 30, PRINTABLE)])]);
  if (chance(random, 0.2))
    headers.push(['Origin', pick(random, [`http://${host}`, 'null', 'http://evil.example', randomText(random, 20, PRINTABLE)])]);
  if (chance(random, 0.2)) headers.push(['Sec-Fetch-Site', pick(random, ['same-origin', 'none', 'cross-site', 'same-site', ''])]);
  if (chance(random, 0.1)) headers.push(['X-Forwarded-For', randomText(random, int(random, 100), PRINTABLE)]);
  if (chance(random, 0.1)) headers.push(['X-Forwarded-Proto', pick(random, ['https', 'http', 'HTTPS, http', ''])]);
  if (chance(random, 0.1)) headers.push(['If-None-Match', pick(random, ['*', 'W/"x"', '"', randomText(random, 40, PRINTABLE)])]);
  const padding = pick(random, HEADER_PADDINGS);
  if (padding > 0) headers.push(['X-Padding', 'p'.repeat(padding)]);
  if (chance(random, 0.05)) for (let count = 0; count < 300; count += 1) headers.push([`X-Many-${count}`, String(count)]);
  return { method, target, headers, body };
}

/** FRAMINGS are the ways a raw request states its body length, right and wrong. */
const FRAMINGS = [
  ...Array<'length'>(10).fill('length'),
  'chunked',
  'chunked',
  'none',
  'too-long',
  'too-short',
  'both',
  'twice',
  'garbage',
] as const;

function rawBytes(random: Random, fuzzCase: FuzzCase): Buffer {
  const framing = pick(random, FRAMINGS);
  const version = pick(random, VERSIONS);
  const lines = [`${fuzzCase.method} ${fuzzCase.target}${version === '' ? '' : ` ${version}`}`];
  for (const [name, value] of fuzzCase.headers) lines.push(`${name}: ${value}`);
  const length = fuzzCase.body.length;
  let body = fuzzCase.body;
  if (framing === 'length') lines.push(`Content-Length: ${length}`);
  if (framing === 'too-long') lines.push(`Content-Length: ${length + 1 + int(random, 100)}`);
  if (framing === 'too-short') lines.push(`Content-Length: ${Math.max(0, length - 1 - int(random, 10))}`);
  if (framing === 'both') lines.push(`Content-Length: ${length}`, 'Transfer-Encoding: chunked');
  if (framing === 'twice') lines.push(`Content-Length: ${length}`, `Content-Length: ${length + 1}`);
  if (framing === 'garbage') lines.push(`Content-Length: ${pick(random, ['-1', '1e3', '0x10', ' ', 'abc', '99999999999999999999'])}`);
  if (framing === 'chunked') {
    lines.push('Transfer-Encoding: chunked');
    body = Buffer.concat([Buffer.from(`${length.toString(16)}\r\n`), fuzzCase.body, Buffer.from(length === 0 ? '\r\n' : '\r\n0\r\n\r\n')]);
  }
  if (chance(random, 0.05)) lines.push('Expect: 100-continue');
  lines.push(chance(random, 0.9) ? 'Connection: close' : 'Connection: keep-alive');
  let bytes: Buffer = Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8'), body]);
  if (chance(random, MUTATION_SHARE)) bytes = mutate(random, bytes);
  return bytes;
}

/** mutate flips, inserts or deletes a few random bytes anywhere in the request. */
function mutate(random: Random, bytes: Buffer): Buffer {
  let mutated: Buffer = Buffer.from(bytes);
  for (let count = 1 + int(random, 5); count > 0; count -= 1) {
    const at = int(random, mutated.length + 1);
    const kind = int(random, 3);
    if (kind === 0 && at < mutated.length) mutated[at] = int(random, 256);
    if (kind === 1) mutated = Buffer.concat([mutated.subarray(0, at), randomBytes(random, 1 + int(random, 8)), mutated.subarray(at)]);
    if (kind === 2) mutated = Buffer.concat([mutated.subarray(0, at), mutated.subarray(at + 1 + int(random, 16))]);
  }
  return mutated;
}

/** Outcome of one fuzz request: the status (0 when the connection closed unanswered, -1 when it hung). */
interface Sent {
  status: number;
  description: string;
}

async function sendRaw(url: string, random: Random, fuzzCase: FuzzCase): Promise<Sent> {
  const bytes = rawBytes(random, fuzzCase);
  const description = `raw ${JSON.stringify(bytes.subarray(0, 160).toString('latin1'))}`;
  const exchange = await RawExchange.open(url, { head: fuzzCase.method === 'HEAD', idleMs: RAW_IDLE_MS });
  // The server may answer (413, 431) and close before the whole request is written.
  await exchange.write(bytes).catch(() => undefined);
  const outcome = await exchange.outcome;
  return { status: outcome.kind === 'answered' ? outcome.response.status : outcome.kind === 'hung' ? -1 : 0, description };
}

async function sendFetch(url: string, random: Random, fuzzCase: FuzzCase): Promise<Sent | null> {
  const method = pick(random, FETCH_METHODS);
  const target = fuzzCase.target.startsWith('/') ? fuzzCase.target : '/';
  const hasBody = method !== 'GET' && method !== 'HEAD';
  const description = `fetch ${method} ${target} ${JSON.stringify(fuzzCase.headers.map(([name, value]) => `${name}: ${value.slice(0, 60)}`))}`;
  let request: Request;
  try {
    request = new Request(new URL(target, url), {
      method,
      headers: fuzzCase.headers.filter(([name]) => name !== 'Host'),
      body: hasBody ? fuzzCase.body : undefined,
      redirect: 'manual',
    });
  } catch {
    // fetch refuses to send this (a forbidden character or method): the raw path covers it.
    return null;
  }
  try {
    const response = await fetch(request);
    await response.arrayBuffer();
    return { status: response.status, description };
  } catch {
    // The server answered 431 or 413 and closed before fetch was done sending.
    return { status: 0, description };
  }
}

describe('bad input at volume', () => {
  it(`answers ${REQUESTS} random and mutated requests without a 5xx other than 503, and leaves a bystander's session intact (seed ${SEED}; replay with FUZZ_SEED=${SEED})`, async (t) => {
    const lines: string[] = [];
    const errors: string[] = [];
    const logger = new Logger({
      mode: 'requests',
      color: false,
      write: (text) => lines.push(text),
      writeError: (text) => errors.push(text),
    });
    const server = await startTestServer(t, {}, { logger });
    const host = new URL(server.url).host;

    const bystander = server.client();
    await register(bystander, 'bystander', 'a long bystander password nobody guesses');
    await bystander.json('POST', '/api/cart', { item: 'umbrella' });
    await bystander.json('POST', '/api/cart', { item: 'scarf' });
    await bystander.json('PUT', '/api/preferences', { theme: 'dark' });
    const bystanderId = bystander.sid!;
    const before = sessionView(await bystander.get('/api/session'));
    const bystanderFile = path.join(server.dirs.sessionsDir, `${storageKey(bystanderId)}.json`);

    const fuzzClients: Client[] = [];
    for (let index = 0; index < FUZZ_GUESTS; index += 1) {
      const guest = server.client();
      await guest.json('POST', '/api/cart', { item: `guest-${index}` });
      fuzzClients.push(guest);
    }
    for (let index = 0; index < FUZZ_USERS; index += 1) {
      const user = server.client();
      await register(user, `fuzz-user-${index}`);
      fuzzClients.push(user);
    }
    const identities: Identities = { fuzzIds: fuzzClients.map((client) => client.sid!), bystanderId };
    assert.ok(!identities.fuzzIds.includes(bystanderId));

    const results: Sent[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < REQUESTS) {
        const index = next;
        next += 1;
        // One generator per request, so request N is the same in every run of the seed.
        const random = mulberry32(SEED ^ Math.imul(index + 1, 0x9e3779b1));
        const fuzzCase = generateCase(random, identities, host);
        const sent =
          (chance(random, FETCH_SHARE) ? await sendFetch(server.url, random, fuzzCase) : null) ??
          (await sendRaw(server.url, random, fuzzCase));
        results.push({ ...sent, description: `#${index} ${sent.description}` });
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const elapsedMs = performance.now() - started;

    const byStatus = new Map<number, number>();
    for (const { status } of results) byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    t.diagnostic(
      `${results.length} requests in ${(elapsedMs / 1000).toFixed(1)} s; statuses ${JSON.stringify(Object.fromEntries([...byStatus].sort(([a], [b]) => a - b)))}`,
    );

    assert.equal(results.length, REQUESTS);
    // Status 0 (closed unanswered) is allowed: a mutated request whose body never
    // arrives in full cannot be answered. It cannot hide a failure of ours either:
    // an error would show in `errors` or as a 5xx in the request log (both checked
    // below), and a crash would fail the bystander's requests at the end.
    const serverErrors = results.filter(({ status }) => status >= 500 && status !== 503);
    assert.deepEqual(serverErrors, [], 'no 5xx other than 503');
    assert.deepEqual(
      results.filter(({ status }) => status === -1),
      [],
      'no request may hang',
    );
    const loggedErrors = lines.filter((line) => / 5(?!03)\d\d /.test(line));
    assert.deepEqual(loggedErrors, [], 'the request log shows no 5xx other than 503 either');
    assert.deepEqual(errors, [], 'no unexpected error was logged');

    // The server is alive and the bystander's session is exactly as it was.
    assert.equal((await server.client().get('/')).status, 303);
    assert.equal(bystander.sid, bystanderId);
    const me = await bystander.get('/api/me');
    assert.equal(me.status, 200);
    assert.equal(bodyOf(me).username, 'bystander');
    const after = sessionView(await bystander.get('/api/session'));
    assert.deepEqual(after.data, before.data);
    assert.equal(after.user, before.user);
    assert.equal(after.createdAt, before.createdAt);
    assert.deepEqual(after.events, before.events);
    assert.ok((await readFile(bystanderFile, 'utf8')).includes('"umbrella"'));
  });
});
