// The session inspector on the dashboard: both halves of a session side by
// side. The browser half is what the browser holds (the cookie); the server
// half is what the server holds (the file). Only the ticket crosses the wire.

import { describeFailure } from './api.js';
import { $ } from './dom.js';
import { formatCountdown, formatDuration, plural, serverClockOffset, showTime } from './time.js';

/** @typedef {import('./api.js').SessionView} SessionView */

const MS_PER_SECOND = 1000;
const EXPIRED_TEXT = 'expired — your next request will be treated as signed out';
const ENDED_TEXT = 'not reached: the session has already ended';
/** The reason /api/session gives for the ID replacement at sign-in. */
const SIGN_IN = 'sign-in';

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
    Lax: 'sent when you follow a link here from another site, but not with another site’s form posts, images or background requests',
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
      $('inspector-empty').textContent =
        result.status === 401
          ? 'No session: your browser sent no session cookie, or the session it named has ended. The server keeps nothing for you.'
          : `Could not load the session. ${describeFailure(result)}`;
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
  $('session-user').textContent = session.user ?? 'nobody yet: a guest session';
  showTime($('session-created', HTMLTimeElement), session.createdAt);
  showTime($('session-last-seen', HTMLTimeElement), session.lastSeenAt);
  showTime($('session-idle-expires', HTMLTimeElement), session.idleExpiresAt);
  showTime($('session-absolute-expires', HTMLTimeElement), session.absoluteExpiresAt);
  $('clock-explainer').textContent =
    `Every request with the cookie counts as use. The server moves “last seen” forward, at most once every ` +
    `${formatDuration(session.touchIntervalSeconds)} to save disk writes, and the idle expiry is ` +
    `${formatDuration(session.idleTimeoutSeconds)} after it. The absolute expiry, ` +
    `${formatDuration(session.absoluteTimeoutSeconds)} after the session began, never moves.`;

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
 * When the ID was replaced at sign-in and the data is still here, say so:
 * that is the session-fixation defence, made visible.
 * @param {SessionView} session
 */
function showRotation(session) {
  const rotation = (session.rotations ?? []).find(({ reason }) => reason === SIGN_IN);
  $('rotation-callout').hidden = rotation === undefined;
  if (rotation === undefined) return;

  const { cart, theme } = session.data;
  $('rotation-text').textContent =
    `When you signed in, the server gave this session a new ID (was ${rotation.from}, now ${rotation.to}) and threw the old one away. ` +
    `Your cart (${plural(cart.length, 'item')}) and theme (${theme ?? 'not chosen'}) came along unchanged.`;
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
      else if (ended) element.textContent = ENDED_TEXT;
      else element.textContent = `${formatCountdown(endsAt - serverNow)} left`;
    }
    if (ended) onEnded();
  };
}
