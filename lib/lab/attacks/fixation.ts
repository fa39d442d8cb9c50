import { Agent } from './agent.ts';
import type { Attack } from './attack.ts';
import { CannotRun, signedInVictim, tookOver, VICTIM } from './attack.ts';

/**
 * Session fixation: the attacker gets a session ID from the server, plants
 * it in the victim's browser, and waits for the victim to sign in with it.
 * If signing in keeps the ID, the attacker's copy is now signed in too.
 */
export const fixation: Attack = {
  defence: 'rotate-on-sign-in',
  title: 'Session fixation',
  async run({ url }, say) {
    const attacker = new Agent(url);
    const guest = await attacker.request('POST', '/api/cart', { json: { item: 'bait' } });
    if (attacker.sid === null)
      throw new CannotRun(`the attacker could not start a guest session (POST /api/cart answered ${guest.status})`);
    const planted = attacker.sid;
    say(`The attacker starts a guest session of its own (POST /api/cart) and gets the ID ${attacker.shownSid}.`);
    say(
      "The attacker plants that ID in the victim's browser (in real life through a sibling subdomain that sets cookies for this one, or a link to a framework that takes IDs from URLs).",
    );
    const victim = await signedInVictim(url, planted);
    say(
      victim.sid === planted
        ? `The victim signs in as ${VICTIM.username}. The server sends no new cookie: the browser keeps ${victim.shownSid}, the planted ID.`
        : `The victim signs in as ${VICTIM.username}. The server answers with a new ID, ${victim.shownSid}, and deletes the planted one.`,
    );
    return tookOver(attacker, say);
  },
};
