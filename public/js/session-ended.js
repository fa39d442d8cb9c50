// The moment a session ends under an open page: the moment this app exists
// to teach. A signed-in page (dashboard, profile) hands every answer that
// could reveal an ending to the watch below, which then says which ending
// it was and why, hides everything that only makes sense signed in (the
// elements marked data-signed-in), and offers to sign in again, back to
// this page. It never lets the page carry on as a guest without saying so.

import { $, all } from './dom.js';

/**
 * What each ending is called, by the `reason` the server gives (a 401's
 * body, or a write that had to start a new guest session). The why comes
 * from the server's own `message`, worded with the timeouts it enforces.
 * An ending this page does not know yet still gets the generic title.
 * @type {Record<string, string>}
 */
const ENDING_TITLES = {
  'idle-timeout': 'Your session expired: idle timeout',
  'absolute-timeout': 'Your session expired: absolute timeout',
  'signed-out': 'You signed out',
  'password-changed': 'Your session ended: password changed',
  revoked: 'You were signed out from another device',
  'account-removed': 'Your session ended: account removed',
};
const GENERIC_TITLE = 'Your session has ended';
const UNKNOWN_WHY =
  'Your browser sent no live session: it was signed out (perhaps in another tab, which clears the cookie for every tab), its cookie was cleared, or it ended more than a day ago.';
/** CHANNEL carries "signed out" from the tab that signs out to this site's other tabs. */
const CHANNEL = 'cloakroom-session';
const SIGNED_OUT_HERE = 'signed-out';

/**
 * @typedef {object} Ending
 * @property {string | null} reason  The server's reason code, when it gave one.
 * @property {string} title
 * @property {string} why
 * @property {string} [after]  What happened next, when the page knows.
 */

/**
 * endingFrom401 reads a 401's body: `{error, message, reason?}`.
 * @param {unknown} body
 * @returns {Ending}
 */
export function endingFrom401(body) {
  const { reason, message } = /** @type {{reason?: unknown, message?: unknown} | null} */ (body) ?? {};
  if (typeof reason !== 'string') return { reason: null, title: GENERIC_TITLE, why: UNKNOWN_WHY };
  return { reason, title: ENDING_TITLES[reason] ?? GENERIC_TITLE, why: typeof message === 'string' ? message : UNKNOWN_WHY };
}

/**
 * endingFromWrite reads the `ended` field of a write's answer (POST /api/cart,
 * PUT /api/preferences): present when the write found the session ended and
 * started a new guest session instead. Null when it is absent.
 * @param {unknown} body
 * @param {string} what  What the write kept, for the sentence: "The item you added".
 * @returns {Ending | null}
 */
export function endingFromWrite(body, what) {
  const { ended } = /** @type {{ended?: {reason: string, message: string}} | null} */ (body) ?? {};
  if (ended === undefined) return null;
  return { ...endingFrom401(ended), after: `${what} went into a new guest session, which belongs to nobody.` };
}

/**
 * endingFromOwner explains a session that is alive but no longer the one the
 * page was drawn for: it now belongs to nobody (a guest) or to someone else.
 * @param {string} expected  The username the page was drawn for.
 * @param {string | null} owner  Whom the browser's session belongs to now.
 * @returns {Ending}
 */
export function endingFromOwner(expected, owner) {
  if (owner === null) {
    return {
      reason: null,
      title: `You are no longer signed in as ${expected}`,
      why: `This browser's session is now a guest session: ${expected}'s session ended (signed out in another tab, perhaps) and a new one began without an account.`,
    };
  }
  return {
    reason: null,
    title: `This browser is now signed in as ${owner}`,
    why: `Someone signed in as ${owner} in another tab of this browser. That replaced ${expected}'s session: a browser holds one session cookie per site.`,
  };
}

/**
 * createSessionWatch wires the page's #session-ended notice.
 * @param {{onEnd?: () => void}} [options]  `onEnd` undoes what the page itself drew for the user (a greeting).
 * @returns {{expect: (username: string) => void, check: (owner: string | null) => boolean, end: (ending: Ending) => void, readonly ended: boolean}}
 *   `expect` names the user the page was drawn for; `check` compares the
 *   browser's current session owner with it (and ends the page when they
 *   differ; true while they agree); `end` shows an ending.
 */
export function createSessionWatch({ onEnd } = {}) {
  /** @type {string | null} */
  let expected = null;
  /** @type {Ending | null} */
  let shown = null;

  /** @param {Ending} ending */
  function end(ending) {
    // The first explanation is the best one: a later look finds only what came after.
    if (shown !== null) {
      if (ending.after !== undefined && shown.after === undefined) showAfter(ending.after);
      return;
    }
    shown = ending;
    for (const element of all('[data-signed-in]', HTMLElement)) element.hidden = true;
    onEnd?.();
    $('session-ended-title').textContent = ending.title;
    $('session-ended-why').textContent = ending.why;
    showAfter(ending.after);
    const query = new URLSearchParams({ next: location.pathname });
    if (ending.reason !== null) query.set('reason', ending.reason);
    $('session-ended-sign-in', HTMLAnchorElement).href = `/login?${query}`;
    $('session-ended').hidden = false;
  }

  /** @param {string | undefined} after */
  function showAfter(after) {
    $('session-ended-after').textContent = after ?? '';
    $('session-ended-after').hidden = after === undefined;
  }

  // Signing out in one tab clears the cookie for all of them, so the others
  // could only learn that "no cookie came"; the tab that signs out tells them why.
  const channel = new BroadcastChannel(CHANNEL);
  channel.addEventListener('message', (event) => {
    if (event.data !== SIGNED_OUT_HERE) return;
    end({
      reason: 'signed-out',
      title: ENDING_TITLES['signed-out'] ?? GENERIC_TITLE,
      why: 'You signed out in another tab, so the server deleted your session.',
    });
  });
  for (const form of all('form[action="/logout"]', HTMLFormElement)) {
    form.addEventListener('submit', () => channel.postMessage(SIGNED_OUT_HERE));
  }

  return {
    expect(username) {
      expected = username;
    },
    check(owner) {
      if (expected === null || owner === expected) return true;
      end(endingFromOwner(expected, owner));
      return false;
    },
    end,
    get ended() {
      return shown !== null;
    },
  };
}
