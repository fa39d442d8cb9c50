// The dashboard: a greeting, the guest demo and the session inspector.
// /api/session is fetched when the page loads and after each change, never
// on a timer: every request with the cookie slides the idle expiry, so a
// page that polled would keep its own session alive forever.
//
// Every answer is checked for the end of the session (lib: session-ended.js):
// a 401, a write that had to start a guest session, or a session that now
// belongs to nobody or to someone else.

import { api } from './api.js';
import { $ } from './dom.js';
import { setUpGuestDemo } from './guest-demo.js';
import { createInspector } from './inspector.js';
import { createSessionWatch, endingFrom401, endingFromWrite } from './session-ended.js';
import { showTime } from './time.js';

const watch = createSessionWatch({ onEnd: () => ($('greeting').textContent = 'Your dashboard') });
const inspector = createInspector();
const demo = setUpGuestDemo({
  onChange: (answer, what) => {
    const ending = endingFromWrite(answer, what);
    if (ending !== null) watch.end(ending);
    return refreshSession();
  },
});

async function refreshSession() {
  const sentAt = Date.now();
  const result = await api('/api/session');
  const session = result.status === 200 ? /** @type {import('./api.js').SessionView} */ (result.body) : null;
  demo.render(session === null ? null : session.data);
  inspector.show(result, sentAt);
  if (result.status === 401) watch.end(endingFrom401(result.body));
  if (session !== null) watch.check(session.user);
}

async function showGreeting() {
  const result = await api('/api/me');
  if (result.status !== 200) {
    if (result.status === 401) watch.end(endingFrom401(result.body));
    return;
  }
  const me = /** @type {import('./api.js').Account} */ (result.body);
  watch.expect(me.username);
  // textContent, never innerHTML: a display name is whatever the user typed.
  $('greeting').textContent = `Hello, ${me.displayName || me.username}`;
  $('account-username').textContent = me.username;
  showTime($('account-created', HTMLTimeElement), me.createdAt);
  $('account-line').hidden = false;
}

$('inspector-refresh').addEventListener('click', refreshSession);
// The greeting first: it names the user the rest of the page is checked against.
await showGreeting();
await refreshSession();
