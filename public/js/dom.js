// The one DOM helper the page scripts share.

/**
 * $ finds the element with this id. Every id a script asks for is in the
 * page it runs on, so a missing one is a bug in the page, not a case to handle.
 * @param {string} id
 * @returns {HTMLElement}
 */
export const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
