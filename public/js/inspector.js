// The session inspector on the dashboard: both halves of a session side by
// side. The browser half is what the browser holds (the cookie); the server
// half is what the server holds (the file). Only the ticket crosses the wire.

import { describeFailure } from './api.js';
import { $ } from './dom.js';
import { formatCountdown, formatDuration, plural, serverClockOffset, showTime } from './time.js';

/** @typedef {import('./api.js').SessionView} SessionView */

const MS_PER_SECOND = 1000;
const EXPIRED_TEXT = 'expired — your next request will be treated as signed out';
const MOOT_TEXT = 'never reached: the other deadline came first and ended the session';
/**
 * How the inspector words each reason /api/session gives for an ID
 * replacement (`rotations[].reason`); the server records `sign-in`,
 * `registration` and `password change`.
 * @type {Record<string, string>}
 */
const ROTATION_CAUSES = {
  'sign-in': 'When you signed in',
  registration: 'When you registered (which signs you in)',
  'password change': 'When you changed your password',
};

/**
 * What each cookie attribute means for the person using the page, by value.
 * @type {Record<string, Record<string, string>>}
 */
const EXPLAIN = {
  httpOnly: {
    true: 'scripts on the page cannot read it, so an injected script cannot steal it',
    false: 'scripts on the page can read it',
  },
  sameSite: {
    Lax: 'sent when you follow a link here from another site, but not with another site’s form posts, images or background requests. A “site” is the registrable domain: another port on 127.0.0.1 is the same site, so this alone does not stop a page there',
    Strict: 'never sent with a request that another site started',
    None: 'sent with requests from other sites too',
  },
  secure: {
    true: 'sent over HTTPS only',
    false: 'also sent over plain HTTP: fine on 127.0.0.1; behind HTTPS the server adds Secure and names the cookie __Host-sid',
  },
  path: {
    '/': 'sent with every request to this site',
  },
};

/**
 * createInspector returns the inspector for the page's #inspector section.
 * `show` draws one /api/session response; the countdowns then tick once a
 * second in the browser alone. Nothing here polls the server: every request
 * with the cookie counts as use and would itself slide the idle expiry.
 * @returns {{show: (result: import('./api.js').ApiResult, sentAt: number) => void}}
 */
export function createInspector() {
  /** @type {ReturnType<typeof setInterval> | undefined} */
  let timer;

  /**
   * @param {import('./api.js').ApiResult} result
   * @param {number} sentAt
   */
  function show(result, sentAt) {
    clearInterval(timer);
    const hasSession = result.status === 200;
    $('inspector-columns').hidden = !hasSession;
    $('inspector-empty').hidden = hasSession;
    if (!hasSession) {
      $('rotation-callout').hidden = true;
      const { reason, message } = /** @type {{reason?: string, message?: string} | null} */ (result.body) ?? {};
      $('inspector-empty').textContent =
        result.status !== 401
          ? `Could not load the session. ${describeFailure(result)}`
          : reason === undefined
            ? 'No session: your browser sent no session cookie, or the session it named has ended. The server keeps nothing for you.'
            : `No session. ${message ?? ''} The server keeps nothing for you now.`;
      return;
    }

    const session = /** @type {SessionView} */ (result.body);
    showBrowserSide(session);
    showServerSide(session);
    showRotation(session);

    const offset = serverClockOffset(session.serverTime, sentAt);
    const tick = startCountdowns(session, offset, () => clearInterval(timer));
    tick();
    timer = setInterval(tick, MS_PER_SECOND);
  }

  $('document-cookie-read').addEventListener('click', () => showDocumentCookie($('cookie-name').textContent));
  return { show };
}

/** @param {SessionView} session */
function showBrowserSide(session) {
  const { cookie } = session;
  $('cookie-name').textContent = cookie.name;
  $('session-id').textContent = session.id;
  for (const attribute of /** @type {const} */ (['httpOnly', 'sameSite', 'secure', 'path'])) {
    const value = String(cookie[attribute]);
    const id = `cookie-${attribute.toLowerCase()}`;
    $(id).textContent = value;
    $(`${id}-why`).textContent = EXPLAIN[attribute]?.[value] ?? '';
  }
  showDocumentCookie(cookie.name);
}

/**
 * The live demonstration: read document.cookie right now and look for the
 * session cookie's name in it.
 * @param {string} cookieName
 */
function showDocumentCookie(cookieName) {
  const visible = document.cookie;
  $('document-cookie').textContent = JSON.stringify(visible);

  const names = visible.split(';').map((pair) => (pair.split('=')[0] ?? '').trim());
  const verdict = $('document-cookie-verdict');
  verdict.classList.toggle('is-bad', names.includes(cookieName));
  if (names.includes(cookieName)) {
    verdict.textContent = `“${cookieName}” appears in it: the cookie is not HttpOnly, so any script on this page could read the session ID.`;
  } else {
    const what = visible === '' ? 'An empty string. ' : '';
    verdict.textContent = `${what}“${cookieName}” is not in it. Your browser has the cookie and sends it with every request, yet hides it from scripts because it is HttpOnly: a cross-site scripting bug could not steal your session.`;
  }
}

/** @param {SessionView} session */
function showServerSide(session) {
  $('session-file').textContent = session.file;
  const { ttlSeconds } = session.storage;
  $('session-ttl-row').hidden = ttlSeconds === null;
  $('session-ttl').textContent = ttlSeconds === null ? '' : `${formatDuration(ttlSeconds)} (${session.storage.kind})`;
  $('session-user').textContent = session.user ?? 'nobody yet: a guest session';
  showGeneration(session);
  showTime($('session-created', HTMLTimeElement), session.createdAt);
  showTime($('session-last-seen', HTMLTimeElement), session.lastSeenAt);
  showTime($('session-idle-expires', HTMLTimeElement), session.idleExpiresAt);
  showTime($('session-absolute-expires', HTMLTimeElement), session.absoluteExpiresAt);
  $('clock-explainer').textContent =
    `Every request with the cookie counts as use. The server moves “last seen” forward, at most once every ` +
    `${formatDuration(session.touchIntervalSeconds)} to save disk writes, and the idle expiry is ` +
    `${formatDuration(session.idleTimeoutSeconds)} after it. The absolute expiry, ` +
    `${formatDuration(session.absoluteTimeoutSeconds)} after the session began, never moves. ` +
    `Both are worked out from the server's settings at every request, not stored in the file: restart the server with a ` +
    `shorter timeout and a session already idle for longer than that ends at once (the sweeper deletes it at start-up).`;

  // Built as text, so nothing from the file can ever become markup.
  $('session-stored').textContent = JSON.stringify(session.stored, null, 2);

  const items = (session.events ?? []).map(({ at, event }) => {
    const li = document.createElement('li');
    const time = document.createElement('time');
    showTime(time, at);
    const text = document.createElement('span');
    text.textContent = event;
    li.append(time, text);
    return li;
  });
  $('session-events').replaceChildren(...items);
}

/**
 * The password generation: which version of the account's password this
 * session signed in under, and what moves it.
 * @param {SessionView} session
 */
function showGeneration(session) {
  const { generation } = session;
  $('session-generation').textContent = generation === null ? 'none' : String(generation);
  const changes = (session.rotations ?? []).filter(({ reason }) => reason === 'password change').length;
  $('session-generation-why').textContent =
    generation === null
      ? 'A guest session belongs to no account, so no password generation applies.'
      : (changes > 0
          ? `Raised to ${generation} when you changed your password here. Every other session of yours still holding an older number was ended at its next request. `
          : generation === 0
            ? 'The account’s password has not been changed since it was registered. '
            : `The account’s password has been changed ${plural(generation, 'time')} so far. `) +
        'Each password change raises the account’s generation by one; a session whose number is older than the account’s ends at its next request, so one number revokes every other session at once.';
}

/**
 * When the ID has been replaced and the data is still here, say so: that is
 * the session-fixation defence, made visible. The latest replacement is the
 * one the Value row shows, so that is the one described, with its cause.
 * @param {SessionView} session
 */
function showRotation(session) {
  const rotations = session.rotations ?? [];
  const rotation = rotations.at(-1);
  $('rotation-callout').hidden = rotation === undefined;
  if (rotation === undefined) return;

  const { cart, theme } = session.data;
  const cause = ROTATION_CAUSES[rotation.reason] ?? `At ${rotation.reason}`;
  const earlier = rotations.length > 1 ? ` This session’s ID has been replaced ${plural(rotations.length, 'time')} in all.` : '';
  $('rotation-text').textContent =
    `${cause}, the server gave this session a new ID (was ${rotation.from}, now ${rotation.to}) and threw the old one away. ` +
    `Your cart (${plural(cart.length, 'item')}) and theme (${theme ?? 'not chosen'}) came along unchanged.${earlier}`;
}

/**
 * Returns a function that redraws both countdowns for the current moment;
 * `onEnded` is called once the session has ended, as nothing changes after.
 * @param {SessionView} session
 * @param {number} offset  How far the server's clock is ahead, in ms.
 * @param {() => void} onEnded
 */
function startCountdowns(session, offset, onEnded) {
  const countdowns = [
    { element: $('idle-countdown'), endsAt: Date.parse(session.idleExpiresAt) },
    { element: $('absolute-countdown'), endsAt: Date.parse(session.absoluteExpiresAt) },
  ];
  return function tick() {
    const serverNow = Date.now() + offset;
    // Whichever deadline comes first ends the session.
    const ended = countdowns.some(({ endsAt }) => serverNow >= endsAt);
    for (const { element, endsAt } of countdowns) {
      const expired = serverNow >= endsAt;
      element.classList.toggle('is-expired', expired);
      element.classList.toggle('is-moot', ended && !expired);
      if (expired) element.textContent = EXPIRED_TEXT;
      else if (ended) element.textContent = MOOT_TEXT;
      else element.textContent = `${formatCountdown(endsAt - serverNow)} left`;
    }
    if (ended) onEnded();
  };
}
