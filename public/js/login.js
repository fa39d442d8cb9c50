// The login page: the sign-in form itself needs no JavaScript (it is a plain
// HTML form). This module runs the guest demo beside it and says whether the
// browser already has a session.

import { api } from './api.js';
import { $ } from './dom.js';
import { setUpGuestDemo } from './guest-demo.js';
import { plural } from './time.js';

const demo = setUpGuestDemo({
  onChange: () => {
    // A change that the server accepted means there is a session now.
    document.documentElement.dataset.session = 'yes';
    return showSessionStatus();
  },
});

// GET /api/session only reads: visiting this page never creates a session.
// It is fetched on load and after each change, never on a timer, because
// every request that carries the cookie counts as use of the session.
async function showSessionStatus() {
  const status = $('session-status');
  // The server marks the page when the request came with a live session
  // (data-session="yes"). Without one there is nothing to ask about, and
  // asking would only earn a 401.
  const hasSession = document.documentElement.dataset.session === 'yes';
  const result = hasSession ? await api('/api/session') : { status: 401, body: null, retryAfter: null };

  if (result.status === 401) {
    demo.render(null);
    status.replaceChildren(
      strong('No session yet.'),
      ' Your browser holds no session cookie and the server keeps no file for you. Add an item or pick a theme to create one.',
    );
    return;
  }
  if (result.status !== 200) {
    status.textContent = 'Could not check for a session just now.';
    return;
  }

  const session = /** @type {import('./api.js').SessionView} */ (result.body);
  demo.render(session.data);
  const who = session.user === null ? 'Guest session' : `Session of ${session.user}`;
  status.replaceChildren(
    strong(`${who} `),
    code(session.id, 'session-status-id'),
    ` — the server keeps your cart (${plural(session.data.cart.length, 'item')}) and theme in a file. `,
    'Sign in and this ID will be replaced by a new one.',
  );
}

/** @param {string} text */
function strong(text) {
  const element = document.createElement('strong');
  element.textContent = text;
  return element;
}

/**
 * @param {string} text
 * @param {string} id
 */
function code(text, id) {
  const element = document.createElement('code');
  element.id = id;
  element.textContent = text;
  return element;
}

/**
 * A failed sign-in comes back as this page with an error, and the browser
 * has forgotten what was typed: the username is kept for that one trip, in
 * this tab's sessionStorage (never the password, and never in the URL).
 */
function keepUsername() {
  const KEY = 'cloakroom.login-username';
  const input = $('login-username', HTMLInputElement);
  const failed = document.getElementById('page-error') !== null;
  const kept = sessionStorage.getItem(KEY);
  sessionStorage.removeItem(KEY);
  if (failed && kept !== null && input.value === '') {
    input.value = kept;
    $('login-password').focus();
  }
  $('login-form', HTMLFormElement).addEventListener('submit', () => sessionStorage.setItem(KEY, input.value));
}

keepUsername();
showSessionStatus();
