import type { Lock } from '../../lib/file-lock.ts';

/**
 * raceUnderLocks runs `tasks` read-modify-writes of one counter at once,
 * taking turns over `locks` (as so many processes would), each yielding
 * between its read and its write. It gives the final count (`tasks` when
 * no update was lost) and the most tasks ever inside at once (1 for a lock).
 */
export async function raceUnderLocks(locks: readonly Lock[], tasks = 40): Promise<{ value: number; mostInside: number }> {
  let value = 0;
  let inside = 0;
  let mostInside = 0;
  await Promise.all(
    Array.from({ length: tasks }, (_, i) =>
      locks[i % locks.length]!.run('counter', async () => {
        inside += 1;
        mostInside = Math.max(mostInside, inside);
        const read = value;
        await new Promise<void>((resolve) => setImmediate(resolve));
        value = read + 1;
        inside -= 1;
      }),
    ),
  );
  return { value, mostInside };
}
