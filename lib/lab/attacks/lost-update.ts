import { Agent, field } from './agent.ts';
import type { Attack } from './attack.ts';
import { CannotRun } from './attack.ts';

/** PARALLEL: how many cart additions one round sends at once, on one session. */
export const PARALLEL = 20;
/**
 * ROUNDS: how many rounds are tried before saying nothing was lost. Without
 * the lock a round keeps every addition only if each of the 20 happens to
 * read, change and write the session before the next one reads it. With
 * STORE=files, 40 runs out of 40 lost 17 to 19 of the 20 in their first
 * round, so five rounds leave no room for luck (test/lab/attacks.test.ts).
 */
export const ROUNDS = 5;

/**
 * Lost updates: two requests of one session each read it, change it and
 * write it back. Without a lock around that read-modify-write the later
 * write carries only its own change, and the earlier one is gone, though
 * both requests were told it succeeded (express-session's best-known bug).
 * No attacker is needed: a user with two tabs, or a page that sends
 * requests in parallel, loses data.
 */
export const lostUpdate: Attack = {
  defence: 'session-lock',
  title: 'Lost updates',
  async run({ url }, say) {
    const shopper = new Agent(url);
    await shopper.request('POST', '/api/cart', { json: { item: 'first' } });
    if (shopper.sid === null) throw new CannotRun('could not start a guest session to fill a cart');
    say(`A shopper starts a guest session (${shopper.shownSid}).`);
    for (let round = 1; round <= ROUNDS; round += 1) {
      await shopper.request('DELETE', '/api/cart');
      const answers = await Promise.all(
        Array.from({ length: PARALLEL }, (_, index) => shopper.request('POST', '/api/cart', { json: { item: `item ${index + 1}` } })),
      );
      const succeeded = answers.filter((answer) => answer.status === 200).length;
      const cart = field(await shopper.request('GET', '/api/session'), 'data');
      const kept = Array.isArray((cart as { cart?: unknown } | undefined)?.cart) ? (cart as { cart: unknown[] }).cart.length : 0;
      say(`Round ${round}: ${PARALLEL} items added at once to an empty cart, ${succeeded} answered 200; the cart holds ${kept}.`);
      if (kept < succeeded) {
        say(`${succeeded - kept} additions were lost: each of those requests wrote back a cart read before another request's write.`);
        return true;
      }
    }
    say(`Every addition of ${ROUNDS} rounds was kept: each read-modify-write waited for the one before it.`);
    return false;
  },
};
