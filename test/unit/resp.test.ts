import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeCommand, MAX_DEPTH, MAX_LINE_BYTES, RespError, RespParser, RespProtocolError } from '../../lib/storage/redis/resp.ts';
import type { RespValue } from '../../lib/storage/redis/resp.ts';

/** parseChunks feeds `chunks` to a fresh parser, in order, and gives every reply it completed. */
function parseChunks(chunks: readonly Buffer[]): RespValue[] {
  const replies: RespValue[] = [];
  const parser = new RespParser((reply) => replies.push(reply));
  for (const chunk of chunks) parser.push(chunk);
  return replies;
}

/** inChunksOf cuts `bytes` into chunks of `size` bytes (the last one shorter). */
function inChunksOf(bytes: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
  return chunks;
}

/** Every kind of reply, each as Redis writes it and as the parser must give it back. */
const MIXED: ReadonlyArray<[string, RespValue]> = [
  ['+OK\r\n', 'OK'],
  ['+\r\n', ''],
  ['-ERR unknown command\r\n', new RespError('ERR unknown command')],
  [
    '-WRONGTYPE Operation against a key holding the wrong kind of value\r\n',
    new RespError('WRONGTYPE Operation against a key holding the wrong kind of value'),
  ],
  [':0\r\n', 0],
  [':-7\r\n', -7],
  [':1700000000000\r\n', 1_700_000_000_000],
  ['$5\r\nhello\r\n', 'hello'],
  ['$0\r\n\r\n', ''],
  ['$-1\r\n', null],
  // A bulk string holds anything, CRLF and a "$" included; its length is in bytes: é is 2, the cat 4.
  ['$15\r\na\r\n$1\r\né🐈\r\n\r\n', 'a\r\n$1\r\né🐈\r\n'],
  ['*0\r\n', []],
  ['*-1\r\n', null],
  ['*3\r\n:1\r\n$-1\r\n+two\r\n', [1, null, 'two']],
  ['*2\r\n*2\r\n$1\r\na\r\n*-1\r\n*1\r\n-ERR inside\r\n', [['a', null], [new RespError('ERR inside')]]],
  ['*2\r\n$1\r\n0\r\n*2\r\n$4\r\nk:01\r\n$4\r\nk:02\r\n', ['0', ['k:01', 'k:02']]],
];
const MIXED_BYTES = Buffer.from(MIXED.map(([wire]) => wire).join(''));
const MIXED_REPLIES = MIXED.map(([, reply]) => reply);

describe('RespParser', () => {
  it('reads every kind of reply, whole', () => {
    assert.deepEqual(parseChunks([MIXED_BYTES]), MIXED_REPLIES);
  });

  it('reads the same replies however the stream is cut in two: at every single byte', () => {
    for (let cut = 0; cut <= MIXED_BYTES.length; cut++) {
      assert.deepEqual(parseChunks([MIXED_BYTES.subarray(0, cut), MIXED_BYTES.subarray(cut)]), MIXED_REPLIES, `cut at byte ${cut}`);
    }
  });

  it('reads the same replies from a stream that arrives one byte at a time', () => {
    assert.deepEqual(parseChunks(inChunksOf(MIXED_BYTES, 1)), MIXED_REPLIES);
  });

  it('reads the same replies however the stream is cut in three, at every pair of places', () => {
    for (let first = 0; first <= MIXED_BYTES.length; first += 3) {
      for (let second = first; second <= MIXED_BYTES.length; second += 5) {
        const chunks = [MIXED_BYTES.subarray(0, first), MIXED_BYTES.subarray(first, second), MIXED_BYTES.subarray(second)];
        assert.deepEqual(parseChunks(chunks), MIXED_REPLIES, `cut at ${first} and ${second}`);
      }
    }
  });

  it('completes a reply only when its last byte arrives, and keeps going after it', () => {
    const replies: RespValue[] = [];
    const parser = new RespParser((reply) => replies.push(reply));
    parser.push(Buffer.from('*2\r\n$3\r\nab'));
    assert.deepEqual(replies, []);
    parser.push(Buffer.from('c\r\n:5\r'));
    assert.deepEqual(replies, []);
    parser.push(Buffer.from('\n+next\r\n'));
    assert.deepEqual(replies, [['abc', 5], 'next']);
  });

  describe('a large bulk string (1 MiB)', () => {
    const value = 'x'.repeat(1024 * 1024 - 3) + 'end';
    const wire = Buffer.from(`$${value.length}\r\n${value}\r\n+after\r\n`);
    for (const size of [1000, 4096, 65536, wire.length]) {
      it(`arrives whole in chunks of ${size} bytes`, () => {
        assert.deepEqual(parseChunks(inChunksOf(wire, size)), [value, 'after']);
      });
    }

    it('arrives whole when cut inside its trailing CRLF or its header', () => {
      for (const cut of [1, 5, 9, wire.length - 9, wire.length - 8, wire.length - 1]) {
        assert.deepEqual(parseChunks([wire.subarray(0, cut), wire.subarray(cut)]), [value, 'after'], `cut at ${cut}`);
      }
    });
  });

  describe('garbage is a protocol error, never a wrong reply', () => {
    const cases: Array<[string, string | Buffer, RegExp]> = [
      ['an unknown type byte', '!oops\r\n', /unknown type byte 0x21/],
      ['an HTTP answer', 'HTTP/1.1 400 Bad Request\r\n', /unknown type byte 0x48/],
      ['a line ending in LF alone', '+OK\n', /CRLF/],
      ['a bare LF', '\n', /CRLF/],
      ['an integer that is not one', ':12a\r\n', /integer/],
      ['a bulk length that is not a number', '$x\r\nabc\r\n', /bulk length/],
      ['a negative bulk length other than -1', '$-2\r\n', /bulk length/],
      ['a bulk string longer than its length', '$2\r\nabc\r\n', /longer than its length/],
      ['a negative array length other than -1', '*-3\r\n', /array length/],
      ['arrays nested too deep', '*1\r\n'.repeat(MAX_DEPTH + 1), /nested/],
      ['a line that never ends', Buffer.alloc(MAX_LINE_BYTES + 2, 0x2b), /longer than/],
    ];
    for (const [what, bytes, problem] of cases) {
      it(`refuses ${what}`, () => {
        assert.throws(
          () => parseChunks([Buffer.from(bytes)]),
          (error: unknown) => error instanceof RespProtocolError && problem.test(error.message),
        );
      });
    }

    it('gives the replies before the garbage, then refuses', () => {
      const replies: RespValue[] = [];
      const parser = new RespParser((reply) => replies.push(reply));
      assert.throws(() => parser.push(Buffer.from('+OK\r\n:1\r\n?\r\n')), RespProtocolError);
      assert.deepEqual(replies, ['OK', 1]);
    });
  });
});

describe('encodeCommand', () => {
  it('writes a command as an array of bulk strings, with lengths in bytes', () => {
    assert.equal(encodeCommand(['SET', 'k', 'é']), '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\né\r\n');
  });

  it('writes any value so that it reads back as it was: spaces, CRLF, quotes and all', () => {
    const args = ['SET', 'cloakroom:session:3f', '{"cart":["a b","c\\r\\nd"],"x":"\r\n$3\r\n"}', 'PX', '1000', ''];
    assert.deepEqual(parseChunks([Buffer.from(encodeCommand(args))]), [args]);
  });
});
