import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startTestServer } from '../support/server.ts';
import { browserSkip, openPage, PASSWORD, signUp, unlabelledControls, watchForProblems } from './browser.ts';

// The devices page in headless Chromium: two browsers signed in as one
// user, one ends the other, and the other finds out at its next request,
// told that it was signed out from another device.

describe('Your devices in a real browser', () => {
  it('signs in on two browsers, signs one out from the other, and tells the signed-out one', { skip: browserSkip }, async (t) => {
    const server = await startTestServer(t);
    const laptop = await openPage(t, { userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0' });
    const phone = await openPage(t, {
      userAgent:
        'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
    });
    const problems = await watchForProblems(phone);
    await signUp(laptop, server.url, 'alice');

    await phone.goto(`${server.url}/devices`);
    await phone.waitForURL(`${server.url}/login?next=%2Fdevices`);
    await phone.fill('#login-username', 'alice');
    await phone.fill('#login-password', PASSWORD);
    await phone.click('#login-submit');
    await phone.waitForURL(`${server.url}/devices`);

    const items = phone.locator('#sessions-list li');
    await items.nth(1).waitFor();
    assert.deepEqual((await items.locator('strong').allTextContents()).sort(), ['Firefox on Linux', 'Safari on iOS (this device)']);
    assert.equal(await items.locator('button').count(), 1, 'only the other session has a Sign out button');
    assert.deepEqual(await unlabelledControls(phone), []);

    await items
      .filter({ hasText: 'Firefox on Linux' })
      .getByRole('button', { name: /Sign out Firefox on Linux/ })
      .click();
    await phone.locator('#sessions-status', { hasText: 'Firefox on Linux is signed out' }).waitFor();
    await phone.locator('#sessions-list li').nth(1).waitFor({ state: 'detached' });
    assert.deepEqual(await phone.locator('#sessions-list li strong').allTextContents(), ['Safari on iOS (this device)']);

    // The laptop still shows its dashboard; its next request to the server finds no session, and says why.
    await laptop.click('#inspector-refresh');
    await laptop.locator('#session-ended').waitFor();
    assert.equal(await laptop.locator('#session-ended-title').textContent(), 'You were signed out from another device');
    assert.match((await laptop.locator('#session-ended-why').textContent()) ?? '', /ended this one on its devices page/);
    assert.equal(await laptop.locator('form[action="/logout"]').isVisible(), false, 'nothing signed-in is left on the page');
    await laptop.reload();
    await laptop.waitForURL(`${server.url}/login?next=%2Fdashboard&reason=revoked`);
    assert.match((await laptop.locator('#page-notice').textContent()) ?? '', /^You were signed out from another device/);

    assert.deepEqual([...problems.consoleErrors, ...problems.pageErrors, ...(await problems.readCspViolations())], []);
  });

  it('signs every other session out after the password, and keeps this one', { skip: browserSkip }, async (t) => {
    const server = await startTestServer(t);
    const page = await openPage(t);
    await signUp(page, server.url, 'bob');
    const other = server.client();
    await other.json('POST', '/login', { username: 'bob', password: PASSWORD });
    await page.goto(`${server.url}/devices`);
    await page.locator('#sessions-list li').nth(1).waitFor();

    await page.fill('#revoke-others-password', 'not the password');
    await page.click('#revoke-others-submit');
    await page.locator('#revoke-others-error', { hasText: 'not your current password' }).waitFor();
    assert.equal((await other.get('/api/me')).status, 200);

    await page.fill('#revoke-others-password', PASSWORD);
    await page.click('#revoke-others-submit');
    await page.locator('#revoke-others-status', { hasText: 'Every other session of yours has ended' }).waitFor();
    await page.locator('#sessions-list li').nth(1).waitFor({ state: 'detached' });
    assert.equal((await other.get('/api/me')).status, 401);
  });
});
