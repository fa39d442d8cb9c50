import type { SwitchName } from '../switches.ts';
import { Agent, field } from './agent.ts';

/**
 * An attack is a plain function that plays out one of the lab's lessons
 * against a running lab server over real HTTP, says each step as it goes,
 * and answers whether it worked. The same function serves the tests
 * (test/lab/), `npm run attack` (scripts/attack.ts) and the lab page's
 * "try it" (lib/lab/routes.ts, which runs it against its own server).
 */

/** AttackTarget is the lab server under attack. */
export interface AttackTarget {
  /** url is the server's base URL, such as http://127.0.0.1:3000. */
  url: string;
  /** sessionsDir is where the server keeps its session files, for an attacker holding a copy of them. */
  sessionsDir: string;
}

/** Say hears each step of an attack as it happens, in plain sentences. */
export type Say = (step: string) => void;

export interface Attack {
  /** defence is the switch whose defence stops this attack. */
  defence: SwitchName;
  /** title names the attack: "Session fixation". */
  title: string;
  /** run plays the attack out and resolves true when it worked; it throws CannotRun when it could not be played at all. */
  run(target: AttackTarget, say: Say): Promise<boolean>;
}

/** AttackReport is a finished attack: its steps, whether it worked, and the last line, "the attack worked" or "the attack was stopped by …". */
export interface AttackReport {
  defence: SwitchName;
  title: string;
  worked: boolean;
  steps: string[];
  verdict: string;
}

/** CannotRun: the attack could not be played (no lab server there, an account it needs is not usable); nothing was learnt. */
export class CannotRun extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CannotRun';
  }
}

/** LabStatus is what GET /api/lab tells an attack about the server. */
export interface LabStatus {
  switches: Record<string, boolean>;
  store: string;
  absoluteTimeoutSeconds: number;
}

/** labStatus asks the server for its switches; a server that is not a lab (404) or cannot be reached is CannotRun. */
export async function labStatus(url: string): Promise<LabStatus> {
  let answer;
  try {
    answer = await new Agent(url).request('GET', '/api/lab');
  } catch (error) {
    throw new CannotRun(`nothing answers at ${url}: start the lab with npm run lab (or give its address with --url)`, { cause: error });
  }
  const switches = field(answer, 'switches');
  const store = field(answer, 'store');
  const absolute = field(answer, 'absoluteTimeoutSeconds');
  if (
    answer.status !== 200 ||
    typeof switches !== 'object' ||
    switches === null ||
    typeof store !== 'string' ||
    typeof absolute !== 'number'
  ) {
    throw new CannotRun(`${url} is not a lab server (GET /api/lab answered ${answer.status}): start it with npm run lab`);
  }
  return { switches: switches as Record<string, boolean>, store, absoluteTimeoutSeconds: absolute };
}

/** runAttack plays `attack` against `target` and reports it; `say` (optional) hears each step as it happens. */
export async function runAttack(attack: Attack, target: AttackTarget, say: Say = () => undefined): Promise<AttackReport> {
  await labStatus(target.url);
  const steps: string[] = [];
  const worked = await attack.run(target, (step) => {
    steps.push(step);
    say(step);
  });
  const verdict = worked ? 'the attack worked' : `the attack was stopped by ${attack.defence}`;
  return { defence: attack.defence, title: attack.title, worked, steps, verdict };
}

/**
 * VICTIM is the account every attack signs in as the victim. Made at the
 * first attack (or signed in to, when it exists): the lab's own account,
 * with a password nobody needs to remember.
 */
export const VICTIM = { username: 'lab-victim', password: 'lab victim password, only for the lab' } as const;

/** signedInVictim is a fresh browser (no cookie, or `planted`) signed in as VICTIM. */
export async function signedInVictim(url: string, planted?: string): Promise<Agent> {
  const registered = await new Agent(url).request('POST', '/register', { json: VICTIM });
  if (registered.status !== 201 && registered.status !== 409) {
    throw new CannotRun(`could not make the victim's account ${VICTIM.username} (POST /register answered ${registered.status})`);
  }
  const victim = new Agent(url);
  if (planted !== undefined) victim.hold(planted);
  const signedIn = await victim.request('POST', '/login', { json: VICTIM });
  if (signedIn.status !== 200) {
    throw new CannotRun(
      `the victim could not sign in as ${VICTIM.username} (POST /login answered ${signedIn.status}); if that account was made by hand, delete the lab's USERS_FILE`,
    );
  }
  return victim;
}

/** whoIs is the user an agent's cookie signs it in as (GET /api/me), or null when it signs in nobody. */
export async function whoIs(agent: Agent): Promise<string | null> {
  const me = await agent.request('GET', '/api/me');
  const username = field(me, 'username');
  return me.status === 200 && typeof username === 'string' ? username : null;
}

/** tookOver says, as the attack's last step, whether `attacker` is now signed in as the victim, and returns that. */
export async function tookOver(attacker: Agent, say: Say): Promise<boolean> {
  const user = await whoIs(attacker);
  if (user === VICTIM.username) {
    say(`The attacker asks GET /api/me with ${attacker.shownSid}: signed in as ${user}. The victim's session is the attacker's.`);
    return true;
  }
  say(`The attacker asks GET /api/me with ${attacker.shownSid}: 401, that ID signs in nobody.`);
  return false;
}
