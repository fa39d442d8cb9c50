// The guest demo: a cart and a theme switch, on the login page and the
// dashboard. Both are kept in the session on the server, so using either
// before signing in creates a guest session; signing in then replaces the
// session ID while keeping the data. Watch the inspector to see it happen.
//
// Everything the user typed is put on the page with textContent, never
// innerHTML: a cart item such as <img src=x onerror=alert(1)> stays text.

import { api, describeFailure } from './api.js';
import { $, all } from './dom.js';
import { applyTheme, currentTheme } from './theme.js';
import { plural } from './time.js';

/**
 * setUpGuestDemo wires the widget already present in the page.
 * @param {{onChange: (answer: unknown, what: string) => void}} options  Called
 *   after every change the server accepted, with its answer and what was
 *   kept ("The item you added"), so the page can check the answer for an
 *   ended session and fetch /api/session once more.
 * @returns {{render: (data: import('./api.js').SessionData | null) => void}}  Shows the
 *   cart from a fetched session; null means there is no session yet.
 */
export function setUpGuestDemo({ onChange }) {
  const form = $('cart-form', HTMLFormElement);
  // The server writes its cart limit into the page, so this script keeps no copy of it.
  const maxItems = Number(form.dataset.maxItems);
  const input = $('cart-item', HTMLInputElement);
  const addButton = $('cart-add', HTMLButtonElement);
  const clearButton = $('cart-clear', HTMLButtonElement);
  const themeButtons = all('[data-theme-choice]', HTMLButtonElement);
  /** @type {string[]} */
  let cart = [];
  let busy = false;

  /** @param {import('./api.js').SessionData | null} data */
  function render(data) {
    cart = data?.cart ?? [];
    showCart();
  }

  function showCart() {
    const items = cart.map((item, index) => {
      const li = document.createElement('li');
      const text = document.createElement('span');
      text.textContent = item;
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'cart-remove';
      remove.textContent = '×';
      remove.setAttribute('aria-label', `Remove “${item}”`);
      remove.addEventListener('click', () => removeItem(index, item));
      li.append(text, remove);
      return li;
    });
    $('cart-list').replaceChildren(...items);
    $('cart-empty').hidden = cart.length > 0;
    $('cart-count').textContent = `${plural(cart.length, 'item')} of ${maxItems}`;
    showThemeChoice();
    updateButtons();
  }

  function showThemeChoice() {
    const theme = currentTheme();
    for (const button of themeButtons) {
      button.setAttribute('aria-pressed', String(button.dataset.themeChoice === theme));
    }
  }

  function updateButtons() {
    addButton.disabled = busy || cart.length >= maxItems;
    clearButton.disabled = busy || cart.length === 0;
    for (const button of themeButtons) button.disabled = busy;
    for (const button of all('.cart-remove', HTMLButtonElement)) button.disabled = busy;
  }

  /** @param {string} message */
  function say(message) {
    $('guest-demo-error').hidden = true;
    $('guest-demo-status').textContent = message;
  }

  /** @param {string} message */
  function complain(message) {
    $('guest-demo-status').textContent = '';
    $('guest-demo-error').textContent = message;
    $('guest-demo-error').hidden = false;
  }

  /**
   * Runs one request with the buttons disabled, so a double click cannot
   * send it twice; hands a successful body to `onSuccess`.
   * @template T  The shape of the route's JSON answer.
   * @param {string} path
   * @param {{method: string, body?: unknown}} options
   * @param {Record<number, string>} failureMessages
   * @param {(body: T) => void} onSuccess
   * @param {string} what  What the change kept, for onChange.
   */
  async function send(path, options, failureMessages, onSuccess, what) {
    busy = true;
    updateButtons();
    const result = await api(path, options);
    busy = false;
    if (result.status === 200) {
      onSuccess(/** @type {T} */ (result.body));
      onChange(result.body, what);
    } else {
      complain(describeFailure(result, failureMessages));
      // 409: the session changed under this page (another tab, or it ended); show it as it is now.
      if (result.status === 409) onChange(result.body, what);
    }
    updateButtons();
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const item = input.value.trim();
    if (item === '') {
      complain('Type something to put in the cart first.');
      input.focus();
      return;
    }
    send(
      '/api/cart',
      { method: 'POST', body: { item } },
      {},
      (/** @type {{cart: string[]}} */ body) => {
        cart = body.cart;
        showCart();
        input.value = '';
        input.focus();
        say(`Added “${item}” to the cart in your session.`);
      },
      'The item you added',
    );
  });

  /**
   * removeItem removes one item, named by its place and its text, so a cart
   * changed meanwhile in another tab loses nothing it should keep (409).
   * @param {number} index
   * @param {string} item
   */
  function removeItem(index, item) {
    send(
      '/api/cart/remove',
      { method: 'POST', body: { index, item } },
      { 409: 'The cart changed in another tab, so nothing was removed. Here it is as it is now.' },
      (/** @type {{cart: string[]}} */ body) => {
        cart = body.cart;
        showCart();
        say(`Removed “${item}” from the cart in your session.`);
      },
      'The change',
    );
  }

  clearButton.addEventListener('click', () => {
    send(
      '/api/cart',
      { method: 'DELETE' },
      {},
      (/** @type {{cart: string[]}} */ body) => {
        cart = body.cart;
        showCart();
        say('The cart is empty again.');
      },
      'The change',
    );
  });

  for (const button of themeButtons) {
    button.addEventListener('click', () => {
      const theme = button.dataset.themeChoice;
      send(
        '/api/preferences',
        { method: 'PUT', body: { theme } },
        {},
        (/** @type {{theme: import('./theme.js').Theme}} */ body) => {
          applyTheme(body.theme);
          showThemeChoice();
          say(`Theme saved in your session: ${body.theme}.`);
        },
        'Your theme choice',
      );
    });
  }

  showCart();
  $('guest-demo-body').hidden = false;
  return { render };
}
