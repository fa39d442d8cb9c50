/** PASSWORD is the one every test account uses. */
export const PASSWORD = 'correct horse battery';

/** SESSION_ID_PATTERN is the shape of every issued ID: 32 random bytes in base64url. */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  /** json is the body parsed as JSON (undefined when it is not JSON). */
  json: unknown;
}

/**
 * Client is a tiny browser over fetch(): it keeps cookies between requests
 * (by name, honouring Max-Age=0 as a deletion) and never follows redirects,
 * so tests see every 303. For bytes fetch() would not send, see raw-http.ts.
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
    for (const line of response.headers.getSetCookie()) this.#store(parseSetCookie(line));
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, text, json };
  }

  #store({ name, value, attributes }: ParsedCookie): void {
    if (attributes.get('max-age') === '0' || value === '') this.cookies.delete(name);
    else this.cookies.set(name, value);
  }
}

/** register signs up `username` through the JSON API (signing the client in) and checks it worked. */
export async function register(client: Client, username: string, password = PASSWORD): Promise<Reply> {
  const reply = await client.json('POST', '/register', { username, password });
  if (reply.status !== 201) throw new Error(`register ${username} failed: ${reply.status} ${reply.text}`);
  return reply;
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
export function sessionCookieOf(reply: { headers: Headers }): ParsedCookie {
  const lines = reply.headers.getSetCookie();
  if (lines.length !== 1) throw new Error(`expected one Set-Cookie, got ${lines.length}`);
  return parseSetCookie(lines[0]!);
}

/** headersWithoutDate lists a reply's headers (lower-case names, sorted), Date left out: the only one allowed to differ. */
export function headersWithoutDate(headers: Headers): Array<[string, string]> {
  return [...headers].filter(([name]) => name !== 'date').sort(([a], [b]) => a.localeCompare(b));
}
