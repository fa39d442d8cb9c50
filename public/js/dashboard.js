// The dashboard: a greeting, the guest demo and the session inspector.
// /api/session is fetched when the page loads and after each change, never
// on a timer: every request with the cookie slides the idle expiry, so a
// page that polled would keep its own session alive forever.

import { api } from './api.js';
import { $ } from './dom.js';
import { setUpGuestDemo } from './guest-demo.js';
import { createInspector } from './inspector.js';
import { showTime } from './time.js';

const inspector = createInspector();
const demo = setUpGuestDemo({ onChange: refreshSession });

async function refreshSession() {
  const sentAt = Date.now();
  const result = await api('/api/session');
  demo.render(result.status === 200 ? /** @type {import('./api.js').SessionView} */ (result.body).data : null);
  inspector.show(result, sentAt);
  if (result.status === 401) showSignedOut();
}

async function showGreeting() {
  const result = await api('/api/me');
  if (result.status !== 200) {
    if (result.status === 401) showSignedOut();
    return;
  }
  const me = /** @type {import('./api.js').Account} */ (result.body);
  // textContent, never innerHTML: a display name is whatever the user typed.
  $('greeting').textContent = `Hello, ${me.displayName || me.username}`;
  $('account-username').textContent = me.username;
  showTime($('account-created', HTMLTimeElement), me.createdAt);
  $('account-line').hidden = false;
}

function showSignedOut() {
  $('account-line').hidden = true;
  $('signed-out-notice').hidden = false;
}

$('inspector-refresh').addEventListener('click', refreshSession);
showGreeting();
refreshSession();
