// The one DOM helper the page scripts share.

/**
 * $ finds the element with this id, checked to be of the expected kind
 * (`HTMLInputElement`, `HTMLTimeElement`, …; any HTML element when omitted).
 * Every id a script asks for is in the page it runs on, so a missing or
 * different element is a bug in the page: it throws at once, naming the id,
 * instead of failing later on `null`.
 * @template {HTMLElement} [T=HTMLElement]
 * @param {string} id
 * @param {{new (): T, readonly name: string}} [kind]
 * @returns {T}
 */
export function $(id, kind) {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`This page has no element with id="${id}".`);
  const expected = kind ?? HTMLElement;
  if (!(element instanceof expected))
    throw new Error(`The element with id="${id}" is a <${element.tagName.toLowerCase()}>, not an ${expected.name}.`);
  return /** @type {T} */ (element);
}

/**
 * all finds every element matching `selector`, checked to be of `kind`.
 * @template {HTMLElement} T
 * @param {string} selector
 * @param {{new (): T, readonly name: string}} kind
 * @returns {T[]}
 */
export function all(selector, kind) {
  return Array.from(document.querySelectorAll(selector), (element) => {
    if (!(element instanceof kind))
      throw new Error(`An element matching ${selector} is a <${element.tagName.toLowerCase()}>, not an ${kind.name}.`);
    return element;
  });
}
