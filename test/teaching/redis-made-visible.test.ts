import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { storageKey } from '../../lib/sessions/session-id.ts';
import { textOrNull } from '../../lib/storage/redis/replies.ts';
import { register } from '../support/client.ts';
import { sessionView } from '../support/json.ts';
import { redisForFile, redisSkip } from '../support/redis.ts';
import { startTestServer } from '../support/server.ts';

const redis = await redisForFile();
const IDLE_SECONDS = 1800;

describe('STORE=redis made visible', { skip: redisSkip }, () => {
  it("the inspector names the session's key, the time to live Redis keeps it for, and the record as stored", async (t) => {
    assert.ok(redis !== null, 'redis-server is required here');
    const client = await redis.fresh();
    const server = await startTestServer(t, { store: { kind: 'redis', url: redis.server.url }, idleTimeoutMs: IDLE_SECONDS * 1000 });
    const browser = server.client();
    await register(browser, 'dora');
    await browser.json('POST', '/api/cart', { item: 'hat' });
    const reply = await browser.get('/api/session');
    const view = sessionView(reply);
    const key = `cloakroom:session:${storageKey(browser.sid!)}`;
    assert.equal(view.file, `redis key ${key}`);
    const { kind, ttlSeconds } = (reply.json as { storage: { kind: string; ttlSeconds: number | null } }).storage;
    assert.equal(kind, 'redis');
    assert.ok(ttlSeconds !== null && ttlSeconds > IDLE_SECONDS - 60 && ttlSeconds <= IDLE_SECONDS, `ttlSeconds ${ttlSeconds}`);
    assert.deepEqual(view.stored, JSON.parse(textOrNull(await client.call(['GET', key]), 'GET') ?? 'null'));
  });

  it('with files, the inspector shows no time to live: only the sweeper deletes a file', async (t) => {
    const server = await startTestServer(t);
    const browser = server.client();
    await register(browser, 'emil');
    const reply = await browser.get('/api/session');
    assert.deepEqual((reply.json as { storage: unknown }).storage, { kind: 'files', ttlSeconds: null });
  });
});
