/**
 * The lab's weak session IDs, for `random-ids` switched off: a counter
 * that starts at the moment the process started (in milliseconds) and goes
 * up by one for each new session, written as 43 decimal digits. They pass
 * every format check a real ID passes (43 base64url characters), and that
 * is the lesson: a well-formed ID is not a secret one. Whoever sees one
 * knows the next visitor's.
 */

/** COUNTED_ID_LENGTH: as long as a real ID, so nothing but its predictability tells them apart. */
const COUNTED_ID_LENGTH = 43;

let last = BigInt(Date.now());

/** countedSessionId is the next ID of the counter: the one before it, plus one. */
export function countedSessionId(): string {
  last += 1n;
  return last.toString().padStart(COUNTED_ID_LENGTH, '0');
}
