import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LoginThrottle } from '../../lib/auth/throttle.ts';
import { PASSWORD, register } from '../support/client.ts';
import { startTestServer, suiteScope } from '../support/server.ts';
import type { TestServer } from '../support/server.ts';

/**
 * assertLocal checks that a Location, as a browser would follow it from
 * this site, stays on this origin: one leading slash, nothing a browser
 * reads as a host, and no control characters that could split the header.
 */
function assertLocal(location: string | null, base: string, context: string): void {
  assert.ok(location !== null, `${context}: no Location`);
  assert.ok(location.startsWith('/'), `${context}: ${location} is not a path`);
  assert.ok(!location.startsWith('//') && !location.startsWith('/\\'), `${context}: ${location} names another host`);
  // eslint-disable-next-line no-control-regex -- control characters are exactly what a safe Location must not hold
  assert.doesNotMatch(location, /[\u0000-\u0020\u007f\\]/, `${context}: ${JSON.stringify(location)} holds control characters`);
  assert.equal(new URL(location, base).origin, new URL(base).origin, `${context}: ${location} leaves the site`);
}

/** unescapeHtml undoes lib/pages.ts's escaping of the hidden `next` field. */
function unescapeHtml(text: string): string {
  return text.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)));
}

describe('open redirect: `next` only ever leads to a path on this site', () => {
  const scope = suiteScope();
  let server: TestServer;
  after(() => scope.close());

  before(async () => {
    const throttle = new LoginThrottle({ accountLimit: 1000, addressLimit: 1000 });
    server = await startTestServer(scope.context, {}, { throttle });
    await register(server.client(), 'alice', PASSWORD);
  });

  const hostile = (): string[] => {
    const { host } = new URL(server.url);
    return [
      '//evil.example',
      '//evil.example/login',
      '///evil.example',
      '/\\evil.example',
      '\\\\evil.example',
      '/%5Cevil.example',
      '/%2F%2Fevil.example',
      '/%2f/evil.example',
      'https:evil.example',
      'https://evil.example/',
      'http:/evil.example',
      'javascript:alert(document.cookie)',
      'JaVaScRiPt:alert(1)',
      'data:text/html,<script>alert(1)</script>',
      '/@evil.example',
      '//user@evil.example',
      `//${host}@evil.example/`,
      `http://${host}@evil.example/`,
      '/\t/evil.example',
      '/\n/evil.example',
      '\t//evil.example',
      ' //evil.example',
      '/.//evil.example',
      '/..//evil.example',
      '/%2e%2e//evil.example',
      '/\r\nSet-Cookie: planted=1',
      '/%0d%0aSet-Cookie:%20planted=1',
      '/%0aLocation:%20https://evil.example',
      `/${'a'.repeat(600)}`,
      'evil.example',
    ];
  };

  it('keeps a real local path (the control: `next` does work)', async () => {
    const reply = await server.client().form('/login', { username: 'alice', password: PASSWORD, next: '/profile?tab=name' });
    assert.equal(reply.status, 303);
    assert.equal(reply.headers.get('location'), '/profile?tab=name');
  });

  it('lands a successful sign-in on this origin for each of 30 hostile `next` values', async () => {
    const values = hostile();
    assert.ok(values.length >= 30);
    for (const next of values) {
      const reply = await server.client().form('/login', { username: 'alice', password: PASSWORD, next });
      assert.equal(reply.status, 303, JSON.stringify(next));
      assertLocal(reply.headers.get('location'), server.url, `next=${JSON.stringify(next)}`);
      assert.deepEqual(
        reply.headers.getSetCookie().map((line) => line.split('=', 1)[0]),
        ['sid'],
        `next=${JSON.stringify(next)} smuggled a header`,
      );
    }
  });

  it('keeps a failed sign-in on this origin too, carrying only a safe `next` back to the form', async () => {
    for (const next of hostile()) {
      const reply = await server.client().form('/login', { username: 'alice', password: 'not the password', next });
      assert.equal(reply.status, 303);
      const location = reply.headers.get('location');
      assertLocal(location, server.url, `failed login, next=${JSON.stringify(next)}`);
      const carried = new URL(location!, server.url).searchParams.get('next');
      if (carried !== null) assertLocal(carried, server.url, `the next carried back for ${JSON.stringify(next)}`);
    }
  });

  it('puts only a safe `next` into the login form it renders', async () => {
    for (const next of hostile()) {
      const page = await server.client().get(`/login?${new URLSearchParams({ next }).toString()}`);
      assert.equal(page.status, 200);
      const field = /name="next" value="([^"]*)"/.exec(page.text);
      assert.ok(field !== null, 'the form has its next field');
      const value = unescapeHtml(field[1]!);
      if (value !== '') assertLocal(value, server.url, `rendered next for ${JSON.stringify(next)}`);
    }
  });

  it('sends a signed-out visitor of a protected page to a local login URL', async () => {
    for (const page of ['/dashboard', '/profile']) {
      const reply = await server.client().get(page);
      assert.equal(reply.status, 303);
      assert.equal(reply.headers.get('location'), `/login?next=${encodeURIComponent(page)}`);
    }
  });
});
