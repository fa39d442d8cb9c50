import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { TestContext } from 'node:test';
import { Logger } from '../../lib/log.ts';
import { storageKey } from '../../lib/sessions/session-id.ts';
import { PASSWORD, register } from '../support/client.ts';
import { sessionView } from '../support/json.ts';
import { startTestServer } from '../support/server.ts';
import { describeSqlite, rawConnection, sqliteFile } from '../support/sqlite.ts';

/** sqliteServer starts the app with STORE=sqlite on a fresh database, its explain log captured into `blocks`, one per request. */
async function sqliteServer(t: TestContext) {
  const file = await sqliteFile(t);
  const blocks: string[] = [];
  const logger = new Logger({ mode: 'explain', write: (text) => blocks.push(text), color: false });
  const server = await startTestServer(t, { store: { kind: 'sqlite', path: file } }, { logger });
  return { server, blocks, file };
}

describeSqlite('STORE=sqlite made visible', () => {
  it('the explain log shows the SQL each request ran, with placeholders, never a value', async (t) => {
    const { server, blocks } = await sqliteServer(t);
    const browser = server.client();
    await register(browser, 'alice');
    blocks.length = 0;
    await browser.get('/api/me');
    const block = blocks.find((text) => text.startsWith('GET /api/me'));
    assert.ok(block, `no block for GET /api/me in ${JSON.stringify(blocks)}`);
    const storageSteps = block.split('\n').filter((line) => line.trimStart().startsWith('storage'));
    assert.deepEqual(
      storageSteps.map((line) => line.trim().replace(/\s+/, ' ')),
      [
        'storage sqlite: SELECT record FROM sessions WHERE file_id = ?',
        'storage sqlite: SELECT username, display_name, created_at, generation, password FROM accounts WHERE username = ?',
      ],
    );
    const sid = browser.sid!;
    for (const text of blocks) {
      const sql = text.split('\n').filter((line) => line.includes('sqlite:'));
      for (const secret of [sid, storageKey(sid), 'alice', PASSWORD]) assert.ok(!sql.join('\n').includes(secret), `${secret} in\n${text}`);
    }
  });

  it('the explain log names the row a sign-in wrote, and how the write is made whole', async (t) => {
    const { server, blocks } = await sqliteServer(t);
    const browser = server.client();
    await register(browser, 'bruno');
    const block = blocks.find((text) => text.startsWith('POST /register'));
    assert.match(
      block ?? '',
      new RegExp(
        `wrote sqlite row sessions\\.file_id = '${storageKey(browser.sid!).slice(0, 16)}…' \\(one SQL statement, whole or not at all\\)`,
      ),
    );
  });

  it("the inspector names the session's row and shows the record as stored in it", async (t) => {
    const { server, file } = await sqliteServer(t);
    const browser = server.client();
    await register(browser, 'carla');
    await browser.json('POST', '/api/cart', { item: 'scarf' });
    const view = sessionView(await browser.get('/api/session'));
    const fileId = storageKey(browser.sid!);
    assert.equal(view.file, `sqlite row sessions.file_id = '${fileId}'`);
    const row = (await rawConnection(t, file)).prepare('SELECT username, record FROM sessions WHERE file_id = ?').get(fileId);
    assert.ok(row !== undefined);
    assert.equal(row.username, 'carla');
    assert.deepEqual(view.stored, JSON.parse(String(row.record)));
  });
});
