// The login page: the sign-in form itself needs no JavaScript (it is a plain
// HTML form). This module runs the guest demo beside it and says whether the
// browser already has a session.

import { api } from './api.js';
import { setUpGuestDemo } from './guest-demo.js';
import { plural } from './time.js';

const demo = setUpGuestDemo({ onChange: showSessionStatus });

// GET /api/session only reads: visiting this page never creates a session.
// It is fetched on load and after each change, never on a timer, because
// every request that carries the cookie counts as use of the session.
async function showSessionStatus() {
  const status = document.getElementById('session-status');
  const result = await api('/api/session');

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

  const session = result.body;
  demo.render(session.data);
  const who = session.user === null ? 'Guest session' : `Session of ${session.user}`;
  status.replaceChildren(
    strong(`${who} `),
    code(session.id),
    ` — the server keeps your cart (${plural(session.data.cart.length, 'item')}) and theme in a file. `,
    'Sign in and this ID will be replaced by a new one.',
  );
}

function strong(text) {
  const element = document.createElement('strong');
  element.textContent = text;
  return element;
}

function code(text) {
  const element = document.createElement('code');
  element.textContent = text;
  return element;
}

showSessionStatus();
