// The devices page: every session of the signed-in user, from
// GET /api/sessions, each with a button that ends it, and "sign out
// everywhere else", which asks for the password first. The list is
// fetched when the page loads and after each change, never on a timer
// (each request slides this session's idle expiry).

import { api, describeFailure } from './api.js';
import { $ } from './dom.js';
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

/**
 * input is the <input> with this id.
 * @param {string} id
 * @returns {HTMLInputElement}
 */
function input(id) {
  const element = $(id);
  if (!(element instanceof HTMLInputElement)) throw new Error(`id="${id}" is not an <input>`);
  return element;
}

/**
 * fieldset is the <fieldset> with this id.
 * @param {string} id
 * @returns {HTMLFieldSetElement}
 */
function fieldset(id) {
  const element = $(id);
  if (!(element instanceof HTMLFieldSetElement)) throw new Error(`id="${id}" is not a <fieldset>`);
  return element;
}

/**
 * Shows the outcome of an action: `status` for success, `error` for failure.
 * @param {string} prefix  The ids' common start: `<prefix>-status`, `<prefix>-error`.
 */
function reporter(prefix) {
  const status = $(`${prefix}-status`);
  const error = $(`${prefix}-error`);
  return {
    /** @param {string} message */
    success(message) {
      error.hidden = true;
      status.textContent = message;
    },
    /** @param {string} message */
    failure(message) {
      status.textContent = '';
      error.textContent = message;
      error.hidden = false;
    },
  };
}

const listReport = reporter('sessions');
const othersReport = reporter('revoke-others');

function showSignedOut() {
  $('signed-out-notice').hidden = false;
  fieldset('revoke-others-fields').disabled = true;
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
  if (result.status === 401) return showSignedOut();
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
  } else {
    if (result.status === 401) showSignedOut();
    listReport.failure(describeFailure(result));
    button.disabled = false;
  }
  await refresh();
}

$('revoke-others-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const fields = fieldset('revoke-others-fields');
  const currentPassword = input('revoke-others-password').value;
  fields.disabled = true;
  const result = await api('/api/sessions/revoke-others', { method: 'POST', body: { currentPassword } });
  fields.disabled = false;
  if (result.status === 204) {
    input('revoke-others-password').value = '';
    othersReport.success('Every other session of yours has ended. This one carries on.');
    await refresh();
    return;
  }
  if (result.status === 401) showSignedOut();
  othersReport.failure(describeFailure(result, { 403: 'That is not your current password, so nothing was signed out.' }));
});

fieldset('revoke-others-fields').disabled = false;
refresh();
