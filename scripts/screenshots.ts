// npm run screenshots: draws the README's pictures into docs/ with the same
// browser and helpers as the browser tests (test/e2e/browser.ts). It runs
// under node:test, so the server and the browser are closed however it ends
// and a page that does not look as expected fails like a test. It is not
// part of `npm test`, which must leave the work tree as it found it.
// Unlike the tests, it fails when Chromium is missing: drawing is what was asked.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { addToCart, openPage, signUp } from '../test/e2e/browser.ts';
import { startTestServer } from '../test/support/server.ts';

const DOCS_DIR = fileURLToPath(new URL('../docs/', import.meta.url));
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

/** pngSize reads the width and height from a PNG's header (the IHDR chunk, right after the 8-byte signature). */
function pngSize(png: Buffer): { width: number; height: number } {
  const IHDR_WIDTH_OFFSET = 16;
  return { width: png.readUInt32BE(IHDR_WIDTH_OFFSET), height: png.readUInt32BE(IHDR_WIDTH_OFFSET + 4) };
}

it('draws the login page, a lived-in dashboard, its session inspector and an ended session at desktop and phone sizes into docs/', async (t) => {
  // Real time, plus however far the drawing has jumped ahead to end a session.
  let ahead = 0;
  const server = await startTestServer(t, {}, { clock: () => Date.now() + ahead });
  // A fixed locale and time zone, so the times on the page read the same whoever runs the tests.
  const page = await openPage(t, { viewport: DESKTOP, locale: 'en-US', timezoneId: 'UTC' });
  await mkdir(DOCS_DIR, { recursive: true });

  const shoot = async (name: string): Promise<void> => {
    for (const [size, viewport] of [
      ['desktop', DESKTOP],
      ['phone', PHONE],
    ] as const) {
      await page.setViewportSize(viewport);
      const png = await page.screenshot({ path: `${DOCS_DIR}${name}-${size}.png`, animations: 'disabled' });
      assert.deepEqual(pngSize(png), viewport, `${name}-${size}.png`);
    }
  };

  await page.goto(`${server.url}/login`, { waitUntil: 'networkidle' });
  await page.locator('#session-status', { hasText: 'No session yet' }).waitFor();
  await shoot('login');

  await page.setViewportSize(DESKTOP);
  await addToCart(page, 'umbrella');
  await addToCart(page, 'scarf');
  await page.locator('#session-status-id').waitFor();
  await signUp(page, server.url, 'alice');
  await page.locator('#greeting', { hasText: 'Hello, alice' }).waitFor();
  await page.locator('#rotation-callout').waitFor();
  await page.locator('#idle-countdown', { hasText: 'left' }).waitFor();
  await shoot('dashboard');

  // The inspector, the heart of the dashboard, scrolled to the top of the window.
  await page.setViewportSize(DESKTOP);
  // A string, because this file is type-checked without DOM types.
  await page.evaluate("document.querySelector('#inspector').scrollIntoView({ block: 'start' })");
  const png = await page.screenshot({ path: `${DOCS_DIR}inspector-desktop.png`, animations: 'disabled' });
  assert.deepEqual(pngSize(png), DESKTOP, 'inspector-desktop.png');

  // The moment the app exists for: the idle timeout passes under the open dashboard, and Refresh finds out.
  ahead = server.app.services.config.idleTimeoutMs;
  await page.click('#inspector-refresh');
  await page.locator('#session-ended').waitFor();
  await page.evaluate('window.scrollTo(0, 0)');
  await shoot('ended');
});

it('draws the lab: the fixation lesson with its defence switched off and the attack just run', async (t) => {
  const server = await startTestServer(t, {}, { lab: true });
  const page = await openPage(t, { viewport: DESKTOP, locale: 'en-US', timezoneId: 'UTC' });
  await mkdir(DOCS_DIR, { recursive: true });
  await page.goto(`${server.url}/lab`, { waitUntil: 'networkidle' });
  await page.locator('#state-rotate-on-sign-in', { hasText: 'is on' }).waitFor();
  await page.locator('#switch-rotate-on-sign-in').uncheck();
  await page.locator('#state-rotate-on-sign-in', { hasText: 'is OFF' }).waitFor();
  await page.click('#try-rotate-on-sign-in');
  await page.locator('#verdict-rotate-on-sign-in', { hasText: 'the attack worked' }).waitFor();
  // The lesson from its switch to its code, under the banner that stays at the top. A string, because this file is type-checked without DOM types.
  await page.evaluate(
    "window.scrollTo(0, document.querySelector('#lesson-rotate-on-sign-in .switch').getBoundingClientRect().top + window.scrollY - 150)",
  );
  const png = await page.screenshot({ path: `${DOCS_DIR}lab-desktop.png`, animations: 'disabled' });
  assert.deepEqual(pngSize(png), DESKTOP, 'lab-desktop.png');
});
