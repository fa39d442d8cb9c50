import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { parseCookies, readCookie, serializeCookie } from '../../lib/cookies.ts';
import type { CookieOptions } from '../../lib/cookies.ts';

interface ParseCase {
  it: string;
  header: string | undefined;
  expected: Record<string, string>;
}

// Compares as plain objects: parseCookies returns a prototype-less map.
// readCookie must find each name exactly as parseCookies does, and nothing more.
function assertParses({ header, expected }: ParseCase): void {
  assert.deepEqual({ ...parseCookies(header) }, expected);
  for (const [name, value] of Object.entries(expected)) assert.equal(readCookie(header, name), value, `readCookie(${name})`);
  for (const absent of ['absent', 'toString', '__proto__']) {
    if (!Object.hasOwn(expected, absent)) assert.equal(readCookie(header, absent), undefined, `readCookie(${absent})`);
  }
}

describe('parseCookies', () => {
  describe('when there is nothing to parse', () => {
    const cases: ParseCase[] = [
      { it: 'returns an empty map for an undefined header', header: undefined, expected: {} },
      { it: 'returns an empty map for an empty header', header: '', expected: {} },
      { it: 'returns an empty map for a header of only spaces and tabs', header: ' \t ', expected: {} },
      { it: 'returns an empty map for a header of only separators', header: ';;; ;', expected: {} },
    ];
    for (const c of cases) it(c.it, () => assertParses(c));
  });

  describe('splitting pairs', () => {
    const cases: ParseCase[] = [
      { it: 'reads a single pair', header: 'sid=abc', expected: { sid: 'abc' } },
      { it: 'reads pairs separated by "; "', header: 'a=1; b=2; c=3', expected: { a: '1', b: '2', c: '3' } },
      { it: 'reads pairs separated by a bare ";"', header: 'a=1;b=2', expected: { a: '1', b: '2' } },
      { it: 'ignores a trailing ";"', header: 'a=1; ', expected: { a: '1' } },
      { it: 'keeps an empty value', header: 'a=; b=2', expected: { a: '', b: '2' } },
      { it: 'splits on the first "=" only, so values may hold "="', header: 'a=b=c==', expected: { a: 'b=c==' } },
    ];
    for (const c of cases) it(c.it, () => assertParses(c));
  });

  describe('whitespace', () => {
    const cases: ParseCase[] = [
      { it: 'trims spaces around names and values', header: '  a  =  1  ;  b = 2 ', expected: { a: '1', b: '2' } },
      { it: 'trims tabs around names and values', header: '\ta\t=\t1\t;\tb=2', expected: { a: '1', b: '2' } },
      { it: 'keeps whitespace inside a value', header: 'a= x y ', expected: { a: 'x y' } },
      { it: 'keeps whitespace inside quotes', header: 'a=" x "', expected: { a: ' x ' } },
    ];
    for (const c of cases) it(c.it, () => assertParses(c));
  });

  describe('skipping what is not a pair', () => {
    const cases: ParseCase[] = [
      { it: 'skips a pair without "="', header: 'flag; a=1', expected: { a: '1' } },
      { it: 'skips a last pair without "="', header: 'a=1; flag', expected: { a: '1' } },
      { it: 'skips many pairs without "=" before one with it', header: 'x; y; z; a=1; w', expected: { a: '1' } },
      { it: 'skips a pair with an empty name', header: '=1; a=2', expected: { a: '2' } },
      { it: 'skips a pair whose name is only whitespace', header: ' \t=1; a=2', expected: { a: '2' } },
    ];
    for (const c of cases) it(c.it, () => assertParses(c));

    it('stays fast on a long header of "="-less pairs', () => {
      const header = `${';'.repeat(100_000)}a=1`;
      assert.deepEqual({ ...parseCookies(header) }, { a: '1' });
    });
  });

  describe('duplicate names', () => {
    const cases: ParseCase[] = [
      { it: 'keeps the first occurrence of a name', header: 'sid=first; sid=second', expected: { sid: 'first' } },
      { it: 'keeps the first occurrence even when it is empty', header: 'sid=; sid=second', expected: { sid: '' } },
      { it: 'treats names case-sensitively', header: 'sid=1; SID=2', expected: { sid: '1', SID: '2' } },
    ];
    for (const c of cases) it(c.it, () => assertParses(c));
  });

  describe('quoted values', () => {
    const cases: ParseCase[] = [
      { it: 'unquotes a double-quoted value', header: 'a="hello"', expected: { a: 'hello' } },
      { it: 'unquotes an empty quoted value', header: 'a=""', expected: { a: '' } },
      { it: 'unquotes after trimming whitespace', header: 'a= "hello" ', expected: { a: 'hello' } },
      { it: 'keeps a lone double quote', header: 'a="', expected: { a: '"' } },
      { it: 'keeps a value with only an opening quote', header: 'a="hello', expected: { a: '"hello' } },
      { it: 'keeps a value with only a closing quote', header: 'a=hello"', expected: { a: 'hello"' } },
      { it: 'decodes inside the quotes', header: 'a="x%20y"', expected: { a: 'x y' } },
    ];
    for (const c of cases) it(c.it, () => assertParses(c));
  });

  describe('percent-decoding', () => {
    const cases: ParseCase[] = [
      { it: 'decodes valid escapes', header: 'a=hello%20world%21', expected: { a: 'hello world!' } },
      { it: 'decodes UTF-8 escapes', header: 'a=%E2%82%AC', expected: { a: '€' } },
      { it: 'keeps the raw value when a % escape is invalid', header: 'a=100%', expected: { a: '100%' } },
      { it: 'keeps the raw value when an escape is not hex', header: 'a=%zz', expected: { a: '%zz' } },
      { it: 'keeps the whole raw value when any escape is invalid', header: 'a=%20%E2', expected: { a: '%20%E2' } },
      { it: 'leaves a value without % untouched', header: 'a=x+y', expected: { a: 'x+y' } },
      { it: 'does not decode names', header: 'a%20b=1', expected: { 'a%20b': '1' } },
    ];
    for (const c of cases) it(c.it, () => assertParses(c));
  });

  describe('prototype pollution', () => {
    it('returns a map without a prototype', () => {
      assert.equal(Object.getPrototypeOf(parseCookies('a=1')), null);
      assert.equal(Object.getPrototypeOf(parseCookies(undefined)), null);
    });

    it('keeps __proto__ and constructor as own keys', () => {
      const cookies = parseCookies('__proto__=x; constructor=y');
      assert.deepEqual(Object.keys(cookies), ['__proto__', 'constructor']);
      assert.equal(cookies.__proto__, 'x');
      assert.equal(cookies.constructor, 'y');
    });

    it('does not change Object.prototype', () => {
      const before = Object.getOwnPropertyNames(Object.prototype);
      parseCookies('__proto__=x; constructor=y; toString=z; hasOwnProperty=w');
      assert.deepEqual(Object.getOwnPropertyNames(Object.prototype), before);
      const plain: Record<string, unknown> = {};
      assert.equal(plain.x, undefined);
      assert.equal(plain.constructor, Object);
      assert.equal(typeof plain.toString, 'function');
    });

    it('does not report inherited names as cookies', () => {
      const cookies = parseCookies('a=1');
      assert.equal(typeof cookies.toString, 'undefined');
      assert.equal(cookies.constructor, undefined);
      assert.equal('hasOwnProperty' in cookies, false);
    });

    it('still lets the first of two __proto__ pairs win', () => {
      assert.equal(parseCookies('__proto__=first; __proto__=second').__proto__, 'first');
    });
  });
});

interface SerializeCase {
  it: string;
  name: string;
  value: string;
  options?: CookieOptions;
  expected: string;
}

interface ThrowCase {
  it: string;
  name: string;
  value: string;
  options?: CookieOptions;
  throws: RegExp;
}

const EXPIRES = new Date(Date.UTC(2026, 10, 22, 3, 10, 0));
const EXPIRES_TEXT = 'Sun, 22 Nov 2026 03:10:00 GMT';
const SESSION_ID = 'q8x2HfZ0_aB-9cdEfGhIjKlMnOpQrStUvWxYz012345';

describe('serializeCookie', () => {
  describe('names and values', () => {
    const cases: SerializeCase[] = [
      { it: 'writes name=value with no options', name: 'sid', value: 'abc', expected: 'sid=abc' },
      { it: 'writes a base64url session ID unchanged', name: 'sid', value: SESSION_ID, expected: `sid=${SESSION_ID}` },
      { it: 'allows an empty value', name: 'sid', value: '', expected: 'sid=' },
      { it: 'allows a double-quoted value as is', name: 'a', value: '"quoted"', expected: 'a="quoted"' },
      { it: 'allows an empty quoted value', name: 'a', value: '""', expected: 'a=""' },
      { it: 'allows every token character in a name', name: "!#$%&'*+-.^_`|~09AZaz", value: 'v', expected: "!#$%&'*+-.^_`|~09AZaz=v" },
      { it: 'allows every cookie-octet in a value', name: 'a', value: '!#+-:<[]~=/?', expected: 'a=!#+-:<[]~=/?' },
      { it: 'does not percent-encode the value', name: 'a', value: '%20', expected: 'a=%20' },
    ];
    for (const c of cases) {
      it(c.it, () => assert.equal(serializeCookie(c.name, c.value, c.options), c.expected));
    }
  });

  describe('attributes', () => {
    const cases: SerializeCase[] = [
      { it: 'writes Max-Age', name: 'a', value: 'b', options: { maxAge: 3600 }, expected: 'a=b; Max-Age=3600' },
      { it: 'writes Max-Age=0 to delete a cookie', name: 'a', value: '', options: { maxAge: 0 }, expected: 'a=; Max-Age=0' },
      { it: 'allows a negative Max-Age', name: 'a', value: 'b', options: { maxAge: -1 }, expected: 'a=b; Max-Age=-1' },
      { it: 'writes Domain', name: 'a', value: 'b', options: { domain: 'example.com' }, expected: 'a=b; Domain=example.com' },
      {
        it: 'allows a leading dot in Domain',
        name: 'a',
        value: 'b',
        options: { domain: '.example.com' },
        expected: 'a=b; Domain=.example.com',
      },
      {
        it: 'allows a single-label Domain with hyphens and digits',
        name: 'a',
        value: 'b',
        options: { domain: 'my-host2' },
        expected: 'a=b; Domain=my-host2',
      },
      { it: 'writes Path', name: 'a', value: 'b', options: { path: '/' }, expected: 'a=b; Path=/' },
      { it: 'allows spaces in Path', name: 'a', value: 'b', options: { path: '/my docs' }, expected: 'a=b; Path=/my docs' },
      {
        it: 'writes Expires as an RFC 1123 date',
        name: 'a',
        value: 'b',
        options: { expires: EXPIRES },
        expected: `a=b; Expires=${EXPIRES_TEXT}`,
      },
      { it: 'writes HttpOnly', name: 'a', value: 'b', options: { httpOnly: true }, expected: 'a=b; HttpOnly' },
      { it: 'writes Secure', name: 'a', value: 'b', options: { secure: true }, expected: 'a=b; Secure' },
      {
        it: 'writes Partitioned with Secure',
        name: 'a',
        value: 'b',
        options: { secure: true, partitioned: true },
        expected: 'a=b; Secure; Partitioned',
      },
      { it: 'writes SameSite=Strict', name: 'a', value: 'b', options: { sameSite: 'Strict' }, expected: 'a=b; SameSite=Strict' },
      { it: 'writes SameSite=Lax', name: 'a', value: 'b', options: { sameSite: 'Lax' }, expected: 'a=b; SameSite=Lax' },
      {
        it: 'writes SameSite=None with Secure',
        name: 'a',
        value: 'b',
        options: { sameSite: 'None', secure: true },
        expected: 'a=b; Secure; SameSite=None',
      },
      {
        it: 'writes no attribute for false flags',
        name: 'a',
        value: 'b',
        options: { httpOnly: false, secure: false, partitioned: false },
        expected: 'a=b',
      },
      {
        it: 'writes every attribute in a fixed order',
        name: 'a',
        value: 'b',
        options: {
          sameSite: 'None',
          partitioned: true,
          secure: true,
          httpOnly: true,
          expires: EXPIRES,
          path: '/app',
          domain: 'example.com',
          maxAge: 60,
        },
        expected: `a=b; Max-Age=60; Domain=example.com; Path=/app; Expires=${EXPIRES_TEXT}; HttpOnly; Secure; Partitioned; SameSite=None`,
      },
      {
        it: "writes Cloakroom's session cookie",
        name: 'sid',
        value: SESSION_ID,
        options: { httpOnly: true, sameSite: 'Lax', path: '/' },
        expected: `sid=${SESSION_ID}; Path=/; HttpOnly; SameSite=Lax`,
      },
    ];
    for (const c of cases) {
      it(c.it, () => assert.equal(serializeCookie(c.name, c.value, c.options), c.expected));
    }
  });

  describe('cookie-name prefixes', () => {
    const cases: SerializeCase[] = [
      { it: 'allows __Secure- with Secure', name: '__Secure-a', value: 'b', options: { secure: true }, expected: '__Secure-a=b; Secure' },
      {
        it: 'allows __Secure- with a Domain and any Path',
        name: '__Secure-a',
        value: 'b',
        options: { secure: true, domain: 'example.com', path: '/app' },
        expected: '__Secure-a=b; Domain=example.com; Path=/app; Secure',
      },
      {
        it: 'allows __Host- with Secure, Path=/ and no Domain',
        name: '__Host-sid',
        value: SESSION_ID,
        options: { secure: true, path: '/', httpOnly: true, sameSite: 'Lax' },
        expected: `__Host-sid=${SESSION_ID}; Path=/; HttpOnly; Secure; SameSite=Lax`,
      },
      { it: 'does not treat a name that only contains a prefix as prefixed', name: 'my__Host-a', value: 'b', expected: 'my__Host-a=b' },
    ];
    for (const c of cases) {
      it(c.it, () => assert.equal(serializeCookie(c.name, c.value, c.options), c.expected));
    }
  });

  describe('when a field is invalid', () => {
    const cases: ThrowCase[] = [
      { it: 'rejects an empty name', name: '', value: 'b', throws: /cookie name/ },
      { it: 'rejects a name with a space', name: 'a b', value: 'b', throws: /cookie name/ },
      { it: 'rejects a name with "="', name: 'a=b', value: 'c', throws: /cookie name/ },
      { it: 'rejects a name with ";"', name: 'a;b', value: 'c', throws: /cookie name/ },
      { it: 'rejects a name with a separator', name: 'a(b)', value: 'c', throws: /cookie name/ },
      { it: 'rejects a name with a control character', name: 'a\nb', value: 'c', throws: /cookie name/ },
      { it: 'rejects a name with non-ASCII', name: 'café', value: 'c', throws: /cookie name/ },
      { it: 'rejects a value with a space', name: 'a', value: 'b c', throws: /cookie value/ },
      { it: 'rejects a value with ";"', name: 'a', value: 'b;c', throws: /cookie value/ },
      { it: 'rejects a value with ","', name: 'a', value: 'b,c', throws: /cookie value/ },
      { it: 'rejects a value with a backslash', name: 'a', value: 'b\\c', throws: /cookie value/ },
      { it: 'rejects a value with a quote inside', name: 'a', value: 'b"c', throws: /cookie value/ },
      { it: 'rejects a value with only an opening quote', name: 'a', value: '"bc', throws: /cookie value/ },
      { it: 'rejects a value with a control character', name: 'a', value: 'b\r\nSet-Cookie: x=y', throws: /cookie value/ },
      { it: 'rejects a value with non-ASCII', name: 'a', value: 'é', throws: /cookie value/ },
      { it: 'rejects a fractional maxAge', name: 'a', value: 'b', options: { maxAge: 1.5 }, throws: /option maxAge/ },
      { it: 'rejects a NaN maxAge', name: 'a', value: 'b', options: { maxAge: Number.NaN }, throws: /option maxAge/ },
      { it: 'rejects an infinite maxAge', name: 'a', value: 'b', options: { maxAge: Number.POSITIVE_INFINITY }, throws: /option maxAge/ },
      { it: 'rejects a maxAge beyond the safe integers', name: 'a', value: 'b', options: { maxAge: 1e21 }, throws: /option maxAge/ },
      { it: 'rejects an empty domain', name: 'a', value: 'b', options: { domain: '' }, throws: /option domain/ },
      { it: 'rejects a domain with ";"', name: 'a', value: 'b', options: { domain: 'example.com;x' }, throws: /option domain/ },
      { it: 'rejects a domain with an empty label', name: 'a', value: 'b', options: { domain: 'example..com' }, throws: /option domain/ },
      { it: 'rejects a domain with a trailing dot', name: 'a', value: 'b', options: { domain: 'example.com.' }, throws: /option domain/ },
      {
        it: 'rejects a domain with two leading dots',
        name: 'a',
        value: 'b',
        options: { domain: '..example.com' },
        throws: /option domain/,
      },
      {
        it: 'rejects a label that starts with a hyphen',
        name: 'a',
        value: 'b',
        options: { domain: '-example.com' },
        throws: /option domain/,
      },
      {
        it: 'rejects a label that ends with a hyphen',
        name: 'a',
        value: 'b',
        options: { domain: 'example-.com' },
        throws: /option domain/,
      },
      {
        it: 'rejects a label longer than 63 characters',
        name: 'a',
        value: 'b',
        options: { domain: `${'x'.repeat(64)}.com` },
        throws: /option domain/,
      },
      { it: 'rejects a domain with a port', name: 'a', value: 'b', options: { domain: 'example.com:3000' }, throws: /option domain/ },
      { it: 'rejects an empty path', name: 'a', value: 'b', options: { path: '' }, throws: /option path/ },
      { it: 'rejects a path with ";"', name: 'a', value: 'b', options: { path: '/a;b' }, throws: /option path/ },
      { it: 'rejects a path with a control character', name: 'a', value: 'b', options: { path: '/a\nb' }, throws: /option path/ },
      { it: 'rejects a path with DEL', name: 'a', value: 'b', options: { path: '/a\x7Fb' }, throws: /option path/ },
      { it: 'rejects a path with non-ASCII', name: 'a', value: 'b', options: { path: '/café' }, throws: /option path/ },
      { it: 'rejects an invalid Date', name: 'a', value: 'b', options: { expires: new Date(Number.NaN) }, throws: /option expires/ },
      {
        it: 'rejects an expires that is not a Date',
        name: 'a',
        value: 'b',
        options: { expires: 'tomorrow' as unknown as Date },
        throws: /option expires/,
      },
      {
        it: 'rejects a sameSite in the wrong case',
        name: 'a',
        value: 'b',
        options: { sameSite: 'lax' as CookieOptions['sameSite'] },
        throws: /option sameSite/,
      },
      {
        it: 'rejects an unknown sameSite',
        name: 'a',
        value: 'b',
        options: { sameSite: 'Loose' as CookieOptions['sameSite'] },
        throws: /option sameSite/,
      },
    ];
    for (const c of cases) {
      it(c.it, () => assert.throws(() => serializeCookie(c.name, c.value, c.options), { name: 'TypeError', message: c.throws }));
    }

    it('does not echo the rejected value, which may be a secret', () => {
      assert.throws(
        () => serializeCookie('sid', 'secret value'),
        (error: unknown) => {
          assert.ok(error instanceof TypeError);
          assert.doesNotMatch(error.message, /secret/);
          return true;
        },
      );
    });
  });

  describe('when a security rule is broken', () => {
    const cases: ThrowCase[] = [
      { it: 'requires Secure for __Secure-', name: '__Secure-a', value: 'b', throws: /option secure .*__Secure-/ },
      { it: 'requires Secure for __Secure- in any case', name: '__secure-a', value: 'b', throws: /option secure .*__Secure-/ },
      { it: 'requires Secure for __Host-', name: '__Host-a', value: 'b', options: { path: '/' }, throws: /option secure .*__Host-/ },
      {
        it: 'requires Secure for __Host- in any case',
        name: '__HOST-a',
        value: 'b',
        options: { path: '/' },
        throws: /option secure .*__Host-/,
      },
      { it: 'requires a Path for __Host-', name: '__Host-a', value: 'b', options: { secure: true }, throws: /option path .*__Host-/ },
      {
        it: 'requires Path=/ for __Host-',
        name: '__Host-a',
        value: 'b',
        options: { secure: true, path: '/app' },
        throws: /option path .*__Host-/,
      },
      {
        it: 'forbids a Domain for __Host-',
        name: '__Host-a',
        value: 'b',
        options: { secure: true, path: '/', domain: 'example.com' },
        throws: /option domain .*__Host-/,
      },
      {
        it: 'requires Secure for SameSite=None',
        name: 'a',
        value: 'b',
        options: { sameSite: 'None' },
        throws: /option secure .*sameSite None/,
      },
      {
        it: 'requires Secure for Partitioned',
        name: 'a',
        value: 'b',
        options: { partitioned: true },
        throws: /option secure .*partitioned/,
      },
    ];
    for (const c of cases) {
      it(c.it, () => assert.throws(() => serializeCookie(c.name, c.value, c.options), { name: 'TypeError', message: c.throws }));
    }
  });

  describe('round trip', () => {
    it('parses back what it serialized', () => {
      const header = serializeCookie('sid', SESSION_ID, { httpOnly: true, path: '/' });
      const pair = header.slice(0, header.indexOf(';'));
      assert.deepEqual({ ...parseCookies(pair) }, { sid: SESSION_ID });
    });
  });
});
