import { idPrefix } from '../../sessions/session-id.ts';

/**
 * Agent is one party of an attack (the victim's browser, the attacker's
 * script) talking to a lab server over real HTTP: it keeps the session
 * cookie it is given, as a browser would, and sends it back. It follows no
 * redirect and speaks JSON unless told to post a form.
 */

/** Answer is one response, as much of it as an attack looks at. */
export interface Answer {
  status: number;
  /** body is the parsed JSON, or null when the answer is not JSON. */
  body: unknown;
  /** setCookie is the session cookie's Set-Cookie line, if the answer had one. */
  setCookie: string | null;
}

/** RequestOptions: a JSON body, or a form body, and any extra headers (Origin, Sec-Fetch-Site). */
export interface RequestOptions {
  json?: unknown;
  form?: Record<string, string>;
  headers?: Record<string, string>;
}

/** SESSION_COOKIE_LINE reads a session cookie (`sid` or `__Host-sid`) out of a Set-Cookie line: its name and value. */
const SESSION_COOKIE_LINE = /^((?:__Host-)?sid)=([^;]*)/;

export class Agent {
  readonly base: string;
  #cookie: { name: string; value: string } | null = null;
  #lastSetCookie: string | null = null;

  constructor(base: string) {
    this.base = base;
  }

  /** sid is the session ID this agent holds, or null. */
  get sid(): string | null {
    return this.#cookie?.value ?? null;
  }

  /** shownSid is the held ID as the lab shows it: its first characters only. */
  get shownSid(): string {
    return this.sid === null ? '(none)' : idPrefix(this.sid);
  }

  /** lastSetCookie is the last session Set-Cookie line the server sent this agent, or null. */
  get lastSetCookie(): string | null {
    return this.#lastSetCookie;
  }

  /** hold makes the agent hold `id` as its session cookie, as a planted or stolen cookie would be. */
  hold(id: string, name = 'sid'): void {
    this.#cookie = { name, value: id };
  }

  async request(method: string, path: string, options: RequestOptions = {}): Promise<Answer> {
    const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
    if (this.#cookie !== null) headers.Cookie = `${this.#cookie.name}=${this.#cookie.value}`;
    let body: string | undefined;
    if (options.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.form !== undefined) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(options.form).toString();
    }
    const response = await fetch(new URL(path, this.base), { method, headers, body, redirect: 'manual' });
    const setCookie = response.headers.getSetCookie().find((line) => SESSION_COOKIE_LINE.test(line)) ?? null;
    if (setCookie !== null) this.#keep(setCookie);
    const text = await response.text();
    return { status: response.status, body: parseJson(text, response.headers.get('content-type')), setCookie };
  }

  /** #keep stores a session cookie as a browser would: a value replaces the one held, an empty one (a clearing) removes it. */
  #keep(line: string): void {
    this.#lastSetCookie = line;
    const [, name = 'sid', value = ''] = SESSION_COOKIE_LINE.exec(line) ?? [];
    this.#cookie = value === '' ? null : { name, value };
  }
}

function parseJson(text: string, type: string | null): unknown {
  if (type?.includes('application/json') !== true) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

/** field reads one field of a JSON answer's body, or undefined when the body is not an object. */
export function field(answer: Answer, name: string): unknown {
  const body = answer.body;
  return typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>)[name] : undefined;
}
