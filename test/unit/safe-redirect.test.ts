import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_AFTER_LOGIN, safeNext } from '../../lib/safe-redirect.ts';

interface Case {
  it: string;
  next: unknown;
  expected: string;
}

describe('safeNext', () => {
  describe('keeps a local path', () => {
    const cases: Case[] = [
      { it: 'keeps a plain path', next: '/profile', expected: '/profile' },
      { it: 'keeps the root', next: '/', expected: '/' },
      { it: 'keeps a query and a fragment', next: '/dashboard?tab=cart#top', expected: '/dashboard?tab=cart#top' },
      { it: 'normalises dot segments that stay on the site', next: '/a/../profile', expected: '/profile' },
      { it: 'keeps percent-encoded characters as they are', next: '/%2F%2Fevil.com', expected: '/%2F%2Fevil.com' },
    ];
    for (const c of cases) it(c.it, () => assert.equal(safeNext(c.next), c.expected));
  });

  describe('falls back to /dashboard for anything else', () => {
    const cases: Case[] = [
      { it: 'refuses undefined', next: undefined, expected: DEFAULT_AFTER_LOGIN },
      { it: 'refuses a non-string', next: ['/profile'], expected: DEFAULT_AFTER_LOGIN },
      { it: 'refuses an empty string', next: '', expected: DEFAULT_AFTER_LOGIN },
      { it: 'refuses an absolute URL', next: 'https://evil.example/', expected: DEFAULT_AFTER_LOGIN },
      { it: 'refuses a scheme-relative URL', next: '//evil.example/', expected: DEFAULT_AFTER_LOGIN },
      { it: 'refuses a backslash that browsers read as a slash', next: '/\\evil.example', expected: DEFAULT_AFTER_LOGIN },
      { it: 'refuses a backslash anywhere', next: '/a\\b', expected: DEFAULT_AFTER_LOGIN },
      { it: 'refuses a javascript: URL', next: 'javascript:alert(1)', expected: DEFAULT_AFTER_LOGIN },
      { it: 'refuses a relative path', next: 'profile', expected: DEFAULT_AFTER_LOGIN },
      { it: 'refuses CR and LF, which would split the Location header', next: '/a\r\nSet-Cookie: x=1', expected: DEFAULT_AFTER_LOGIN },
      { it: 'refuses a tab', next: '/\t/evil.example', expected: DEFAULT_AFTER_LOGIN },
      { it: 'refuses a space', next: '/a b', expected: DEFAULT_AFTER_LOGIN },
      { it: 'refuses non-ASCII', next: '/café', expected: DEFAULT_AFTER_LOGIN },
      { it: 'refuses a path longer than 512 characters', next: `/${'a'.repeat(512)}`, expected: DEFAULT_AFTER_LOGIN },
      { it: 'refuses dot segments that collapse into a scheme-relative URL', next: '/..//evil.example', expected: DEFAULT_AFTER_LOGIN },
      { it: 'refuses a single dot segment before a double slash', next: '/.//evil.example', expected: DEFAULT_AFTER_LOGIN },
      { it: 'refuses encoded dot segments that collapse the same way', next: '/%2e%2e//evil.example', expected: DEFAULT_AFTER_LOGIN },
    ];
    for (const c of cases) it(c.it, () => assert.equal(safeNext(c.next), c.expected));
  });

  it('accepts a path of exactly 512 characters', () => {
    const next = `/${'a'.repeat(511)}`;
    assert.equal(safeNext(next), next);
  });

  it('returns the fallback it is given', () => {
    assert.equal(safeNext('https://evil.example/', ''), '');
    assert.equal(safeNext(undefined, '/login'), '/login');
  });
});
