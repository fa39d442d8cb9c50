import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFile, open, rename, symlink, unlink } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { register } from '../support/client.ts';
import type { Client } from '../support/client.ts';
import { hookedFs, sessionFileName } from '../support/files.ts';
import { startTestServer } from '../support/server.ts';
import type { TestServer } from '../support/server.ts';

/** signedIn registers alice and returns her browser and the path of her session file. */
async function signedIn(server: TestServer): Promise<{ browser: Client; file: string }> {
  const browser = server.client();
  await register(browser, 'alice');
  assert.equal((await browser.get('/api/me')).status, 200);
  return { browser, file: path.join(server.dirs.sessionsDir, sessionFileName(browser.sid ?? '')) };
}

/** swapInLink replaces `file` by a symbolic link to a faithful copy of it outside the sessions directory. */
async function swapInLink(server: TestServer, file: string): Promise<void> {
  const copy = path.join(server.dirs.root, 'copy.json');
  await copyFile(file, copy);
  const link = path.join(server.dirs.root, 'link');
  await symlink(copy, link);
  await rename(link, file);
}

describe('the session store never follows a link or waits on a FIFO in the sessions directory', () => {
  it('treats a live session file replaced by a link to a valid copy elsewhere as no session', async (t) => {
    const server = await startTestServer(t);
    const { browser, file } = await signedIn(server);
    await swapInLink(server, file);
    assert.equal((await browser.get('/api/me')).status, 401);
  });

  /**
   * swappedBeforeRead starts a second server on the sessions of a first one
   * (so nothing is cached and the store must read the file), with `swap`
   * run on alice's session file just before the store reads it.
   */
  async function swappedBeforeRead(t: TestContext, swap: (file: string, server: TestServer) => Promise<void>): Promise<{ status: number }> {
    const state = { armed: false, swapped: false, target: '' };
    const fs = hookedFs({
      // Not async: the store's stat is synchronous, and a hook that returns a promise for it fails the call.
      before: (operation, args) => {
        if (!state.armed || operation !== 'readFile' || String(args[0]) !== state.target || state.swapped) return undefined;
        state.swapped = true;
        return swap(state.target, first);
      },
    });
    const first = await startTestServer(t);
    const browser = first.client();
    await register(browser, 'alice');
    state.target = path.join(first.dirs.sessionsDir, sessionFileName(browser.sid ?? ''));
    const server = await startTestServer(t, { sessionsDir: first.dirs.sessionsDir, usersFile: first.dirs.usersFile }, { fs });
    // The start-up sweep reads the file too: arm the swap only for the store's read.
    await server.app.sweeper.runNow();
    state.armed = true;
    const reply = await server.client().get('/api/me', { Cookie: `sid=${browser.sid ?? ''}` });
    assert.ok(state.swapped, 'the swap happened before the read');
    return reply;
  }

  it('does not follow a link swapped in between the check of the file and its read', async (t) => {
    const reply = await swappedBeforeRead(t, (file, server) => swapInLink(server, file));
    assert.equal(reply.status, 401);
  });

  it('answers at once, with no session, when a FIFO is swapped in before the read', { timeout: 10_000 }, async (t) => {
    let fifo = '';
    // Should a read block on the FIFO after all, a writer that opens and closes it lets the test end.
    t.after(async () => (await open(fifo, 'r+').catch(() => null))?.close());
    const reply = await swappedBeforeRead(t, async (file) => {
      fifo = file;
      await unlink(file);
      execFileSync('mkfifo', ['-m', '600', file]);
    });
    assert.equal(reply.status, 401);
  });
});
