import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { chromium } from 'playwright-core';
import type { BrowserContextOptions, Page } from 'playwright-core';

/** DEFAULT_CHROMIUM_PATH is where Debian's `chromium` package puts the browser. */
const DEFAULT_CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * CHROMIUM_PATH is the browser the tests drive: the CHROMIUM_PATH variable
 * when it is set (any Chromium or Chrome, on any system), else Debian's.
 * playwright-core drives it as it is and never downloads a browser of its own.
 */
export const CHROMIUM_PATH = nonEmpty(process.env.CHROMIUM_PATH) ?? DEFAULT_CHROMIUM_PATH;

/** REQUIRE_BROWSER_VARIABLE: set to 1 (as .ci/run does) and a missing Chromium fails the tests instead of skipping them. */
export const REQUIRE_BROWSER_VARIABLE = 'CLOAKROOM_REQUIRE_BROWSER';

/** SKIP_REASON is what the test runner's summary shows beside each skipped browser test. */
const SKIP_REASON = `${CHROMIUM_PATH} not found: install Chromium (apt-get install -y chromium) or name one with CHROMIUM_PATH`;

// Headless without the parts of Chromium that phone home or need a display
// or a setuid sandbox (CI runs as root in a container). Playwright gives each
// launch a fresh, temporary profile.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
];

const browserRequired = process.env[REQUIRE_BROWSER_VARIABLE] === '1';

/**
 * browserSkip is the `skip` option for every browser test: false when the
 * tests must run, else the reason they cannot. Without Chromium the tests are
 * skipped, and counted as skipped in the runner's summary, unless
 * CLOAKROOM_REQUIRE_BROWSER=1, when they run and fail in `openPage`, so CI
 * can never pass without them.
 */
export const browserSkip: string | false = existsSync(CHROMIUM_PATH) || browserRequired ? false : SKIP_REASON;

/**
 * openPage launches headless Chromium for test `t` and returns a page in a
 * fresh browser context (no cookies, no cache). The browser is closed when
 * `t` ends, whether it passed or not.
 */
export async function openPage(t: TestContext, options: BrowserContextOptions = {}): Promise<Page> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`${SKIP_REASON} (the browser is required here)`);
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    // Playwright turns the back/forward cache off by default; people's browsers
    // have it on, and it is what could show a signed-in page again after sign-out.
    ignoreDefaultArgs: ['--disable-back-forward-cache'],
  });
  t.after(() => browser.close());
  const context = await browser.newContext(options);
  return context.newPage();
}

/** PageProblems are what a page reported while it was open: console errors, uncaught exceptions, CSP violations. */
export interface PageProblems {
  consoleErrors: string[];
  pageErrors: string[];
  /** cspViolations come from the page's own securitypolicyviolation events; read them with `readCspViolations`. */
  readCspViolations(): Promise<string[]>;
}

// Runs in the page before any of its scripts, so even a violation during
// parsing is caught. A string, because this file is type-checked without DOM types.
const COLLECT_CSP_VIOLATIONS = `
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (event) => {
    window.__cspViolations.push(event.violatedDirective + ' blocked ' + (event.blockedURI || 'inline code'));
  });
`;

/**
 * watchForProblems starts recording everything that would show up red in
 * the developer tools of `page`. Call it before the first navigation.
 */
export async function watchForProblems(page: Page): Promise<PageProblems> {
  const consoleErrors: string[] = [];
  const pageErrors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(`${page.url()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => pageErrors.push(`${page.url()}: ${error.message}`));
  await page.addInitScript(COLLECT_CSP_VIOLATIONS);
  return {
    consoleErrors,
    pageErrors,
    readCspViolations: async () => {
      const violations: unknown = await page.evaluate('window.__cspViolations');
      return Array.isArray(violations) ? violations.map((violation) => `${page.url()}: ${String(violation)}`) : [];
    },
  };
}

/**
 * unlabelledControls lists the form controls on `page` that a screen reader
 * could not name: not hidden inputs, and without a <label for>, a wrapping
 * <label>, aria-label or aria-labelledby. An empty list passes.
 */
export async function unlabelledControls(page: Page): Promise<string[]> {
  const controls = page.locator('input:not([type="hidden"]), select, textarea');
  const unlabelled: string[] = [];
  for (const control of await controls.all()) {
    const id = await control.getAttribute('id');
    const ariaLabel = (await control.getAttribute('aria-label'))?.trim() ?? '';
    const labelledBy = (await control.getAttribute('aria-labelledby'))?.trim() ?? '';
    const forLabels = id === null ? 0 : await page.locator(`label[for="${id}"]`).count();
    const wrappingLabels = await control.locator('xpath=ancestor::label').count();
    if (ariaLabel === '' && labelledBy === '' && forLabels === 0 && wrappingLabels === 0) {
      unlabelled.push(await control.evaluate((element: { outerHTML: string }) => element.outerHTML));
    }
  }
  return unlabelled;
}

/** PASSWORD is the password of every account the browser journeys create. */
export const PASSWORD = 'correct horse battery';

/** signUp registers `username` through the register page's form and waits for the dashboard it leads to. */
export async function signUp(page: Page, baseUrl: string, username: string): Promise<void> {
  await page.goto(`${baseUrl}/register`);
  await page.fill('#register-username', username);
  await page.fill('#register-password', PASSWORD);
  await page.click('#register-submit');
  await page.waitForURL(`${baseUrl}/dashboard`);
}

/** addToCart puts `item` in the cart with the guest demo's form and waits until the list shows it. */
export async function addToCart(page: Page, item: string): Promise<void> {
  await page.fill('#cart-item', item);
  await page.click('#cart-add');
  await page.locator('#cart-list').getByText(item, { exact: true }).waitFor();
}

// An empty variable counts as unset, as in a shell's `${CHROMIUM_PATH:-…}`.
function nonEmpty(value: string | undefined): string | undefined {
  return value === '' ? undefined : value;
}
