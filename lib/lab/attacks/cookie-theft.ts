import { Agent } from './agent.ts';
import type { Attack } from './attack.ts';
import { CannotRun, signedInVictim, tookOver, VICTIM } from './attack.ts';

/**
 * Cookie theft by an injected script: a page that shows someone else's
 * text without escaping it runs their script, and the script reads
 * `document.cookie` and sends it away. Browsers leave HttpOnly cookies out
 * of `document.cookie`; this attack plays the browser's part by that rule.
 */
export const cookieTheft: Attack = {
  defence: 'http-only',
  title: 'Cookie theft by script',
  async run({ url }, say) {
    const victim = await signedInVictim(url);
    const line = victim.lastSetCookie;
    if (line === null || victim.sid === null) throw new CannotRun('the victim signed in but was sent no session cookie');
    say(`The victim signs in as ${VICTIM.username}. The server sends: Set-Cookie: ${line.replace(victim.sid, victim.shownSid)}`);
    say('A script an attacker slipped into a page (a comment shown as HTML, say) runs document.cookie.');
    const httpOnly = line.split(';').some((attribute) => attribute.trim().toLowerCase() === 'httponly');
    if (httpOnly) {
      say('The browser leaves HttpOnly cookies out of document.cookie: the script gets "", nothing to send.');
      return false;
    }
    say(`No HttpOnly, so the browser hands the script "sid=${victim.shownSid}", and the script sends it to the attacker.`);
    const attacker = new Agent(url);
    attacker.hold(victim.sid);
    return tookOver(attacker, say);
  },
};
