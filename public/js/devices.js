// The devices page: every session of the signed-in user, from
// GET /api/sessions, each with a button that ends it, and "sign out
// everywhere else", which asks for the password first. The list is
// fetched when the page loads and after each change, never on a timer
// (each request slides this session's idle expiry).

import { api, describeFailure } from './api.js';
import { $, reporter } from './dom.js';
import { createSessionWatch, endingFrom401 } from './session-ended.js';
import { showTime } from './time.js';

/**
 * @typedef {object} DeviceSession  One session as GET /api/sessions lists it.
 * @property {string} id  The session's file id (SHA-256 of its ID), never the ID.
 * @property {boolean} current  Whether it is this browser's session.
 * @property {string} device  A coarse label such as "Firefox on Linux".
 * @property {string} createdAt
 * @property {string} lastSeenAt
 * @property {string} idleExpiresAt
 * @property {string} absoluteExpiresAt
 */

/** How much of a file id the page shows: enough to match it with `ls` in the sessions directory. */
const FILE_ID_SHOWN = 16;

const listReport = reporter('sessions');
const othersReport = reporter('revoke-others');
const watch = createSessionWatch({
  onEnd() {
    $('revoke-others-fields', HTMLFieldSetElement).disabled = true;
  },
});

/**
 * A 401 means this session ended under the page (signed out from another
 * device, perhaps): the watch says which way and why, and hides the lists.
 * @param {import('./api.js').ApiResult} result
 * @returns {boolean}  Whether it was a 401.
 */
function endedIf401(result) {
  if (result.status !== 401) return false;
  watch.end(endingFrom401(result.body));
  return true;
}

/**
 * timeLine is "label <time>" as one line of a session's facts.
 * @param {string} label
 * @param {string} iso
 * @returns {HTMLElement}
 */
function timeLine(label, iso) {
  const line = document.createElement('span');
  const time = document.createElement('time');
  showTime(time, iso);
  line.append(`${label} `, time);
  return line;
}

/**
 * sessionItem draws one session. Every text from the server is set with
 * textContent: a device label is only data.
 * @param {DeviceSession} session
 * @returns {HTMLLIElement}
 */
function sessionItem(session) {
  const item = document.createElement('li');
  item.dataset.sessionId = session.id;
  const title = document.createElement('strong');
  title.textContent = session.current ? `${session.device} (this device)` : session.device;
  const file = document.createElement('code');
  file.textContent = `${session.id.slice(0, FILE_ID_SHOWN)}…`;
  const facts = document.createElement('p');
  facts.className = 'small muted';
  facts.append(
    timeLine('Signed in', session.createdAt),
    ' · ',
    timeLine('last seen', session.lastSeenAt),
    ' · ',
    timeLine('ends if unused by', session.idleExpiresAt),
    ' · ',
    timeLine('ends at the latest', session.absoluteExpiresAt),
  );
  item.append(title, ' ', file, facts);
  if (!session.current) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'button quiet';
    button.textContent = 'Sign out';
    button.setAttribute('aria-label', `Sign out ${session.device}, session ${session.id.slice(0, FILE_ID_SHOWN)}`);
    button.addEventListener('click', () => revokeOne(session, button));
    item.append(button);
  }
  return item;
}

async function refresh() {
  const result = await api('/api/sessions');
  if (endedIf401(result)) return;
  if (result.status !== 200) return listReport.failure(describeFailure(result));
  const { sessions } = /** @type {{ sessions: DeviceSession[] }} */ (result.body);
  $('sessions-list').replaceChildren(...sessions.map(sessionItem));
}

/**
 * revokeOne ends another session of this user.
 * @param {DeviceSession} session
 * @param {HTMLButtonElement} button
 */
async function revokeOne(session, button) {
  button.disabled = true;
  const result = await api(`/api/sessions/${session.id}`, { method: 'DELETE' });
  if (result.status === 204 || result.status === 404) {
    // 404: it had ended already (expired, or signed out elsewhere); either way it is gone.
    listReport.success(`${session.device} is signed out. Its next request will find no session.`);
  } else if (!endedIf401(result)) {
    listReport.failure(describeFailure(result));
    button.disabled = false;
  }
  await refresh();
}

$('revoke-others-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const fields = $('revoke-others-fields', HTMLFieldSetElement);
  const currentPassword = $('revoke-others-password', HTMLInputElement).value;
  fields.disabled = true;
  const result = await api('/api/sessions/revoke-others', { method: 'POST', body: { currentPassword } });
  fields.disabled = false;
  if (result.status === 204) {
    $('revoke-others-password', HTMLInputElement).value = '';
    othersReport.success('Every other session of yours has ended. This one carries on.');
    await refresh();
    return;
  }
  if (endedIf401(result)) return;
  othersReport.failure(describeFailure(result, { 403: 'That is not your current password, so nothing was signed out.' }));
});

$('revoke-others-fields', HTMLFieldSetElement).disabled = false;
refresh();
