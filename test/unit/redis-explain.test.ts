import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeCommand } from '../../lib/storage/redis/explain.ts';
import { shortKey } from '../../lib/storage/redis/keys.ts';

const FILE_ID = '3f2a9c0e'.repeat(8);

describe('what the explain log shows of a Redis command', () => {
  const cases: Array<[string, string[], string]> = [
    [
      'a key shortened, a value hidden, options and TTL shown',
      ['SET', `cloakroom:session:${FILE_ID}`, '{"user":"alice"}', 'NX', 'PX', '1800000'],
      'SET cloakroom:session:3f2a… … NX PX 1800000',
    ],
    ['a read', ['GET', `cloakroom:session:${FILE_ID}`], 'GET cloakroom:session:3f2a…'],
    [
      'a lock token hidden, however it looks',
      ['SET', 'cloakroom:lock:ab', '1234567890123456789012345678901234', 'NX', 'PX', '5000'],
      'SET cloakroom:lock:ab … NX PX 5000',
    ],
    ['a password, never', ['AUTH', 'cloakroom', '123456'], 'AUTH …'],
    ['a scan pattern', ['SCAN', '0', 'MATCH', 'cloakroom:session:*', 'COUNT', '1000'], 'SCAN 0 MATCH cloakroom:session:* COUNT 1000'],
    ['a key of another program, as a value', ['GET', 'their:secret'], 'GET …'],
  ];
  for (const [what, args, line] of cases) {
    it(`shows ${what}`, () => {
      assert.equal(describeCommand(args), line);
    });
  }

  it('shortens what a key names to four characters, and leaves a short name whole', () => {
    assert.equal(shortKey('cloakroom:account:alexandra'), 'cloakroom:account:alex…');
    assert.equal(shortKey('cloakroom:counter:address:203.0.113.7'), 'cloakroom:counter:addr…');
    assert.equal(shortKey('cloakroom:account:bob'), 'cloakroom:account:bob');
  });
});
