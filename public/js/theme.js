// The theme is chosen on the server: it reads the session and writes
// data-theme="light|dark" into the <html> tag before the page is sent, so a
// page never flashes in the wrong colours. After a change this module only
// has to update the attribute; style.css does the rest.

/** @typedef {'light' | 'dark'} Theme */

/** currentTheme reads the theme the page is drawn in. @returns {Theme} */
export function currentTheme() {
  return document.documentElement.dataset.theme === 'dark' ? 'dark' : 'light';
}

/** applyTheme redraws the page in `theme` without a reload. @param {Theme} theme */
export function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
}
