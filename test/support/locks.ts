import type { Lock } from '../../lib/file-lock.ts';

/** Race is what countThroughLocks saw: the count reached, and the most tasks that were ever inside the lock at once. */
export interface Race {
  value: number;
  mostInside: number;
}

/**
 * countThroughLocks starts `times` read-modify-writes of one counter at
 * once, each under the lock of one key, taken in turn from each of `locks`
 * (as from several processes), with a turn of the event loop between each
 * read and its write. A lock that holds gives { value: times, mostInside: 1 }.
 */
export async function countThroughLocks(locks: readonly Lock[], times: number): Promise<Race> {
  const race = { value: 0, mostInside: 0 };
  let inside = 0;
  await Promise.all(
    Array.from({ length: times }, (_, i) =>
      locks[i % locks.length]!.run('counter', async () => {
        inside += 1;
        race.mostInside = Math.max(race.mostInside, inside);
        const read = race.value;
        await new Promise<void>((resolve) => setImmediate(resolve));
        race.value = read + 1;
        inside -= 1;
      }),
    ),
  );
  return race;
}
