import { readdir } from 'node:fs/promises';
import { errorCode } from '../../file-system.ts';
import { RAW_ID_FILE_PATTERN, SESSION_FILE_PATTERN } from '../../sessions/file-store.ts';
import { idPrefix } from '../../sessions/session-id.ts';
import { Agent } from './agent.ts';
import type { Attack } from './attack.ts';
import { CannotRun, labStatus, signedInVictim, VICTIM, whoIs } from './attack.ts';

/** MAX_TRIES bounds how many file names the attacker tries as cookies. */
const MAX_TRIES = 1000;

/**
 * A copied sessions folder: a backup, a shared disk, a container image
 * built with the folder inside. If the files are named after the session
 * IDs, every name is a working cookie (Rack's CVE-2019-16782 was this).
 * The attacker here reads the lab's SESSIONS_DIR itself, as someone with
 * the copy would.
 */
export const copiedFolder: Attack = {
  defence: 'hashed-file-names',
  title: 'A copied sessions folder',
  async run({ url, sessionsDir }, say) {
    const { store } = await labStatus(url);
    if (store !== 'files') throw new CannotRun(`the lab runs with STORE=${store}, which keeps no folder to copy: run it with STORE=files`);
    await signedInVictim(url);
    say(`The victim signs in as ${VICTIM.username}; the attacker never sees the ID.`);
    const names = await namesIn(sessionsDir);
    const raw = names.filter((name) => RAW_ID_FILE_PATTERN.test(name)).map((name) => name.slice(0, -'.json'.length));
    const hashed = names.filter((name) => SESSION_FILE_PATTERN.test(name)).length;
    say(
      `The attacker gets a copy of the sessions folder: ${hashed} file(s) named by a 64-character hash, ${raw.length} named like a session ID.`,
    );
    for (const id of raw.slice(0, MAX_TRIES)) {
      const thief = new Agent(url);
      thief.hold(id);
      if ((await whoIs(thief)) !== VICTIM.username) continue;
      say(`The file ${idPrefix(id)}.json is named by the ID itself: sent as a cookie, it signs the attacker in as ${VICTIM.username}.`);
      return true;
    }
    say(
      raw.length === 0
        ? 'A hash cannot be turned back into the ID, and the server only takes IDs: the copy holds no ticket.'
        : "None of the files named like an ID is the victim's session.",
    );
    return false;
  },
};

async function namesIn(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    throw new CannotRun(
      `cannot read the sessions folder ${dir} (${errorCode(error) ?? 'error'}): run the attack with the lab's SESSIONS_DIR`,
      {
        cause: error,
      },
    );
  }
}
