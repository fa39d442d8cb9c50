import { Agent, field } from './agent.ts';
import type { Attack } from './attack.ts';
import { CannotRun, labStatus, signedInVictim, tookOver, VICTIM } from './attack.ts';

/** MARGIN_SECONDS: how far past the absolute timeout the lab's clock is moved, so no rounding can leave the session alive. */
const MARGIN_SECONDS = 60;

/**
 * A stolen ID that works for ever: the attacker copies a session ID once
 * (a shared computer, a log, a backup) and uses it long after. Time is the
 * only defence left when nobody notices the theft. The lab moves its own
 * clock past SESSION_ABSOLUTE_TIMEOUT rather than wait hours, and puts it
 * back afterwards.
 */
export const stolenForever: Attack = {
  defence: 'expiry',
  title: 'A stolen ID used for ever',
  async run({ url }, say) {
    const victim = await signedInVictim(url);
    if (victim.sid === null) throw new CannotRun('the victim signed in but holds no session ID');
    say(`The victim signs in as ${VICTIM.username}; the attacker copies the ID ${victim.shownSid} (a shared computer, a log, a backup).`);
    const { absoluteTimeoutSeconds } = await labStatus(url);
    const jump = absoluteTimeoutSeconds + MARGIN_SECONDS;
    const lab = new Agent(url);
    const moved = await lab.request('POST', '/api/lab/clock', { json: { advanceSeconds: jump } });
    if (moved.status !== 200) throw new CannotRun(`the lab's clock could not be moved (POST /api/lab/clock answered ${moved.status})`);
    try {
      say(
        `Time passes: the lab moves its clock ${hours(jump)} ahead, past SESSION_ABSOLUTE_TIMEOUT (${hours(absoluteTimeoutSeconds)}); nobody used the session meanwhile.`,
      );
      const attacker = new Agent(url);
      attacker.hold(victim.sid);
      return await tookOver(attacker, say);
    } finally {
      await lab.request('DELETE', '/api/lab/clock');
      say(`The lab puts its clock back (it had run ${String(field(moved, 'clockOffsetSeconds'))} s ahead).`);
    }
  },
};

function hours(seconds: number): string {
  const whole = Math.floor(seconds / 3600);
  const minutes = Math.round((seconds % 3600) / 60);
  return whole === 0 ? `${minutes} min` : `${whole} h ${minutes} min`;
}
