// What one stat() of a small file costs on this machine, the way Cloakroom
// makes it (fs.statSync, no exception for a missing file). Every signed-in
// request makes two: its session file and the accounts file, so that a
// change made by another process is seen at once. That floor is part of
// what "within 20 % of node:http" leaves for everything else.
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const CALLS = 200_000;
const BATCHES = 3;

/** statMicros is the cost of one statSync in µs: the least of BATCHES timed runs of CALLS calls (the least disturbed). */
export function statMicros() {
  const dir = mkdtempSync(path.join(tmpdir(), 'cloakroom-bench-stat-'));
  try {
    const file = path.join(dir, 'session.json');
    writeFileSync(file, '{}');
    let best = Infinity;
    for (let batch = 0; batch < BATCHES; batch++) {
      const started = process.hrtime.bigint();
      for (let call = 0; call < CALLS; call++) statSync(file, { throwIfNoEntry: false });
      best = Math.min(best, Number(process.hrtime.bigint() - started) / 1000 / CALLS);
    }
    return best;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
