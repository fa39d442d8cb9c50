import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startTestServer } from '../support/server.ts';
import { browserSkip, openPage, unlabelledControls, watchForProblems } from './browser.ts';

// The lab page in a real Chromium: a student switches a defence off, runs
// its attack with "Try it", sees it work, switches it back on and sees the
// same attack stopped. Every wait is for something the page shows.

describe('the lab in a real browser', () => {
  it(
    'switch rotate-on-sign-in off, try the fixation: it works; switch it on, try again: it is stopped',
    { skip: browserSkip },
    async (t) => {
      const server = await startTestServer(t, {}, { lab: true });
      const page = await openPage(t);
      const problems = await watchForProblems(page);
      await page.goto(`${server.url}/lab`);
      await page.locator('.lab-banner', { hasText: 'Lab mode: defences can be switched off' }).waitFor();

      const toggle = page.locator('#switch-rotate-on-sign-in');
      const state = page.locator('#state-rotate-on-sign-in');
      const verdict = page.locator('#verdict-rotate-on-sign-in');
      await state.filter({ hasText: 'is on' }).waitFor();
      assert.equal(await toggle.isChecked(), true, 'every switch starts on');

      await toggle.uncheck();
      await state.filter({ hasText: 'is OFF' }).waitFor();
      assert.equal(server.app.defences['rotate-on-sign-in'], false);
      await page.click('#try-rotate-on-sign-in');
      await verdict.filter({ hasText: 'the attack worked' }).waitFor();
      const steps = await page.locator('#steps-rotate-on-sign-in li').allTextContents();
      assert.ok(
        steps.some((step) => step.includes('the planted ID')),
        steps.join('\n'),
      );

      await toggle.check();
      await state.filter({ hasText: 'is on' }).waitFor();
      await page.click('#try-rotate-on-sign-in');
      await verdict.filter({ hasText: 'the attack was stopped by rotate-on-sign-in' }).waitFor();

      const site = page.locator('#site-rotate-on-sign-in');
      assert.match((await site.textContent()) ?? '', /^lib\/sessions\/session\.ts:\d+$/);
      assert.match(
        (await page.locator('#lesson-rotate-on-sign-in .code-line.marked').textContent()) ?? '',
        /defences\['rotate-on-sign-in'\]/,
      );

      assert.deepEqual(await unlabelledControls(page), []);
      assert.equal(await page.locator('h1').count(), 1);
      assert.deepEqual([...problems.consoleErrors, ...problems.pageErrors, ...(await problems.readCspViolations())], []);
    },
  );
});
