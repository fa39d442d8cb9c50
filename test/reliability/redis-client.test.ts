import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { StoreError } from '../../lib/sessions/store.ts';
import { parseRedisAddress } from '../../lib/storage/redis/address.ts';
import { DEFAULT_COMMAND_TIMEOUT_MS, MAX_RECONNECT_DELAY_MS, RedisClient, RedisReplyError } from '../../lib/storage/redis/client.ts';
import type { RedisClientOptions } from '../../lib/storage/redis/client.ts';
import { Script } from '../../lib/storage/redis/script.ts';
import { RedisSessionStore } from '../../lib/storage/redis/session-store.ts';
import { newSessionId } from '../../lib/sessions/session-id.ts';
import { T0 } from '../support/clock.ts';
import { CONTRACT_TIMEOUTS } from '../unit/session-store-contract.ts';
import { redisSkip, startRedis } from '../support/redis.ts';

/** Rejections nobody handled, anywhere in this file: the client must leave none, whatever the server does. */
const unhandled: unknown[] = [];
process.on('unhandledRejection', (reason) => unhandled.push(reason));

/** open connects a client to `url` (with `options`) and closes it when `t` ends. */
async function open(t: TestContext, url: string, options: RedisClientOptions = {}): Promise<RedisClient> {
  const client = await RedisClient.open(parseRedisAddress(url), options);
  t.after(() => client.close());
  return client;
}

/** failureOf is why `call` failed: the message of its StoreError's cause, or a failed assertion if it did not fail that way. */
async function failureOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (error) {
    assert.ok(error instanceof StoreError, `a StoreError, not ${String(error)}`);
    assert.equal(error.status, 503);
    assert.equal(error.headers['Retry-After'], '5');
    return (error.cause as Error).message;
  }
  return assert.fail('the command succeeded');
}

/**
 * untilItWorks calls `task` again and again until it succeeds, and gives its
 * result. It needs no pause: while Redis is away each failed call itself
 * waits for the client's next connection attempt.
 */
async function untilItWorks<T>(task: () => Promise<T>, deadlineMs = 10_000): Promise<T> {
  const giveUpAt = performance.now() + deadlineMs;
  for (;;) {
    try {
      return await task();
    } catch (error) {
      if (performance.now() > giveUpAt) throw error;
    }
  }
}

/**
 * fakeRedis listens on 127.0.0.1 as a stand-in for Redis that misbehaves
 * on purpose: `answer` is called for each command received, with the
 * connection's number and the command's (both from 1), and returns what to
 * write back then, or nothing.
 */
async function fakeRedis(t: TestContext, answer: (connection: number, command: number) => string | undefined): Promise<string> {
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    const connection = ++connections;
    sockets.add(socket);
    let received = '';
    let answered = 0;
    socket.on('data', (chunk) => {
      received += chunk.toString('utf8');
      // Each command is an array, so it starts a line with "*"; the tests send no argument that does.
      const commands = received.split('\r\n').filter((line) => line.startsWith('*')).length;
      while (answered < commands) {
        const reply = answer(connection, ++answered);
        if (reply !== undefined) socket.write(reply);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const address = server.address() as net.AddressInfo;
  return `redis://127.0.0.1:${address.port}`;
}

describe('RedisClient against a real redis-server', { skip: redisSkip }, () => {
  it('pipelines: thousands of commands in flight at once, each reply matched to its own command', async (t) => {
    const client = await open(t, (await startRedis(t)).url);
    const replies = await Promise.all(
      Array.from({ length: 2000 }, (_, i) => (i % 2 === 0 ? client.call(['ECHO', `reply ${i}`]) : client.call(['INCR', 'n']))),
    );
    replies.forEach((reply, i) => assert.equal(reply, i % 2 === 0 ? `reply ${i}` : (i + 1) / 2));
  });

  it('speaks binary-safe values: a record with CRLF, quotes and emoji comes back as it went', async (t) => {
    const client = await open(t, (await startRedis(t)).url);
    const value = JSON.stringify({ cart: ['a\r\nb', '"quoted"', '🐈 cat', '$5'], big: 'x'.repeat(200_000) });
    await client.call(['SET', 'cloakroom:test', value]);
    assert.equal(await client.call(['GET', 'cloakroom:test']), value);
  });

  describe('AUTH and SELECT, from the URL', () => {
    const ACL = ['--requirepass', 'default-secret', '--user', 'cloakroom', 'on', '>app-secret', '~cloakroom:*', '&*', '+@all'];

    it('signs in as an ACL user with its password', async (t) => {
      const server = await startRedis(t, { args: ACL });
      const client = await open(t, server.url.replace('//', '//cloakroom:app-secret@'));
      assert.equal(await client.call(['ACL', 'WHOAMI']), 'cloakroom');
    });

    it('signs in as the default user with a password alone', async (t) => {
      const server = await startRedis(t, { args: ACL });
      const client = await open(t, server.url.replace('//', '//:default-secret@'));
      assert.equal(await client.call(['ACL', 'WHOAMI']), 'default');
    });

    it('refuses to open with a wrong password, naming the address and never the password', async (t) => {
      const server = await startRedis(t, { args: ACL });
      await assert.rejects(RedisClient.open(parseRedisAddress(server.url.replace('//', '//cloakroom:wrong-secret@'))), (error: Error) => {
        assert.match(error.message, new RegExp(`^Redis at 127\\.0\\.0\\.1:${server.port} refused AUTH: WRONGPASS`));
        assert.ok(!error.message.includes('wrong-secret'));
        return true;
      });
    });

    it('refuses to open without a password where one is required', async (t) => {
      const server = await startRedis(t, { args: ACL });
      await assert.rejects(RedisClient.open(parseRedisAddress(server.url)), { message: /^Redis at 127\.0\.0\.1:\d+ refused PING: NOAUTH/ });
    });

    it('refuses to open a database that does not exist', async (t) => {
      const server = await startRedis(t);
      await assert.rejects(RedisClient.open(parseRedisAddress(`${server.url}/99`)), {
        message: /^Redis at 127\.0\.0\.1:\d+ db 99 refused SELECT 99: ERR DB index is out of range/,
      });
    });

    it('works in the database the URL names, and only there', async (t) => {
      const server = await startRedis(t);
      const inThree = await open(t, `${server.url}/3`);
      const inZero = await open(t, server.url);
      await inThree.call(['SET', 'cloakroom:where', 'three']);
      assert.equal(await inZero.call(['GET', 'cloakroom:where']), null);
      assert.equal(await (await open(t, `${server.url}/3`)).call(['GET', 'cloakroom:where']), 'three');
    });

    it('refuses to open when nothing listens, naming the address', async (t) => {
      const server = await startRedis(t);
      await server.kill();
      await assert.rejects(RedisClient.open(parseRedisAddress(server.url)), {
        message: new RegExp(`^cannot reach Redis at 127\\.0\\.0\\.1:${server.port}: connect ECONNREFUSED`),
      });
    });

    it('speaks TLS to a rediss:// address', async (t) => {
      const dir = await mkdtemp(path.join(tmpdir(), 'cloakroom-tls-'));
      t.after(() => rm(dir, { recursive: true, force: true }));
      const [certFile, keyFile] = [path.join(dir, 'cert.pem'), path.join(dir, 'key.pem')];
      const made = spawnSync('openssl', [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        keyFile,
        '-out',
        certFile,
      ]);
      assert.equal(made.status, 0, `openssl failed: ${String(made.stderr)}`);
      const server = await startRedis(t, { tls: { certFile, keyFile } });
      const client = await open(t, server.url, { tls: { ca: await readFile(certFile) } });
      assert.equal(await client.call(['PING']), 'PONG');
      // The same server, without trusting its certificate: refused at start-up, with the reason.
      await assert.rejects(RedisClient.open(parseRedisAddress(server.url)), {
        message: /^cannot reach Redis at 127\.0\.0\.1:\d+ \(TLS\): self.signed certificate/,
      });
    });
  });

  describe('faults', () => {
    it('turns an error reply into a StoreError and carries on', async (t) => {
      const client = await open(t, (await startRedis(t)).url);
      await client.call(['HSET', 'cloakroom:hash', 'field', 'value']);
      await assert.rejects(client.call(['GET', 'cloakroom:hash']), (error: unknown) => {
        assert.ok(error instanceof StoreError && error.cause instanceof RedisReplyError);
        assert.match(error.cause.message, /^WRONGTYPE/);
        return true;
      });
      assert.equal(await client.call(['PING']), 'PONG');
    });

    it('sends a script whole again when Redis has forgotten it (NOSCRIPT)', async (t) => {
      const client = await open(t, (await startRedis(t)).url);
      const script = new Script('add', 'return tonumber(ARGV[1]) + tonumber(ARGV[2])');
      assert.equal(await script.run(client, [], ['2', '3']), 5);
      await client.call(['SCRIPT', 'FLUSH']);
      assert.equal(await script.run(client, [], ['4', '5']), 9);
    });

    it('fails a command within the timeout when Redis is paused (SIGSTOP), and recovers when it continues', async (t) => {
      const server = await startRedis(t);
      const client = await open(t, server.url);
      await client.call(['SET', 'cloakroom:k', 'v']);
      server.pause();
      const started = performance.now();
      assert.match(await failureOf(client.call(['GET', 'cloakroom:k'])), /sent no reply within 2000 ms/);
      const waited = performance.now() - started;
      assert.ok(
        waited >= DEFAULT_COMMAND_TIMEOUT_MS - 50 && waited < DEFAULT_COMMAND_TIMEOUT_MS + 500,
        `failed after ${Math.round(waited)} ms`,
      );
      server.resume();
      assert.equal(await untilItWorks(() => client.call(['GET', 'cloakroom:k'])), 'v');
    });

    it('after SIGKILL: fails fast while Redis is down, refuses past its queue, and resumes by itself after a restart', async (t) => {
      const server = await startRedis(t);
      const logged: string[] = [];
      const client = await open(t, server.url, { maxQueue: 5, log: (line) => logged.push(line) });
      const script = new Script('echo', 'return ARGV[1]');
      assert.equal(await script.run(client, [], ['before']), 'before');
      await server.kill();
      assert.match(await failureOf(client.call(['PING'])), /lost the connection|cannot reach Redis/);

      const started = performance.now();
      assert.match(await failureOf(client.call(['PING'])), /cannot reach Redis at 127\.0\.0\.1:\d+: connect ECONNREFUSED/);
      assert.ok(performance.now() - started < MAX_RECONNECT_DELAY_MS + 500, 'a command fails within a reconnection attempt');

      const burst = await Promise.all(Array.from({ length: 8 }, () => failureOf(client.call(['PING']))));
      assert.equal(burst.filter((reason) => reason.includes('5 commands already wait')).length, 3);
      assert.equal(burst.filter((reason) => reason.includes('ECONNREFUSED')).length, 5);

      await server.restart();
      assert.equal(await untilItWorks(() => client.call(['PING'])), 'PONG');
      // A restarted Redis has forgotten every script: the client sends it again by itself.
      assert.equal(await script.run(client, [], ['after']), 'after');
      // The server log hears of the loss and of the return once each, however many attempts failed between.
      assert.equal(logged.length, 2);
      assert.match(logged[0] ?? '', /^redis: lost the connection to Redis at 127\.0\.0\.1:\d+: .*; reconnecting$/);
      assert.match(logged[1] ?? '', /^redis: connected to Redis at 127\.0\.0\.1:\d+ again$/);
    });

    it('closes a connection that sends garbage, fails the commands on it with StoreError, and reconnects', async (t) => {
      // The first connection answers the PING of open, keeps quiet for one command, then sends garbage; the next ones are sane.
      const url = await fakeRedis(t, (connection, command) => {
        if (connection > 1 || command === 1) return '+PONG\r\n';
        return command === 3 ? '!garbage\r\n' : undefined;
      });
      const client = await open(t, url);
      const reasons = await Promise.all([failureOf(client.call(['GET', 'a'])), failureOf(client.call(['GET', 'b']))]);
      for (const reason of reasons) assert.match(reason, /not a Redis reply: unknown type byte 0x21/);
      assert.equal(await untilItWorks(() => client.call(['PING'])), 'PONG');
    });

    it('turns a reply of a type the command never answers with into a StoreError, never a wrong answer', async (t) => {
      const url = await fakeRedis(t, (_, command) => (command === 1 ? '+PONG\r\n' : ':42\r\n'));
      const store = new RedisSessionStore(await open(t, url), CONTRACT_TIMEOUTS);
      assert.match(await failureOf(store.get(newSessionId(), T0)), /unexpected reply to GET: number/);
    });

    it('writes every command without waiting for the replies before it', async (t) => {
      // This server answers nothing until it has all five: a client that waited for each reply would time out.
      const url = await fakeRedis(t, (_, command) =>
        command === 1 ? '+PONG\r\n' : command === 6 ? ':1\r\n:2\r\n:3\r\n:4\r\n:5\r\n' : undefined,
      );
      const client = await open(t, url, { commandTimeoutMs: 1000 });
      assert.deepEqual(await Promise.all(['a', 'b', 'c', 'd', 'e'].map((key) => client.call(['INCR', key]))), [1, 2, 3, 4, 5]);
    });

    it('refuses commands once closed, and closes even while Redis is paused', async (t) => {
      const server = await startRedis(t);
      const client = await RedisClient.open(parseRedisAddress(server.url));
      server.pause();
      const started = performance.now();
      await client.close();
      assert.ok(performance.now() - started < DEFAULT_COMMAND_TIMEOUT_MS + 500);
      assert.match(await failureOf(client.call(['PING'])), /is closed/);
      server.resume();
    });
  });

  it('left no rejection unhandled, whatever the server did', () => {
    assert.deepEqual(unhandled, []);
  });
});
