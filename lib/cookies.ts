// Cookies: reading the `Cookie` request header and writing `Set-Cookie`.
//
// Lenient in, strict out. A browser, an old proxy or an attacker can send any
// bytes in `Cookie`, so parsing never throws: a pair it cannot make sense of is
// skipped and the request simply goes on without it. Serializing is our own
// code talking, so a bad name, value or option is a bug and throws a TypeError
// naming the field, before a broken header can reach a browser.
//
// Grammar references: RFC 6265 §4.1.1 (Set-Cookie syntax) and RFC 6265bis
// (SameSite, cookie-name prefixes); Partitioned is from CHIPS.

/** CookieOptions are the Set-Cookie attributes; an omitted option writes no attribute. */
export interface CookieOptions {
  /** Seconds until the cookie expires; 0 or less deletes it at once. */
  maxAge?: number;
  /** Absolute expiry; browsers prefer Max-Age when both are sent. */
  expires?: Date;
  /** Also send the cookie to subdomains of this domain; omit for this host only. */
  domain?: string;
  /** Send the cookie only for URLs under this path. */
  path?: string;
  /** Hide the cookie from page scripts (document.cookie). */
  httpOnly?: boolean;
  /** Send the cookie over HTTPS only. */
  secure?: boolean;
  /** When a request from another site may carry the cookie. */
  sameSite?: 'Strict' | 'Lax' | 'None';
  /** Keep a separate cookie jar per top-level site (CHIPS). */
  partitioned?: boolean;
}

const SPACE = 0x20;
const HORIZONTAL_TAB = 0x09;
const DOUBLE_QUOTE = '"';
const QUOTED_MIN_LENGTH = 2;

/**
 * parseCookies reads a `Cookie` request header into a name → value map.
 *
 * Lenient, and never throws. An undefined or empty header gives an empty map.
 * Pairs are split on `;`; spaces and tabs around names and values are trimmed;
 * the first occurrence of a name wins; a value wrapped in double quotes is
 * unquoted; a value is percent-decoded when its escapes are valid and kept
 * raw (whole) when any is not; pairs without `=` and pairs with an empty name
 * are skipped. Only the first `=` splits, so values may contain `=`.
 *
 * The map has no prototype, so names such as `__proto__` or `constructor` are
 * ordinary own keys and a hostile header cannot pollute Object.prototype.
 */
export function parseCookies(header: string | undefined): Record<string, string> {
  const cookies = Object.create(null) as Record<string, string>;
  forEachPair(header, (name, valueStart, valueEnd) => {
    if (!Object.hasOwn(cookies, name)) cookies[name] = valueOf(header ?? '', valueStart, valueEnd);
    return false;
  });
  return cookies;
}

/**
 * readCookie is `parseCookies(header)[name]` by the same rules, without
 * building the map: the value of the first pair named `name`, or undefined.
 * The server reads its one session cookie this way on every request.
 */
export function readCookie(header: string | undefined, name: string): string | undefined {
  let value: string | undefined;
  forEachPair(header, (pairName, valueStart, valueEnd) => {
    if (pairName !== name) return false;
    value = valueOf(header ?? '', valueStart, valueEnd);
    return true;
  });
  return value;
}

/**
 * forEachPair finds each `name=value` pair of a Cookie header, in order,
 * and hands `visit` its trimmed, non-empty name and where its value lies;
 * `visit` returns true to stop. Pairs without `=` are skipped.
 */
function forEachPair(header: string | undefined, visit: (name: string, valueStart: number, valueEnd: number) => boolean): void {
  if (!header) return;
  let start = 0;
  while (start < header.length) {
    const equals = header.indexOf('=', start);
    if (equals === -1) return; // no `=` left, so no pairs left

    let end = header.indexOf(';', start);
    if (end === -1) end = header.length;

    if (equals > end) {
      // Jump straight to the pair that holds that `=`: searching again from
      // every `=`-less pair would make a header of many `;` quadratic.
      start = header.lastIndexOf(';', equals) + 1;
      continue;
    }

    const name = trimWhitespace(header, start, equals);
    if (name !== '' && visit(name, equals + 1, end)) return;
    start = end + 1;
  }
}

/** valueOf is the value between `start` and `end` of `header`: trimmed, unquoted and percent-decoded. */
function valueOf(header: string, start: number, end: number): string {
  return decodeValue(unquote(trimWhitespace(header, start, end)));
}

// Departure from RFC 6265: browsers send `; ` between pairs (§4.2.1), but
// hand-written and proxied headers vary, so any run of spaces and tabs
// (RFC 9110 OWS) around a name or value is accepted.
function trimWhitespace(text: string, start: number, end: number): string {
  while (start < end && isWhitespace(text.charCodeAt(start))) start++;
  while (end > start && isWhitespace(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

function isWhitespace(code: number): boolean {
  return code === SPACE || code === HORIZONTAL_TAB;
}

// The quotes of `"..."` belong to the cookie-value grammar, not to the value.
function unquote(value: string): string {
  const quoted = value.length >= QUOTED_MIN_LENGTH && value.startsWith(DOUBLE_QUOTE) && value.endsWith(DOUBLE_QUOTE);
  return quoted ? value.slice(1, -1) : value;
}

// Departure from RFC 6265, which defines no encoding: servers conventionally
// percent-encode values, so decode them, keeping the raw value when that fails.
function decodeValue(value: string): string {
  if (!value.includes('%')) return value; // the common case: nothing to decode
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

// cookie-name = token                       (RFC 2616 §2.2)
// token       = 1*<any CHAR except CTLs or separators>
// separators  = ( ) < > @ , ; : \ " / [ ] ? = { } SP HT
// What remains is letters, digits and ! # $ % & ' * + - . ^ _ ` | ~
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

// cookie-value = *cookie-octet / ( DQUOTE *cookie-octet DQUOTE )
// cookie-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E
//                (visible ASCII but for " , ; and \)
// Written as: an optional opening quote, octets, then the same quote again.
const COOKIE_VALUE = /^("?)[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*\1$/;

// domain-value = subdomain                  (RFC 1034 §3.5, RFC 1123 §2.1)
// subdomain    = label *( "." label )
// label        = let-dig [ *61( let-dig / "-" ) let-dig ]   (1 to 63 characters)
const DOMAIN_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

// path-value = 1*<any CHAR except CTLs or ";">
// CHAR is %x00-7F and CTLs are %x00-1F and %x7F, which leaves %x20-3A / %x3C-7E.
const PATH_VALUE = /^[\x20-\x3A\x3C-\x7E]+$/;

// samesite-value = "Strict" / "Lax" / "None"   (RFC 6265bis)
const SAME_SITE_VALUES: ReadonlySet<string> = new Set(['Strict', 'Lax', 'None']);

// Cookie-name prefixes (RFC 6265bis). Browsers compare them
// case-insensitively, so `__host-sid` is held to the same rules as `__Host-sid`.
const SECURE_PREFIX = '__secure-';
const HOST_PREFIX = '__host-';

/**
 * serializeCookie builds one `Set-Cookie` header value.
 *
 * Strict: throws a TypeError naming the bad field when the name is not an
 * RFC 6265 token, the value is not a cookie-value, or an option is invalid.
 * The value is written as given, with no percent-encoding, so the caller must
 * pass cookie-octets (base64url, for example). Options default to absent:
 * no expiry (a session cookie that ends when the browser closes), no Domain
 * (this host only), no Path (the browser's default), and no flags.
 *
 * Attributes come out in a fixed order:
 * `name=value; Max-Age; Domain; Path; Expires; HttpOnly; Secure; Partitioned; SameSite`.
 */
export function serializeCookie(name: string, value: string, options: CookieOptions = {}): string {
  if (!COOKIE_NAME.test(name)) {
    throw new TypeError(`cookie name must be an RFC 6265 token: ${JSON.stringify(name)}`);
  }
  // The value is left out of the message: it may be a session ID.
  if (!COOKIE_VALUE.test(value)) {
    throw new TypeError(`cookie value for ${name} must be an RFC 6265 cookie-value`);
  }
  checkSecurityRules(name, options);

  let cookie = `${name}=${value}`;

  if (options.maxAge !== undefined) {
    // max-age-av = "Max-Age=" non-zero-digit *DIGIT
    // Departure: 0 and negative whole numbers are allowed, as the usual way to
    // delete a cookie (browsers expire it at once, RFC 6265 §5.2.2). Safe
    // integers only, since larger numbers print in exponent notation.
    if (!Number.isSafeInteger(options.maxAge)) {
      throw new TypeError(`option maxAge must be a whole number of seconds: ${options.maxAge}`);
    }
    cookie += `; Max-Age=${options.maxAge}`;
  }

  if (options.domain !== undefined) {
    if (!isDomainValue(options.domain)) {
      throw new TypeError(`option domain must be an RFC 6265 domain-value: ${JSON.stringify(options.domain)}`);
    }
    cookie += `; Domain=${options.domain}`;
  }

  if (options.path !== undefined) {
    if (!PATH_VALUE.test(options.path)) {
      throw new TypeError(`option path must be an RFC 6265 path-value: ${JSON.stringify(options.path)}`);
    }
    cookie += `; Path=${options.path}`;
  }

  if (options.expires !== undefined) {
    if (!(options.expires instanceof Date) || Number.isNaN(options.expires.getTime())) {
      throw new TypeError('option expires must be a valid Date');
    }
    // expires-av = "Expires=" sane-cookie-date, an RFC 1123 date, which is
    // exactly what toUTCString writes: `Sun, 06 Nov 1994 08:49:37 GMT`.
    cookie += `; Expires=${options.expires.toUTCString()}`;
  }

  if (options.httpOnly) cookie += '; HttpOnly';
  if (options.secure) cookie += '; Secure';
  if (options.partitioned) cookie += '; Partitioned';

  if (options.sameSite !== undefined) {
    if (!SAME_SITE_VALUES.has(options.sameSite)) {
      throw new TypeError(`option sameSite must be Strict, Lax or None: ${JSON.stringify(options.sameSite)}`);
    }
    cookie += `; SameSite=${options.sameSite}`;
  }

  return cookie;
}

// Departure from RFC 6265: one leading "." is accepted, as older code sends
// it and browsers ignore it (§5.2.3).
function isDomainValue(domain: string): boolean {
  const bare = domain.startsWith('.') ? domain.slice(1) : domain;
  return bare.split('.').every((label) => DOMAIN_LABEL.test(label));
}

// Rules that tie the name or one attribute to Secure. Browsers silently drop a
// cookie that breaks them, which shows up much later as "the login doesn't
// stick", so they are refused here, where the mistake is made.
function checkSecurityRules(name: string, options: CookieOptions): void {
  const lowerName = name.toLowerCase();

  // __Secure- proves to the server that the cookie was set over HTTPS, so a
  // network attacker on plain HTTP cannot plant one.
  if (lowerName.startsWith(SECURE_PREFIX) && !options.secure) {
    throw new TypeError(`option secure is required for a ${name} cookie (__Secure- prefix)`);
  }

  // __Host- also pins the cookie to this exact host and the whole site, so a
  // sibling subdomain cannot set or shadow it (session fixation).
  if (lowerName.startsWith(HOST_PREFIX)) {
    if (!options.secure) {
      throw new TypeError(`option secure is required for a ${name} cookie (__Host- prefix)`);
    }
    if (options.path !== '/') {
      throw new TypeError(`option path must be "/" for a ${name} cookie (__Host- prefix)`);
    }
    if (options.domain !== undefined) {
      throw new TypeError(`option domain must be omitted for a ${name} cookie (__Host- prefix)`);
    }
  }

  // Browsers reject SameSite=None without Secure (RFC 6265bis): a
  // cookie sent on every cross-site request must at least not travel in clear.
  if (options.sameSite === 'None' && !options.secure) {
    throw new TypeError('option secure is required with sameSite None');
  }

  if (options.partitioned && !options.secure) {
    throw new TypeError('option secure is required with partitioned (CHIPS)');
  }
}
