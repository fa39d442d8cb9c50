import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyedLock } from '../../lib/sessions/lock.ts';

/** gate is a promise the test opens by hand, so ordering is decided by the test, not by timing. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('KeyedLock', () => {
  it('runs tasks for one key one after another, in order', async () => {
    const lock = new KeyedLock();
    const order: string[] = [];
    const first = gate();
    const a = lock.run('k', async () => {
      order.push('a starts');
      await first.promise;
      order.push('a ends');
    });
    const b = lock.run('k', async () => {
      order.push('b starts');
    });
    await Promise.resolve();
    await Promise.resolve();
    assert.deepEqual(order, ['a starts']);
    first.open();
    await Promise.all([a, b]);
    assert.deepEqual(order, ['a starts', 'a ends', 'b starts']);
  });

  it('loses no update in a read-modify-write under the lock', async () => {
    const lock = new KeyedLock();
    let value = 0;
    await Promise.all(
      Array.from({ length: 20 }, () =>
        lock.run('k', async () => {
          const read = value;
          await new Promise<void>((resolve) => setImmediate(resolve));
          value = read + 1;
        }),
      ),
    );
    assert.equal(value, 20);
  });

  it('runs tasks for different keys side by side', async () => {
    const lock = new KeyedLock();
    const blocker = gate();
    const slow = lock.run('a', () => blocker.promise);
    // If keys were serialised together, this would wait for the blocked task and never finish first.
    const fast = await lock.run('b', async () => 'done');
    assert.equal(fast, 'done');
    assert.equal(lock.size, 1);
    blocker.open();
    await slow;
  });

  it('passes a task result through', async () => {
    assert.equal(await new KeyedLock().run('k', async () => 42), 42);
  });

  it('passes an error through and frees the key for the next task', async () => {
    const lock = new KeyedLock();
    await assert.rejects(
      lock.run('k', async () => Promise.reject(new Error('disk on fire'))),
      /disk on fire/,
    );
    assert.equal(lock.size, 0);
    assert.equal(await lock.run('k', async () => 'after'), 'after');
  });

  it('lets a queued task run when the task before it fails', async () => {
    const lock = new KeyedLock();
    const failing = lock.run('k', async () => {
      throw new Error('first fails');
    });
    const next = lock.run('k', async () => 'second runs');
    await assert.rejects(failing, /first fails/);
    assert.equal(await next, 'second runs');
  });

  it('forgets a key once its last task is done', async () => {
    const lock = new KeyedLock();
    const blocker = gate();
    const a = lock.run('k', () => blocker.promise);
    const b = lock.run('k', async () => undefined);
    assert.equal(lock.size, 1);
    blocker.open();
    await Promise.all([a, b]);
    assert.equal(lock.size, 0);
  });
});
