import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { PASSWORD, register } from '../support/client.ts';
import { fakeClock, T0 } from '../support/clock.ts';
import { startTestServer } from '../support/server.ts';
import type { TestServer } from '../support/server.ts';
import { addToCart, browserSkip, openPage, signUp } from './browser.ts';

// The moment a session ends under an open page, in a real Chromium: every
// kind of ending is named and explained, the signed-in parts disappear,
// and the page never carries on as a guest without saying so. Time moves
// on the server's fake clock, never by waiting.

const SECOND = 1000;
const IDLE_SECONDS = 60;
const ABSOLUTE_SECONDS = 3600;
const PHONE = { width: 390, height: 844 };
const NEW_PASSWORD = 'a brand new password';

async function clockedServer(t: Parameters<typeof startTestServer>[0], overrides = {}) {
  const clock = fakeClock(T0);
  const server = await startTestServer(
    t,
    { idleTimeoutMs: IDLE_SECONDS * SECOND, absoluteTimeoutMs: ABSOLUTE_SECONDS * SECOND, ...overrides },
    { clock: clock.clock },
  );
  return { server, advance: (ms: number) => clock.advance(ms) };
}

/** signedInDashboard registers `username` in the browser and waits until the dashboard greets them. */
async function signedInDashboard(page: Page, server: TestServer, username: string): Promise<void> {
  await signUp(page, server.url, username);
  await page.locator('#greeting', { hasText: `Hello, ${username}` }).waitFor();
  await page.locator('#session-id').waitFor();
}

/** assertEndedPage checks what every ending must show: its title and why, no signed-in parts, a way back in. */
async function assertEndedPage(page: Page, title: RegExp, why: RegExp, reason: string | null): Promise<void> {
  await page.locator('#session-ended').waitFor();
  assert.match((await page.locator('#session-ended-title').textContent()) ?? '', title);
  assert.match((await page.locator('#session-ended-why').textContent()) ?? '', why);
  for (const selector of ['form[action="/logout"]', '.site-nav a[href="/profile"]', '#account-line']) {
    assert.equal(await page.locator(selector).isVisible(), false, `${selector} must be gone once the session has ended`);
  }
  assert.equal(await page.locator('#greeting').textContent(), 'Your dashboard');
  const signIn = new URL((await page.locator('#session-ended-sign-in').getAttribute('href')) ?? '', 'http://x');
  assert.equal(signIn.pathname, '/login');
  assert.equal(signIn.searchParams.get('next'), '/dashboard');
  assert.equal(signIn.searchParams.get('reason'), reason);
}

/** changePasswordOnProfile changes the password with the profile page's form, in this browser. */
async function changePasswordOnProfile(page: Page, server: TestServer): Promise<void> {
  await page.goto(`${server.url}/profile`);
  await page.locator('#profile-line').waitFor();
  await page.fill('#current-password', PASSWORD);
  await page.fill('#new-password', NEW_PASSWORD);
  await page.fill('#confirm-password', NEW_PASSWORD);
  await page.click('#password-submit');
  await page.locator('#password-status', { hasText: 'Password changed' }).waitFor();
}

/** changePasswordElsewhere signs `username` in on another device and changes the password there. */
async function changePasswordElsewhere(server: TestServer, username: string): Promise<void> {
  const laptop = server.client();
  await laptop.json('POST', '/login', { username, password: PASSWORD });
  const changed = await laptop.json('POST', '/api/password', { currentPassword: PASSWORD, newPassword: NEW_PASSWORD });
  assert.equal(changed.status, 200);
}

describe('a session that ends under an open dashboard', () => {
  it('idle timeout: says so, and where the sign-in link leads the login page says it again', { skip: browserSkip }, async (t) => {
    const { server, advance } = await clockedServer(t);
    const page = await openPage(t);
    await signedInDashboard(page, server, 'dave');
    advance(IDLE_SECONDS * SECOND);
    await page.click('#inspector-refresh');
    await assertEndedPage(page, /expired: idle timeout/, /not used for 1 minute \(the idle timeout\)/, 'idle-timeout');
    await page.click('#session-ended-sign-in');
    await page.waitForURL(/\/login\?/);
    assert.match((await page.locator('#page-notice').textContent()) ?? '', /idle timeout/);
  });

  it('absolute timeout', { skip: browserSkip }, async (t) => {
    const { server, advance } = await clockedServer(t, { idleTimeoutMs: 2 * ABSOLUTE_SECONDS * SECOND });
    const page = await openPage(t);
    await signedInDashboard(page, server, 'dave');
    advance(ABSOLUTE_SECONDS * SECOND);
    await page.click('#inspector-refresh');
    await assertEndedPage(page, /expired: absolute timeout/, /began more than 1 hour ago/, 'absolute-timeout');
  });

  it('signed out in another tab', { skip: browserSkip }, async (t) => {
    const server = await startTestServer(t);
    const page = await openPage(t);
    await signedInDashboard(page, server, 'dave');
    const otherTab = await page.context().newPage();
    await otherTab.goto(`${server.url}/profile`);
    await otherTab.click('form[action="/logout"] button');
    await otherTab.waitForURL(/\/login\?reason=signed-out$/);
    await assertEndedPage(page, /You signed out/, /signed out in another tab/, 'signed-out');
  });

  it('password changed elsewhere', { skip: browserSkip }, async (t) => {
    const server = await startTestServer(t);
    const page = await openPage(t);
    await signedInDashboard(page, server, 'dave');
    await changePasswordElsewhere(server, 'dave');
    await page.click('#inspector-refresh');
    await assertEndedPage(page, /password changed/, /password of your account was changed/, 'password-changed');
  });

  it('account removed', { skip: browserSkip }, async (t) => {
    const server = await startTestServer(t);
    await register(server.client(), 'erin');
    const page = await openPage(t);
    await signedInDashboard(page, server, 'dave');
    const file = JSON.parse(await readFile(server.dirs.usersFile, 'utf8')) as { users: Array<{ username: string }> };
    await writeFile(server.dirs.usersFile, JSON.stringify({ ...file, users: file.users.filter((user) => user.username !== 'dave') }));
    await page.click('#inspector-refresh');
    await assertEndedPage(page, /account removed/, /account no longer exists/, 'account-removed');
  });

  it('says so when adding to the cart had to start a guest session, instead of carrying on as dave', { skip: browserSkip }, async (t) => {
    const { server, advance } = await clockedServer(t);
    const page = await openPage(t);
    await signedInDashboard(page, server, 'dave');
    advance(IDLE_SECONDS * SECOND);
    await addToCart(page, 'umbrella');
    await assertEndedPage(page, /idle timeout/, /idle timeout/, 'idle-timeout');
    assert.match((await page.locator('#session-ended-after').textContent()) ?? '', /item you added went into a new guest session/);
    await page.locator('#session-user', { hasText: 'guest' }).waitFor();
  });

  it('says the browser now belongs to another user when someone signs in as them in another tab', { skip: browserSkip }, async (t) => {
    const server = await startTestServer(t);
    await register(server.client(), 'erin');
    const page = await openPage(t);
    await signedInDashboard(page, server, 'dave');
    const otherTab = await page.context().newPage();
    await otherTab.goto(`${server.url}/dashboard`);
    await otherTab.click('form[action="/logout"] button');
    await otherTab.fill('#login-username', 'erin');
    await otherTab.fill('#login-password', PASSWORD);
    await otherTab.click('#login-submit');
    await otherTab.waitForURL(`${server.url}/dashboard`);
    // The first tab heard "signed out" from the other; what it finds next is erin's session.
    await assertEndedPage(page, /You signed out/, /another tab/, 'signed-out');
  });
});

describe('a session that ends under an open profile page', () => {
  it('says which ending it was when a save finds the session gone', { skip: browserSkip }, async (t) => {
    const server = await startTestServer(t);
    const page = await openPage(t);
    await signUp(page, server.url, 'dave');
    await page.goto(`${server.url}/profile`);
    await page.locator('#profile-line').waitFor();
    await changePasswordElsewhere(server, 'dave');
    await page.fill('#display-name-input', 'Dave');
    await page.click('#display-name-submit');
    await page.locator('#session-ended').waitFor();
    assert.match((await page.locator('#session-ended-title').textContent()) ?? '', /password changed/);
    assert.equal(await page.locator('#display-name-form').isVisible(), false);
    assert.equal(await page.locator('#password-form').isVisible(), false);
  });
});

describe('layout and the cart', () => {
  it(
    'never scrolls sideways at 390 px, with a 64-character cart item and a 64-character display name',
    { skip: browserSkip },
    async (t) => {
      const server = await startTestServer(t);
      const page = await openPage(t, { viewport: PHONE });
      const longWord = 'Wolfeschlegelsteinhausenbergerdorffwelchevoralternwarengewissenh';
      assert.equal(longWord.length, 64);
      await page.goto(`${server.url}/login`);
      await addToCart(page, longWord);
      await signedInDashboard(page, server, 'dave');
      await page.goto(`${server.url}/profile`);
      await page.locator('#profile-line').waitFor();
      await page.fill('#display-name-input', longWord);
      await page.click('#display-name-submit');
      await page.locator('#display-name-status', { hasText: 'Saved' }).waitFor();
      for (const path of ['/profile', '/dashboard', '/login?next=%2Fdashboard']) {
        await page.goto(`${server.url}${path}`);
        await page.locator('#main').waitFor();
        if (path === '/dashboard') await page.locator('#session-stored').waitFor();
        // A string, because this file is type-checked without DOM types.
        const [scrollWidth, clientWidth] = await page.evaluate<[number, number]>(
          '[document.documentElement.scrollWidth, document.documentElement.clientWidth]',
        );
        assert.ok(scrollWidth <= clientWidth, `${path} is ${scrollWidth} px wide in a ${clientWidth} px window`);
      }
    },
  );

  it('removes one cart item at a time', { skip: browserSkip }, async (t) => {
    const server = await startTestServer(t);
    const page = await openPage(t);
    await page.goto(`${server.url}/login`);
    for (const item of ['umbrella', 'scarf', 'gloves']) await addToCart(page, item);
    await page.click('button[aria-label="Remove “scarf”"]');
    await page.locator('#guest-demo-status', { hasText: 'Removed “scarf”' }).waitFor();
    assert.deepEqual(await page.locator('#cart-list li > span').allTextContents(), ['umbrella', 'gloves']);
  });
});

describe('the inspector explains what it shows at the moment it applies', () => {
  it('labels the generation and what raised it after a password change', { skip: browserSkip }, async (t) => {
    const server = await startTestServer(t);
    const page = await openPage(t);
    await signedInDashboard(page, server, 'dave');
    assert.equal(await page.locator('#session-generation').textContent(), '0');
    await changePasswordOnProfile(page, server);
    assert.match((await page.locator('#generation-explainer').textContent()) ?? '', /generation/);
    await page.goto(`${server.url}/dashboard`);
    await page.locator('#session-generation', { hasText: '1' }).waitFor();
    assert.match((await page.locator('#session-generation-why').textContent()) ?? '', /Raised to 1 when you changed your password/);
  });

  it('describes the latest rotation and its cause, after a second one', { skip: browserSkip }, async (t) => {
    const server = await startTestServer(t);
    const page = await openPage(t);
    await page.goto(`${server.url}/login`);
    await addToCart(page, 'umbrella');
    await signedInDashboard(page, server, 'dave');
    assert.match((await page.locator('#rotation-text').textContent()) ?? '', /^When you registered/);

    await changePasswordOnProfile(page, server);
    await page.goto(`${server.url}/dashboard`);
    await page.locator('#session-id').waitFor();
    const shown = (await page.locator('#session-id').textContent()) ?? '';
    const banner = (await page.locator('#rotation-text').textContent()) ?? '';
    assert.match(banner, /^When you changed your password, the server gave this session a new ID/);
    assert.ok(banner.includes(`now ${shown}`), `the banner names the ID the Value row shows (${shown}): ${banner}`);
    assert.match(banner, /replaced 2 times in all/);
  });
});
