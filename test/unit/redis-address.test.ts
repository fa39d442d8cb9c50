import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRedisAddress, RedisAddressError } from '../../lib/storage/redis/address.ts';
import type { RedisAddress } from '../../lib/storage/redis/address.ts';

describe('parseRedisAddress', () => {
  const cases: Array<[string, Partial<RedisAddress>]> = [
    [
      'redis://127.0.0.1:6380',
      { tls: false, host: '127.0.0.1', port: 6380, username: null, password: null, db: 0, label: '127.0.0.1:6380' },
    ],
    ['redis://localhost', { host: 'localhost', port: 6379, label: 'localhost:6379' }],
    ['redis://:s3cret@cache:6380/2', { username: null, password: 's3cret', db: 2, label: 'cache:6380 db 2' }],
    ['redis://cloakroom:p%40ss%3Aword@cache/0', { username: 'cloakroom', password: 'p@ss:word', db: 0 }],
    ['rediss://cache.example:6390/', { tls: true, port: 6390, db: 0, label: 'cache.example:6390 (TLS)' }],
    ['redis://[::1]:6380/1', { host: '::1', port: 6380, db: 1, label: '[::1]:6380 db 1' }],
  ];
  for (const [url, expected] of cases) {
    it(`reads ${url}`, () => {
      const address = parseRedisAddress(url);
      for (const [field, value] of Object.entries(expected)) assert.deepEqual(address[field as keyof RedisAddress], value, field);
    });
  }

  it('never puts the password in the label', () => {
    assert.ok(!parseRedisAddress('redis://user:hunter22@cache:6380').label.includes('hunter22'));
  });

  const refused: Array<[string, RegExp]> = [
    ['cache:6379', /redis:\/\/ or rediss:\/\//],
    ['http://cache:6379', /http:\/\/ is not redis/],
    ['not a url', /not a URL/],
    ['redis://cache:6379/two', /not a database number/],
    ['redis://cache:6379/1/2', /not a database number/],
    ['redis://cache:6379/?db=1', /no query/],
    ['redis://user@cache:6379', /needs a password/],
    ['redis://:%zz@cache:6379', /password is not valid percent-encoding/],
  ];
  for (const [url, problem] of refused) {
    it(`refuses ${url}, saying why`, () => {
      assert.throws(
        () => parseRedisAddress(url),
        (error: unknown) => error instanceof RedisAddressError && problem.test(error.message),
      );
    });
  }
});
