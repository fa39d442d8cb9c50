// The profile page: display name and password, both sent to the JSON API.
// The display name lives with the account (data/users.json), the password
// hash too; neither is in the session.

import { api, describeFailure } from './api.js';
import { $, reporter } from './dom.js';
import { createSessionWatch, endingFrom401 } from './session-ended.js';

const watch = createSessionWatch();

/** @param {import('./api.js').Account} me */
function showAccount(me) {
  $('profile-username').textContent = me.username;
  $('profile-display-name').textContent = me.displayName;
  $('profile-line').hidden = false;
}

/**
 * A 401 means the session ended under this page: say which way and why.
 * @param {import('./api.js').ApiResult} result
 */
function endIf401(result) {
  if (result.status === 401) watch.end(endingFrom401(result.body));
}

async function loadAccount() {
  const result = await api('/api/me');
  endIf401(result);
  if (result.status !== 200) return;
  const me = /** @type {import('./api.js').Account} */ (result.body);
  watch.expect(me.username);
  showAccount(me);
  $('display-name-input', HTMLInputElement).value = me.displayName;
  $('password-username', HTMLInputElement).value = me.username;
}

/**
 * Runs `request` with the form's fields disabled so it cannot be sent twice.
 * @template T
 * @param {HTMLFieldSetElement} fieldset
 * @param {() => Promise<T>} request
 * @returns {Promise<T>}
 */
async function whileBusy(fieldset, request) {
  fieldset.disabled = true;
  try {
    return await request();
  } finally {
    fieldset.disabled = false;
  }
}

const displayName = reporter('display-name');
$('display-name-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const value = $('display-name-input', HTMLInputElement).value;
  const result = await whileBusy($('display-name-fields', HTMLFieldSetElement), () =>
    api('/api/profile', { method: 'PATCH', body: { displayName: value } }),
  );

  if (result.status === 200) {
    const me = /** @type {import('./api.js').Account} */ (result.body);
    showAccount(me);
    displayName.success(`Saved. You are now “${me.displayName}” in every session.`);
    return;
  }
  endIf401(result);
  displayName.failure(describeFailure(result, { 400: 'A display name must be 1–64 characters.' }));
});

const password = reporter('password');
$('password-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const currentPassword = $('current-password', HTMLInputElement).value;
  const newPassword = $('new-password', HTMLInputElement).value;
  if (newPassword !== $('confirm-password', HTMLInputElement).value) {
    password.failure('The two new passwords are not the same. Type them again.');
    $('confirm-password').focus();
    return;
  }

  const result = await whileBusy($('password-fields', HTMLFieldSetElement), () =>
    api('/api/password', { method: 'POST', body: { currentPassword, newPassword } }),
  );

  if (result.status === 200) {
    $('password-form', HTMLFormElement).reset();
    password.success('Password changed. Every other session of yours has ended; this one carries on with a new session ID.');
    return;
  }
  endIf401(result);
  password.failure(
    describeFailure(result, {
      403: 'That is not your current password, so nothing was changed.',
    }),
  );
});

$('display-name-fields', HTMLFieldSetElement).disabled = false;
$('password-fields', HTMLFieldSetElement).disabled = false;
loadAccount();
