import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ERROR_MESSAGES, escapeHtml, PAGE_NAMES, Pages } from '../../lib/pages.ts';
import { MAX_CART_ITEM_LENGTH, MAX_CART_ITEMS } from '../../lib/sessions/record.ts';
import { PUBLIC_DIR } from '../../lib/static-files.ts';
import { makeDirs } from '../support/server.ts';

const TEMPLATE =
  '<html data-theme="{{theme}}" data-session="{{session}}">{{error}}<input name="next" value="{{next}}"><i>{{theme}}</i></html>';

async function pagesFrom(t: Parameters<typeof makeDirs>[0]): Promise<Pages> {
  const { root } = await makeDirs(t);
  const dir = path.join(root, 'public');
  await mkdir(dir);
  for (const name of PAGE_NAMES) await writeFile(path.join(dir, `${name}.html`), TEMPLATE.replace('<i>', `<i id="${name}">`));
  return new Pages(dir);
}

describe('Pages', () => {
  it('puts a shared partial in place of {{> name}} once, at start-up', async (t) => {
    const { root } = await makeDirs(t);
    const dir = path.join(root, 'public');
    await mkdir(path.join(dir, 'partials'), { recursive: true });
    await writeFile(path.join(dir, 'partials', 'shared-block.html'), '<section>{{theme}} block</section>\n');
    for (const name of PAGE_NAMES) await writeFile(path.join(dir, `${name}.html`), '<main>{{> shared-block}}</main>');
    assert.equal(new Pages(dir).render('login', { theme: 'dark', session: false }), '<main><section>dark block</section></main>');
  });

  it('fills every placeholder: theme (each occurrence), session, error and next', async (t) => {
    const pages = await pagesFrom(t);
    assert.equal(
      pages.render('login', { theme: 'dark', session: true, error: 'invalid', next: '/profile' }),
      `<html data-theme="dark" data-session="yes"><p id="page-error" class="form-error" role="alert">${ERROR_MESSAGES.invalid}</p><input name="next" value="/profile"><i id="login">dark</i></html>`,
    );
  });

  it('renders the page it is asked for', async (t) => {
    const pages = await pagesFrom(t);
    assert.match(pages.render('profile', { theme: 'light', session: false }), /id="profile"/);
    assert.match(pages.render('register', { theme: 'light', session: false }), /id="register"/);
  });

  it('renders nothing for a missing or null error and an absent next', async (t) => {
    const pages = await pagesFrom(t);
    const expected = '<html data-theme="light" data-session="no"><input name="next" value=""><i id="dashboard">light</i></html>';
    assert.equal(pages.render('dashboard', { theme: 'light', session: false }), expected);
    assert.equal(pages.render('dashboard', { theme: 'light', session: false, error: null }), expected);
  });

  it('renders nothing for an unknown error code, so the URL cannot put its own text on the page', async (t) => {
    const pages = await pagesFrom(t);
    const html = pages.render('login', { theme: 'light', session: false, error: '<script>alert(1)</script>' });
    assert.doesNotMatch(html, /script|form-error/);
    for (const inherited of ['toString', '__proto__', 'constructor']) {
      assert.doesNotMatch(pages.render('login', { theme: 'light', session: false, error: inherited }), /form-error/, inherited);
    }
  });

  it('shows each known error code as its message', async (t) => {
    const pages = await pagesFrom(t);
    for (const [code, message] of Object.entries(ERROR_MESSAGES)) {
      assert.ok(pages.render('register', { theme: 'light', session: false, error: code }).includes(escapeHtml(message)), code);
    }
  });

  it('escapes next, so it cannot break out of its attribute', async (t) => {
    const pages = await pagesFrom(t);
    const html = pages.render('login', { theme: 'light', session: false, next: '/x"><script>alert(1)</script>' });
    assert.ok(html.includes('value="/x&#34;&#62;&#60;script&#62;alert(1)&#60;/script&#62;"'), html);
  });

  describe('puts every value in as it is: no $ replacement pattern is ever expanded', () => {
    // Each of these, read as a replacement pattern, would copy part of the page (or a $) into itself.
    for (const pattern of ['$&', '$`', "$'", '$$', '$1', '$<name>']) {
      it(`next=/x?${pattern}`, async (t) => {
        const pages = await pagesFrom(t);
        const next = `/x?${pattern}`;
        const html = pages.render('login', { theme: 'light', session: false, next });
        assert.equal(
          html,
          TEMPLATE.replace('<i>', '<i id="login">')
            .replaceAll('{{theme}}', 'light')
            .replace('{{session}}', 'no')
            .replace('{{error}}', '')
            .replace('{{next}}', () => escapeHtml(next)),
        );
      });
    }

    it('never fills a placeholder that a value brought in', async (t) => {
      const pages = await pagesFrom(t);
      const html = pages.render('login', { theme: 'dark', session: false, next: '/{{theme}}{{session}}' });
      assert.match(html, /value="\/\{\{theme\}\}\{\{session\}\}"/);
    });
  });

  it('reads the real templates of public/, which have the placeholders', () => {
    const pages = new Pages(PUBLIC_DIR);
    const html = pages.render('login', { theme: 'dark', session: true, error: 'invalid', next: '/profile' });
    assert.match(html, /data-theme="dark"/);
    assert.match(html, /data-session="yes"/);
    assert.match(html, /name="next" value="\/profile"/);
    assert.ok(html.includes(ERROR_MESSAGES.invalid!));
    assert.doesNotMatch(html, /\{\{/);
  });

  it('writes the cart limits of the API into the guest demo, so the browser keeps no copy of them', () => {
    const html = new Pages(PUBLIC_DIR).render('login', { theme: 'light', session: false });
    assert.match(html, new RegExp(`<form id="cart-form"[^>]* data-max-items="${MAX_CART_ITEMS}"`));
    assert.match(html, new RegExp(`<input id="cart-item"[^>]* maxlength="${MAX_CART_ITEM_LENGTH}"`));
  });

  it('fails at start-up when a template is missing', async (t) => {
    const { root } = await makeDirs(t);
    assert.throws(() => new Pages(root), { code: 'ENOENT' });
  });
});

describe('escapeHtml', () => {
  const cases: Array<[string, string]> = [
    ['plain text', 'plain text'],
    ['a & b', 'a &#38; b'],
    ['<b>', '&#60;b&#62;'],
    ['"double"', '&#34;double&#34;'],
    ["'single'", '&#39;single&#39;'],
    ['&#60;', '&#38;#60;'],
  ];
  for (const [input, expected] of cases) it(`escapes ${JSON.stringify(input)}`, () => assert.equal(escapeHtml(input), expected));
});
