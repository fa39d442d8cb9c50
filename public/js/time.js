// Helpers for showing the session's clock: when things happened and how
// long is left.

const MS_PER_SECOND = 1000;
const SECONDS_PER_MINUTE = 60;
const SECONDS_PER_HOUR = 3600;

/**
 * serverClockOffset estimates how far the server's clock is ahead of this
 * browser's, in milliseconds. Countdowns add it to Date.now() so they agree
 * with the server, whose clock decides when a session ends.
 *
 * `sentAt` is the browser time just before the request went out. The server
 * wrote `serverTime` at some moment after that, so the estimate can only err
 * towards the server being ahead: a countdown may reach zero slightly early,
 * never late. A session shown as alive is alive.
 * @param {string} serverTime  ISO time from the response.
 * @param {number} sentAt  Date.now() taken before the request.
 */
export function serverClockOffset(serverTime, sentAt) {
  const server = Date.parse(serverTime);
  return Number.isNaN(server) ? 0 : server - sentAt;
}

/**
 * formatCountdown shows a duration as 7:59:59, 29:59 or 0:09.
 * Seconds are rounded down, for the same reason as above.
 * @param {number} ms  Milliseconds left; must be positive.
 */
export function formatCountdown(ms) {
  const total = Math.floor(ms / MS_PER_SECOND);
  const hours = Math.floor(total / SECONDS_PER_HOUR);
  const minutes = Math.floor((total % SECONDS_PER_HOUR) / SECONDS_PER_MINUTE);
  const seconds = total % SECONDS_PER_MINUTE;
  const mm = hours > 0 ? String(minutes).padStart(2, '0') : String(minutes);
  const ss = String(seconds).padStart(2, '0');
  return hours > 0 ? `${hours}:${mm}:${ss}` : `${mm}:${ss}`;
}

/**
 * formatDuration describes a whole number of seconds in words: "30 minutes".
 * @param {number} seconds
 */
export function formatDuration(seconds) {
  if (seconds % SECONDS_PER_HOUR === 0) return plural(seconds / SECONDS_PER_HOUR, 'hour');
  if (seconds % SECONDS_PER_MINUTE === 0) return plural(seconds / SECONDS_PER_MINUTE, 'minute');
  return plural(seconds, 'second');
}

/**
 * showTime fills a <time> element with a local, readable time and keeps
 * the exact ISO value in its datetime attribute.
 * @param {HTMLTimeElement} element
 * @param {string} iso
 */
export function showTime(element, iso) {
  const date = new Date(iso);
  element.dateTime = iso;
  element.title = iso;
  const sameDay = date.toDateString() === new Date().toDateString();
  element.textContent = sameDay ? date.toLocaleTimeString() : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

/**
 * plural writes "1 item", "2 items".
 * @param {number} count
 * @param {string} noun  The singular; the plural adds an "s".
 */
export function plural(count, noun) {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
