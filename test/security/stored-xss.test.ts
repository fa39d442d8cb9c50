import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { PUBLIC_DIR } from '../../lib/static-files.ts';
import { PASSWORD, register } from '../support/client.ts';
import { bodyOf, cartOf, sessionView } from '../support/json.ts';
import { startTestServer } from '../support/server.ts';

const PAYLOAD = '<img src=x onerror=alert(1)>';
const SCRIPT_PAYLOAD = '"><script>alert(1)</script>';

/** Browser APIs that parse a string as HTML or code: user text must never reach one. */
const HTML_SINKS = [
  /\binnerHTML\b/,
  /\bouterHTML\b/,
  /\binsertAdjacentHTML\b/,
  /\bdocument\.write(ln)?\b/,
  /\beval\s*\(/,
  /\bnew\s+Function\s*\(/,
  /\bsrcdoc\b/,
];

/** withoutComments drops JavaScript comments, which may name the sinks to explain why they are avoided. */
function withoutComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

async function publicFiles(extension: string): Promise<string[]> {
  const entries = await readdir(PUBLIC_DIR, { recursive: true });
  return entries.filter((name) => name.endsWith(extension)).map((name) => path.join(PUBLIC_DIR, name));
}

describe('stored XSS: text users type stays text', () => {
  it('returns a display name of <img src=x onerror=alert(1)> from the API as exact JSON text, and no page embeds it', async (t) => {
    const server = await startTestServer(t);
    const browser = server.client();
    await register(browser, 'alice', PASSWORD);
    const saved = await browser.json('PATCH', '/api/profile', { displayName: PAYLOAD });
    assert.equal(saved.status, 200);
    assert.equal(bodyOf(saved).displayName, PAYLOAD);

    const me = await browser.get('/api/me');
    assert.equal(bodyOf(me).displayName, PAYLOAD);
    assert.match(me.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(me.headers.get('x-content-type-options'), 'nosniff', 'a browser never sniffs the JSON into HTML');
    for (const page of ['/dashboard', '/profile']) {
      const html = await browser.get(page);
      assert.equal(html.status, 200);
      assert.ok(!html.text.includes('<img src=x'), `${page} embeds the display name as markup`);
    }
  });

  it('returns a cart item of <img src=x onerror=alert(1)> as exact JSON text, and no page embeds it', async (t) => {
    const server = await startTestServer(t);
    const browser = server.client();
    assert.deepEqual(cartOf(await browser.json('POST', '/api/cart', { item: PAYLOAD })), [PAYLOAD]);
    assert.deepEqual(sessionView(await browser.get('/api/session')).data.cart, [PAYLOAD]);
    await register(browser, 'bob', PASSWORD);
    assert.deepEqual(sessionView(await browser.get('/api/session')).data.cart, [PAYLOAD]);
    for (const page of ['/dashboard', '/profile']) {
      assert.ok(!(await browser.get(page)).text.includes('<img src=x'), `${page} embeds the cart item as markup`);
    }
  });

  it('lets nothing from the URL reach a page as markup (reflected XSS)', async (t) => {
    const server = await startTestServer(t);
    const query = new URLSearchParams({ error: SCRIPT_PAYLOAD, next: `/${SCRIPT_PAYLOAD}` });
    for (const page of ['/login', '/register']) {
      const html = (await server.client().get(`${page}?${query.toString()}`)).text;
      assert.ok(!html.includes('<script>alert'), `${page} reflects markup`);
      assert.ok(!html.includes(SCRIPT_PAYLOAD), `${page} lets a quote break out of an attribute`);
    }
    for (const error of ['__proto__', 'toString', 'constructor']) {
      const html = await server.client().get(`/login?error=${error}`);
      assert.equal(html.status, 200);
      assert.ok(!html.text.includes('[object') && !html.text.includes('function'), `?error=${error} reached the page`);
    }
  });

  it('has no script in public/ that writes HTML from a string', async () => {
    const scripts = await publicFiles('.js');
    assert.ok(scripts.length > 0);
    for (const file of scripts) {
      const code = withoutComments(await readFile(file, 'utf8'));
      for (const sink of HTML_SINKS) assert.doesNotMatch(code, sink, `${path.relative(PUBLIC_DIR, file)} uses ${sink.source}`);
    }
  });

  it('has no page template in public/ with inline script, inline event handlers or javascript: URLs', async () => {
    const pages = await publicFiles('.html');
    assert.ok(pages.length > 0);
    for (const file of pages) {
      const html = await readFile(file, 'utf8');
      const name = path.relative(PUBLIC_DIR, file);
      for (const tag of html.match(/<script\b[^>]*>/gi) ?? []) assert.match(tag, /\bsrc=/, `${name} has an inline <script>`);
      assert.doesNotMatch(html, /<[^>]+\son[a-z]+\s*=/i, `${name} has an inline event handler`);
      assert.doesNotMatch(html, /javascript:/i, `${name} has a javascript: URL`);
      for (const sink of HTML_SINKS) assert.doesNotMatch(html, sink, `${name} uses ${sink.source}`);
    }
  });
});
