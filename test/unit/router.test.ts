import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Router } from '../../lib/router.ts';
import type { RouteMatch } from '../../lib/router.ts';

function makeRouter(): Router<string> {
  return new Router<string>()
    .add('GET', '/login', 'show login')
    .add('POST', '/login', 'do login')
    .add('POST', '/logout', 'do logout')
    .add('PUT', '/api/cart', 'put cart')
    .add('DELETE', '/api/cart', 'empty cart')
    .add('GET', '/api/cart', 'get cart')
    .add('HEAD', '/custom-head', 'own head')
    .add('GET', '/custom-head', 'own get')
    .add('DELETE', '/api/things/:id', 'delete a thing')
    .add('POST', '/api/things/all', 'exact beside a parameter');
}

interface MatchCase {
  it: string;
  method: string;
  path: string;
  expected: RouteMatch<string>;
}

describe('Router', () => {
  const cases: MatchCase[] = [
    {
      it: 'finds the handler for a registered method and path',
      method: 'GET',
      path: '/login',
      expected: { kind: 'found', handler: 'show login' },
    },
    { it: 'tells methods of one path apart', method: 'POST', path: '/login', expected: { kind: 'found', handler: 'do login' } },
    { it: 'answers HEAD with the GET handler', method: 'HEAD', path: '/login', expected: { kind: 'found', handler: 'show login' } },
    {
      it: 'prefers a HEAD handler registered as such',
      method: 'HEAD',
      path: '/custom-head',
      expected: { kind: 'found', handler: 'own head' },
    },
    {
      it: 'gives 405 with a sorted Allow list that includes HEAD where GET exists',
      method: 'PATCH',
      path: '/api/cart',
      expected: { kind: 'method-not-allowed', allow: 'DELETE, GET, HEAD, PUT' },
    },
    {
      it: 'lists HEAD only once when it is registered itself',
      method: 'POST',
      path: '/custom-head',
      expected: { kind: 'method-not-allowed', allow: 'GET, HEAD' },
    },
    {
      it: 'gives 405 without HEAD when the path has no GET',
      method: 'GET',
      path: '/logout',
      expected: { kind: 'method-not-allowed', allow: 'POST' },
    },
    {
      it: 'does not answer HEAD where there is no GET',
      method: 'HEAD',
      path: '/logout',
      expected: { kind: 'method-not-allowed', allow: 'POST' },
    },
    { it: 'gives 404 for an unknown path', method: 'GET', path: '/nowhere', expected: { kind: 'not-found' } },
    { it: 'matches paths exactly, so a trailing slash is another path', method: 'GET', path: '/login/', expected: { kind: 'not-found' } },
    { it: 'matches paths case-sensitively', method: 'GET', path: '/LOGIN', expected: { kind: 'not-found' } },
    { it: 'does not match a path with a query string glued on', method: 'GET', path: '/login?x=1', expected: { kind: 'not-found' } },
    {
      it: 'treats method names case-sensitively, as HTTP does',
      method: 'get',
      path: '/login',
      expected: { kind: 'method-not-allowed', allow: 'GET, HEAD, POST' },
    },
    {
      it: 'matches a parameter route with any one segment',
      method: 'DELETE',
      path: '/api/things/abc%2e',
      expected: { kind: 'found', handler: 'delete a thing' },
    },
    {
      it: 'prefers an exact path to a parameter route',
      method: 'POST',
      path: '/api/things/all',
      expected: { kind: 'found', handler: 'exact beside a parameter' },
    },
    {
      it: 'gives 405 with the parameter route methods for another method',
      method: 'GET',
      path: '/api/things/abc',
      expected: { kind: 'method-not-allowed', allow: 'DELETE' },
    },
    {
      it: 'does not match a parameter route with an empty segment',
      method: 'DELETE',
      path: '/api/things/',
      expected: { kind: 'not-found' },
    },
    {
      it: 'does not match a parameter route with two segments',
      method: 'DELETE',
      path: '/api/things/a/b',
      expected: { kind: 'not-found' },
    },
    {
      it: 'does not match the parameter route without its segment',
      method: 'DELETE',
      path: '/api/things',
      expected: { kind: 'not-found' },
    },
  ];
  for (const c of cases) it(c.it, () => assert.deepEqual(makeRouter().match(c.method, c.path), c.expected));

  it('throws when the same method and path are registered twice', () => {
    const router = new Router<string>().add('GET', '/a', 'first');
    assert.throws(() => router.add('GET', '/a', 'second'), /GET \/a is registered twice/);
    assert.deepEqual(router.match('GET', '/a'), { kind: 'found', handler: 'first' });
  });
});
