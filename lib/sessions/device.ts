/**
 * A device label is what the devices page shows to tell a user's sessions
 * apart: a browser and an operating system, such as "Firefox on Linux",
 * made once from the User-Agent when the session is created.
 *
 * Only the label is kept, never the User-Agent itself: the full string is a
 * fingerprint (versions, build numbers, extensions' traces), and a coarse
 * label is all a person needs to recognise "my phone" or "the office PC".
 */

/** MAX_DEVICE_LABEL_LENGTH bounds a stored label; the longest this module makes is far shorter. */
export const MAX_DEVICE_LABEL_LENGTH = 64;

/**
 * MAX_USER_AGENT_CHARS: only this much of the header is looked at. Real
 * User-Agents are a few hundred characters; the cut also bounds the work of
 * every pattern below, however a hostile 16 KiB header is built.
 */
export const MAX_USER_AGENT_CHARS = 512;

/** UNKNOWN_DEVICE is the label of a request without a User-Agent, or with one nothing here recognises. */
export const UNKNOWN_DEVICE = 'Unknown device';

/**
 * BROWSERS, first match wins. Order matters: Edge and Opera say "Chrome"
 * too, Chrome says "Safari", and every Chromium browser on iOS is Safari
 * underneath but names itself (CriOS, FxiOS, EdgiOS).
 */
const BROWSERS: ReadonlyArray<[pattern: RegExp, name: string]> = [
  [/\b(?:Edg|EdgA|EdgiOS)\//, 'Edge'],
  [/\b(?:OPR|Opera)\//, 'Opera'],
  [/\bSamsungBrowser\//, 'Samsung Internet'],
  [/\b(?:Firefox|FxiOS)\//, 'Firefox'],
  [/\b(?:HeadlessChrome|Chrome|Chromium|CriOS)\//, 'Chrome'],
  // Space-separated tokens between Version/ and Safari/, not `.*`, whose backtracking grows with the header.
  [/\bVersion\/[\d.]+ (?:\S+ )*Safari\//, 'Safari'],
  [/^curl\//, 'curl'],
  [/^Wget\//, 'Wget'],
  [/^(?:node|undici)\b/, 'Node.js'],
];

/** OPERATING_SYSTEMS, first match wins: Android says "Linux", iPadOS and iOS say "like Mac OS X". */
const OPERATING_SYSTEMS: ReadonlyArray<[pattern: RegExp, name: string]> = [
  [/\bAndroid\b/, 'Android'],
  [/\b(?:iPhone|iPad|iPod)\b/, 'iOS'],
  [/\bWindows\b/, 'Windows'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bMac OS X\b|\bMacintosh\b/, 'macOS'],
  [/\bLinux\b|\bX11\b/, 'Linux'],
];

/**
 * deviceLabel turns a User-Agent header into "Browser on OS", "Browser", or
 * UNKNOWN_DEVICE. Whatever the header holds, the result is one of the names
 * above: nothing of the header itself is ever copied into it.
 */
export function deviceLabel(userAgent: string | undefined): string {
  if (userAgent === undefined) return UNKNOWN_DEVICE;
  const header = userAgent.slice(0, MAX_USER_AGENT_CHARS);
  const browser = firstMatch(BROWSERS, header);
  const system = firstMatch(OPERATING_SYSTEMS, header);
  if (browser !== null && system !== null) return `${browser} on ${system}`;
  if (browser !== null) return browser;
  return system === null ? UNKNOWN_DEVICE : `A browser on ${system}`;
}

function firstMatch(table: ReadonlyArray<[RegExp, string]>, userAgent: string): string | null {
  return table.find(([pattern]) => pattern.test(userAgent))?.[1] ?? null;
}
