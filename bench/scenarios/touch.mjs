// Scenario 2 (issue 7, target 2): sliding expiry must not cost a write per
// request. The touch rule (lib/sessions/record.ts touchIntervalMs): lastSeenAt is rewritten only when a tenth of
// the idle timeout (at most 60 s) has passed since it was last written, so
// under D seconds of load one session's file may be rewritten at most
// ceil(D / interval) + 1 times. Run at SESSION_IDLE_TIMEOUT=20 (interval 2 s:
// the rule must still let expiry slide) and at the default 1800 (interval 60 s).
//
// How rewrites are counted, two independent ways:
//   * fs.watch (inotify) on the sessions directory: an atomic write renames a
//     temp file onto the session's file name, which arrives as a 'rename'
//     event for that name; a 'change' event for it would mean an in-place
//     write (not atomic), and is counted separately.
//   * the file's inode, sampled every few milliseconds: each atomic rewrite
//     gives the name a new inode.
// The two agree unless writes come closer together than the sampling period.
import { createHash } from 'node:crypto';
import { watch } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { runLoad } from '../lib/load.mjs';
import { startCloakroom } from '../lib/servers.mjs';

const MAX_TOUCH_INTERVAL_S = 60;
const TOUCH_FRACTION = 10;
const INODE_SAMPLE_MS = 5;
/** Writes still in flight when the load stops are counted too. */
const TAIL_MS = 500;

export const IDLE_TIMEOUTS = [20, 1800];

export async function run(ctx) {
  const rows = [];
  for (const idle of IDLE_TIMEOUTS) {
    ctx.log(`touch counting: SESSION_IDLE_TIMEOUT=${idle}, ${ctx.touchSeconds} s of load`);
    const server = await startCloakroom({ SESSION_IDLE_TIMEOUT: String(idle) });
    try {
      const [cookie] = await server.signIn(1);
      const sid = cookie.split('=')[1];
      const fileName = `${createHash('sha256').update(sid).digest('hex')}.json`;
      const filePath = path.join(server.sessionsDir, fileName);
      const before = JSON.parse(await readFile(filePath, 'utf8'));
      const counter = countRewrites(server.sessionsDir, fileName, filePath);
      await counter.ready;
      const load = await runLoad(ctx.generator, {
        url: `${server.url}/api/me`,
        cookies: [cookie],
        connections: ctx.connections,
        seconds: ctx.touchSeconds,
        pid: server.pid,
      });
      await new Promise((resolve) => setTimeout(resolve, TAIL_MS));
      const counts = counter.stop();
      const after = JSON.parse(await readFile(filePath, 'utf8'));
      const interval = Math.min(idle / TOUCH_FRACTION, MAX_TOUCH_INTERVAL_S);
      const seconds = load.seconds;
      rows.push({
        idle,
        interval,
        seconds,
        allowed: Math.ceil(seconds / interval) + 1,
        ...counts,
        requests: load.requests,
        non2xx: load.non2xx,
        lastSeenBefore: before.lastSeenAt,
        lastSeenAfter: after.lastSeenAt,
        slidBySeconds: (Date.parse(after.lastSeenAt) - Date.parse(before.lastSeenAt)) / 1000,
      });
      ctx.log(
        `  renames ${counts.renames}, in-place changes ${counts.changes}, inode changes ${counts.inodeChanges}, requests ${load.requests}`,
      );
    } finally {
      await server.stop();
    }
  }
  return rows;
}

function countRewrites(dir, fileName, filePath) {
  const counts = { renames: 0, changes: 0, inodeChanges: 0 };
  const watcher = watch(dir, (event, name) => {
    if (name !== fileName) return;
    if (event === 'rename') counts.renames++;
    else counts.changes++;
  });
  let lastInode = null;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      try {
        const { ino } = await stat(filePath);
        if (lastInode !== null && ino !== lastInode) counts.inodeChanges++;
        lastInode = ino;
      } catch {
        // Between unlink and rename, or deleted: the next sample sees the new inode.
      }
      await new Promise((resolve) => setTimeout(resolve, INODE_SAMPLE_MS));
    }
  })();
  const ready = stat(filePath).then(({ ino }) => {
    lastInode ??= ino;
  });
  return {
    ready,
    stop() {
      sampling = false;
      watcher.close();
      sampler.catch(() => {});
      return { ...counts };
    },
  };
}
