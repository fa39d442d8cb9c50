import { readFileSync } from 'node:fs';
import path from 'node:path';
import { waitInWords } from './duration.ts';
import { MAX_CART_ITEM_LENGTH, MAX_CART_ITEMS } from './sessions/record.ts';
import type { Theme } from './sessions/record.ts';

/** PageName: the HTML pages of public/: six served by their own routes (`lab` only in lab mode), and the 404 page a browser gets for an unknown address. */
export type PageName = 'login' | 'register' | 'dashboard' | 'profile' | 'devices' | 'not-found' | 'lab';

export const PAGE_NAMES: readonly PageName[] = ['login', 'register', 'dashboard', 'profile', 'devices', 'not-found'];

/** PagesOptions: in lab mode (`lab`), the lab page is added and every page carries the lab's banner. */
export interface PagesOptions {
  lab?: boolean;
}

/**
 * ERROR_MESSAGES: the only texts a page shows for `?error=`. The code in
 * the URL picks one of these; nothing from the URL itself reaches the page,
 * so the query string cannot inject markup.
 */
export const ERROR_MESSAGES: Readonly<Record<string, string>> = {
  invalid: 'That username and password do not match an account.',
  throttled: 'Too many failed sign-in attempts. Please try again later.',
  registrations: 'Too many accounts were made from your network recently. Please try again later.',
  busy: 'The server is busy signing people in. Please try again in a moment.',
  username: 'Usernames are 3 to 32 characters: letters, digits, and _ . -',
  password: 'Passwords are 8 to 1024 characters long.',
  taken: 'That username is taken. Please choose another.',
  malformed: 'The form could not be read. Please try again.',
};

/**
 * LIMITS fill the placeholders that are the same on every render, once at
 * start-up: the server's own limits, so the page and its scripts never keep
 * a copy that could drift from the rule the API enforces.
 */
const LIMITS: ReadonlyArray<[placeholder: string, value: string]> = [
  ['{{maxCartItems}}', String(MAX_CART_ITEMS)],
  ['{{maxCartItemLength}}', String(MAX_CART_ITEM_LENGTH)],
];

export interface PageValues {
  theme: Theme;
  /** session: whether the request came with a live session, so page scripts know if there is anything to inspect. */
  session: boolean;
  error?: string | null;
  /** retryAfterSeconds turns the `throttled` error's "later" into how long to wait. */
  retryAfterSeconds?: number;
  /** notice says why the visitor is on this page (their session ended, a page needs signing in); shown in the error's place, escaped. */
  notice?: string | null;
  next?: string;
}

/** throttledMessage is the `throttled` error with the wait from Retry-After. */
export function throttledMessage(retryAfterSeconds: number): string {
  return `Too many failed sign-in attempts. Please try again in ${waitInWords(retryAfterSeconds)}.`;
}

/**
 * Pages holds the HTML templates, read once at start-up with their partials
 * and LIMITS in place, and fills four placeholders per request: `{{theme}}`
 * (so the chosen theme shows without a flash), `{{session}}` ("yes" or
 * "no"), `{{error}}` (a fixed message from ERROR_MESSAGES, else the escaped
 * notice, else nothing) and `{{next}}` (the already validated local path to return to, HTML-escaped).
 */
export class Pages {
  #templates = new Map<PageName, string>();

  constructor(publicDir: string, options: PagesOptions = {}) {
    for (const name of options.lab === true ? [...PAGE_NAMES, 'lab' as const] : PAGE_NAMES) {
      const template = readFileSync(path.join(publicDir, `${name}.html`), 'utf8');
      const filled = withLimits(withPartials(template, publicDir));
      this.#templates.set(name, options.lab === true ? withLabBanner(filled, publicDir) : filled);
    }
  }

  render(name: PageName, values: PageValues): string {
    // Own keys only: `?error=toString` or `__proto__` must not reach Object.prototype.
    const known = values.error == null || !Object.hasOwn(ERROR_MESSAGES, values.error) ? undefined : ERROR_MESSAGES[values.error];
    const message =
      values.error === 'throttled' && values.retryAfterSeconds !== undefined ? throttledMessage(values.retryAfterSeconds) : known;
    const notice = values.notice == null ? '' : `<p id="page-notice" class="notice" role="status">${escapeHtml(values.notice)}</p>`;
    const error = message === undefined ? notice : `<p id="page-error" class="form-error" role="alert">${escapeHtml(message)}</p>`;
    const template = this.#templates.get(name);
    if (template === undefined) throw new TypeError(`Pages: no page named ${name}`);
    const filled: Record<RequestPlaceholder, string> = {
      theme: values.theme,
      session: values.session ? 'yes' : 'no',
      error,
      next: escapeHtml(values.next ?? ''),
    };
    // One pass, and a function replacer: a value is inserted as it is, never
    // read as a replacement pattern ($&, $`, $' or $$ in `next` would
    // otherwise copy parts of the page into itself), and never searched again.
    return template.replace(REQUEST_PLACEHOLDER, (_, name: RequestPlaceholder) => filled[name]);
  }
}

/** RequestPlaceholder names the four placeholders filled on every render. */
type RequestPlaceholder = 'theme' | 'session' | 'error' | 'next';
const REQUEST_PLACEHOLDER = /\{\{(theme|session|error|next)\}\}/g;

/**
 * withPartials replaces each `{{> name}}` with public/partials/name.html,
 * once at start-up, so a block that two pages share is written once.
 * Partial names are letters, digits and hyphens only.
 */
function withPartials(template: string, publicDir: string): string {
  return template.replace(/\{\{> ([a-z0-9-]+)\}\}/g, (_, name: string) =>
    readFileSync(path.join(publicDir, 'partials', `${name}.html`), 'utf8').trimEnd(),
  );
}

/**
 * withLabBanner puts public/partials/lab-banner.html at the top of the
 * body, once at start-up: in lab mode no page may be mistaken for a
 * defended one.
 */
function withLabBanner(template: string, publicDir: string): string {
  const banner = readFileSync(path.join(publicDir, 'partials', 'lab-banner.html'), 'utf8').trimEnd();
  return template.replace(/<body[^>]*>/, (body) => `${body}\n${banner}`);
}

/** withLimits puts the values of LIMITS in place of their placeholders. */
function withLimits(template: string): string {
  // A function replacer, so a value is never read as a replacement pattern.
  return LIMITS.reduce((text, [placeholder, value]) => text.replaceAll(placeholder, () => value), template);
}

/** escapeHtml makes text safe inside HTML text and double-quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
