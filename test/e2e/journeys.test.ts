import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { register } from '../support/client.ts';
import { startTestServer } from '../support/server.ts';
import { addToCart, browserSkip, openPage, PASSWORD, signUp, unlabelledControls, watchForProblems } from './browser.ts';

// The journeys of a person using Cloakroom, in headless Chromium against the
// real app on port 0. Each test starts its own server and browser, so no
// cookie, cache entry or throttle count leaks from one journey to the next.
// Nothing waits for a span of time: every wait is for something the page
// shows (an element, a class, a URL).

/** The inspector shows "abc123…": the first 6 characters of the ID and an ellipsis, never more. */
const ID_PREFIX = /^[A-Za-z0-9_-]{6}…$/;
/** The server's message on the login page, in the sign-in card (the guest demo has an alert of its own). */
const SIGN_IN_ERROR = 'section[aria-labelledby="login-title"] [role="alert"]';

/**
 * submitSignIn sends the login form and waits for the page that answers
 * it; it returns the status of the POST itself (303 on the way to the
 * next page, or the status of a page sent in its place, such as 429).
 */
async function submitSignIn(page: Page, username: string, password: string): Promise<number> {
  await page.fill('#login-username', username);
  await page.fill('#login-password', password);
  const answered = page.waitForResponse(
    (response) => response.request().method() === 'POST' && new URL(response.url()).pathname === '/login',
  );
  const arrived = page.waitForEvent('load');
  await page.click('#login-submit');
  const [response] = await Promise.all([answered, arrived]);
  return response.status();
}

/** assertOnLoginPage checks that `page` shows the login form and nothing of the dashboard. */
async function assertOnLoginPage(page: Page, how: string): Promise<void> {
  assert.equal(new URL(page.url()).pathname, '/login', `${how} should land on /login, not ${page.url()}`);
  assert.equal(await page.locator('#login-form').isVisible(), true, `${how} should show the login form`);
  assert.equal(await page.locator('#inspector').count(), 0, `${how} should show nothing of the dashboard`);
}

// The skip is on each test, not on the describe: node:test counts the tests of
// a skipped describe as nothing at all, and the summary must say what was skipped.
describe('Cloakroom in a real browser', () => {
  it(
    'keeps a guest cart and theme through registration while the session ID is replaced and stays hidden from scripts',
    { skip: browserSkip },
    async (t) => {
      const server = await startTestServer(t);
      const page = await openPage(t);
      await page.goto(`${server.url}/login`);

      await addToCart(page, 'umbrella');
      await addToCart(page, 'scarf');
      await page.click('#theme-dark');
      await page.locator('#theme-dark[aria-pressed="true"]').waitFor();
      assert.equal(await page.locator('html').getAttribute('data-theme'), 'dark');
      await page.locator('#session-status', { hasText: 'Guest session' }).waitFor();
      const guestPrefix = await page.locator('#session-status-id').textContent();
      assert.match(guestPrefix ?? '', ID_PREFIX);

      await page.click('.site-nav a[href="/register"]');
      assert.equal(await page.locator('html').getAttribute('data-theme'), 'dark', 'the register page is drawn in the guest theme');
      await page.fill('#register-username', 'alice');
      await page.fill('#register-password', PASSWORD);
      await page.click('#register-submit');
      await page.waitForURL(`${server.url}/dashboard`);

      await page.locator('#cart-list li').nth(1).waitFor();
      assert.deepEqual(await page.locator('#cart-list li > span').allTextContents(), ['umbrella', 'scarf']);
      assert.equal(await page.locator('html').getAttribute('data-theme'), 'dark');

      await page.locator('#session-id').waitFor();
      const signedInPrefix = await page.locator('#session-id').textContent();
      assert.match(signedInPrefix ?? '', ID_PREFIX);
      assert.notEqual(signedInPrefix, guestPrefix, 'signing in must replace the session ID');
      assert.equal(await page.locator('#rotation-callout').isVisible(), true);
      const events = await page.locator('#session-events li').allTextContents();
      assert.ok(
        events.some((event) => event.includes('ID replaced')),
        `events: ${JSON.stringify(events)}`,
      );

      const visibleCookies: unknown = await page.evaluate('document.cookie');
      assert.equal(typeof visibleCookies, 'string');
      assert.ok(!String(visibleCookies).includes('sid='), `document.cookie exposed the session: ${String(visibleCookies)}`);
      assert.match(await page.locator('#document-cookie-verdict').innerText(), /is not in it/);
    },
  );

  it('shows the login page, not a cached dashboard, when going Back or reloading after sign-out', { skip: browserSkip }, async (t) => {
    const server = await startTestServer(t);
    const page = await openPage(t);
    await signUp(page, server.url, 'bob');
    await page.locator('#greeting', { hasText: 'Hello, bob' }).waitFor();

    await page.click('form[action="/logout"] button');
    await page.waitForURL(`${server.url}/login?reason=signed-out`);

    // A page restored from the back/forward cache fires no load event, so wait
    // for whichever page appears: the login form, or the dashboard's inspector.
    await page.goBack({ waitUntil: 'commit' });
    await page.locator('#login-form, #inspector').first().waitFor();
    await assertOnLoginPage(page, 'Back after sign-out');

    await page.goto(`${server.url}/dashboard`);
    await assertOnLoginPage(page, 'opening /dashboard after sign-out');
    await page.reload();
    await assertOnLoginPage(page, 'reloading after sign-out');
  });

  it('explains a wrong password, and says how long to wait once the account is locked', { skip: browserSkip }, async (t) => {
    const server = await startTestServer(t);
    await register(server.client(), 'carol', PASSWORD);
    const page = await openPage(t);
    await page.goto(`${server.url}/login`);

    assert.equal(await submitSignIn(page, 'carol', 'not my password'), 303);
    assert.match(await page.locator(SIGN_IN_ERROR).innerText(), /username and password do not match/);

    // After ACCOUNT_FAILURE_LIMIT (5) failures for one account, further attempts get 429 (lib/auth/throttle.ts).
    const statuses: number[] = [];
    for (let attempt = 2; attempt <= 6; attempt += 1) {
      statuses.push(await submitSignIn(page, 'carol', `wrong guess ${attempt}`));
    }
    assert.deepEqual(statuses, [303, 303, 303, 303, 429]);
    assert.match(await page.locator(SIGN_IN_ERROR).innerText(), /try again in 15 minutes/i);
    assert.equal(await page.locator('#login-form').isVisible(), true, 'the form is still there to try again with');
  });

  it(
    'shows a display name full of markup as text on the dashboard and the profile, and runs none of it',
    { skip: browserSkip },
    async (t) => {
      const markup = '<img src=x onerror=alert(1)>';
      const server = await startTestServer(t);
      const page = await openPage(t);
      const dialogs: string[] = [];
      page.on('dialog', (dialog) => {
        dialogs.push(dialog.message());
        void dialog.dismiss();
      });
      await signUp(page, server.url, 'dave');

      await page.goto(`${server.url}/profile`);
      // The page fills the field from /api/me; typing before that would be overwritten.
      await page.locator('#profile-display-name', { hasText: 'dave' }).waitFor();
      await page.fill('#display-name-input', markup);
      await page.click('#display-name-submit');
      await page.locator('#display-name-status', { hasText: 'Saved' }).waitFor();

      await page.goto(`${server.url}/dashboard`);
      await page.locator('#account-line').waitFor();
      assert.equal(await page.locator('#greeting').textContent(), `Hello, ${markup}`);
      assert.equal(await page.locator('#greeting img').count(), 0);

      await page.goto(`${server.url}/profile`);
      await page.locator('#profile-line').waitFor();
      assert.equal(await page.locator('#profile-display-name').textContent(), markup);
      assert.equal(await page.locator('#profile-line img').count(), 0);
      assert.deepEqual(dialogs, []);
    },
  );

  it('counts the idle timeout down to zero, after which the next page is the login page', { skip: browserSkip }, async (t) => {
    const idleTimeoutMs = 3000;
    const server = await startTestServer(t, { idleTimeoutMs });
    const page = await openPage(t);
    await signUp(page, server.url, 'erin');

    const countdown = page.locator('#idle-countdown');
    await page.locator('#idle-countdown', { hasText: 'left' }).waitFor();
    // Generous, for a loaded CI machine; the wait ends as soon as the class appears.
    const patienceMs = 10 * idleTimeoutMs;
    await page.locator('#idle-countdown.is-expired').waitFor({ timeout: patienceMs });
    assert.match(await countdown.innerText(), /expired/);

    await page.goto(`${server.url}/dashboard`);
    await assertOnLoginPage(page, 'opening /dashboard after the idle timeout');
  });

  it(
    'loads every page without console errors or CSP violations, with labelled inputs, images with alt text and one h1',
    { skip: browserSkip },
    async (t) => {
      const server = await startTestServer(t);
      const page = await openPage(t);
      const problems = await watchForProblems(page);

      const checkPage = async (pathname: string): Promise<void> => {
        // networkidle: the page's own scripts have finished their requests, so their errors would have shown.
        await page.goto(`${server.url}${pathname}`, { waitUntil: 'networkidle' });
        assert.equal(new URL(page.url()).pathname, pathname);
        assert.deepEqual(await problems.readCspViolations(), [], `CSP violations on ${pathname}`);
        assert.deepEqual(await unlabelledControls(page), [], `inputs without a label on ${pathname}`);
        assert.equal(await page.locator('img:not([alt])').count(), 0, `images without alt on ${pathname}`);
        assert.equal(await page.locator('h1').count(), 1, `h1 elements on ${pathname}`);
      };

      await checkPage('/login');
      await checkPage('/register');
      await signUp(page, server.url, 'frank');
      await checkPage('/dashboard');
      await checkPage('/profile');

      assert.deepEqual(problems.consoleErrors, []);
      assert.deepEqual(problems.pageErrors, []);
    },
  );
});
