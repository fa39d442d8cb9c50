import { Agent } from './agent.ts';
import type { Attack } from './attack.ts';
import { CannotRun, signedInVictim, tookOver, VICTIM } from './attack.ts';

/**
 * Replaying an ID after logout: the attacker copied the victim's ID
 * earlier; the victim signs out, feeling safe. If logout only clears the
 * cookie in the victim's browser, the copy still opens the session.
 */
export const logoutReplay: Attack = {
  defence: 'server-side-logout',
  title: 'Replaying an ID after logout',
  async run({ url }, say) {
    const victim = await signedInVictim(url);
    if (victim.sid === null) throw new CannotRun('the victim signed in but holds no session ID');
    const attacker = new Agent(url);
    attacker.hold(victim.sid);
    say(`The victim signs in as ${VICTIM.username}; the attacker has copied the ID ${victim.shownSid}.`);
    const logout = await victim.request('POST', '/logout', { json: {} });
    say(`The victim signs out (POST /logout answered ${logout.status}); the browser's cookie is cleared.`);
    return tookOver(attacker, say);
  },
};
