import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SwitchName } from './switches.ts';

/** REPO_ROOT: where lib/ is, so a site's file reads the same from any working directory. */
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * DEFENCE_FILES: where each defence happens, the one place the lab page
 * points to. The line is found by what it reads (`defences['name']`), so
 * it stays right when the file changes; test/lab/switches.test.ts checks
 * every one is found, with its comment.
 */
export const DEFENCE_FILES: Readonly<Record<SwitchName, string>> = {
  'rotate-on-sign-in': 'lib/sessions/session.ts',
  'http-only': 'lib/sessions/session-cookie.ts',
  'random-ids': 'lib/sessions/session.ts',
  expiry: 'lib/sessions/file-store.ts',
  'origin-check': 'lib/pipeline.ts',
  'session-lock': 'lib/sessions/session.ts',
  'server-side-logout': 'lib/sessions/session.ts',
  'hashed-file-names': 'lib/sessions/session-id.ts',
};

/** Lines shown before and after the line that reads the switch. */
const CONTEXT_BEFORE = 2;
const CONTEXT_AFTER = 3;

/** DefenceSite is the code that defends: its file, the line that reads the switch, and a few lines around it. */
export interface DefenceSite {
  file: string;
  line: number;
  excerpt: Array<{ line: number; text: string }>;
}

/** switchRead is how code reads a switch: `defences['http-only']`, or `defences.expiry` for a name that is a plain word. */
export function switchRead(name: SwitchName): string {
  return /^[a-z]+$/.test(name) ? `defences.${name}` : `defences['${name}']`;
}

/** defenceSite finds the line of DEFENCE_FILES[name] that reads the switch, or throws when the file no longer has one. */
export function defenceSite(name: SwitchName): DefenceSite {
  const file = DEFENCE_FILES[name];
  const lines = defenceSource(name).split('\n');
  const index = lines.findIndex((text) => text.includes(switchRead(name)));
  if (index === -1) throw new Error(`${file} does not read ${switchRead(name)}`);
  const from = Math.max(0, index - CONTEXT_BEFORE);
  const excerpt = lines.slice(from, index + CONTEXT_AFTER + 1).map((text, offset) => ({ line: from + offset + 1, text }));
  return { file, line: index + 1, excerpt };
}

/** defenceSource is the whole file in which `name`'s defence happens. */
export function defenceSource(name: SwitchName): string {
  return readFileSync(`${REPO_ROOT}${DEFENCE_FILES[name]}`, 'utf8');
}
