import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { escapeHtml } from '../../lib/pages.ts';
import { safeNext } from '../../lib/safe-redirect.ts';
import { startTestServer } from '../support/server.ts';

describe('template injection: a value put into a page is never read as a replacement pattern', () => {
  // `$&`, `` $` ``, `$'` and `$$` mean something to String.prototype.replace; `next` comes from the URL.
  for (const pattern of ['$`', '$&', "$'", '$$']) {
    it(`GET /login?next=/x?${pattern} renders the page once, with the value unexpanded`, async (t) => {
      const server = await startTestServer(t);
      const reply = await server.client().get(`/login?next=${encodeURIComponent(`/x?${pattern}`)}`);
      assert.equal(reply.status, 200);
      assert.equal(reply.text.match(/<main\b/g)?.length, 1, 'one <main>: no part of the page was copied into itself');
      assert.equal(reply.text.match(/<html\b/g)?.length, 1);
      // As the login page keeps it: checked as a local path (which may normalise it), then escaped.
      const escaped = escapeHtml(safeNext(`/x?${pattern}`));
      assert.ok(reply.text.includes(`name="next" value="${escaped}"`), `next is there, unexpanded: ${escaped}`);
    });
  }
});
