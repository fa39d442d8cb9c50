import { readdir, readFile, rmdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { throttleDirOf } from './storage/files.ts';
import { parseUsersFile } from './auth/users.ts';
import type { Config } from './config.ts';
import { errorCode, nodeFileSystem } from './file-system.ts';
import { ENDING_NOTES_DIR } from './sessions/endings.ts';
import { USER_INDEX_DIR, UserIndex } from './sessions/user-index.ts';

/**
 * The names Cloakroom writes, and the only ones a reset deletes: session
 * files, counters and their locks (`<64 hex>.json`, `.lock`), ending notes
 * (`<64 hex>`), and the temporary files of an atomic write
 * (`.<name>.<12 hex>.tmp`). Anything else in those folders is not ours.
 * The user index's markers go through the index itself (UserIndex).
 */
const OWN_FILE = /^([0-9a-f]{64}(\.json|\.lock)?|\..+\.[0-9a-f]{12}\.tmp)$/;

/** ResetReport says what a reset removed, for `npm run reset` to print. */
export interface ResetReport {
  sessionFiles: number;
  endingNotes: number;
  /** indexMarkers: the markers of the per-user index (lib/sessions/user-index.ts), one per signed-in session file. */
  indexMarkers: number;
  /** accounts is how many accounts the removed users file held, or null when there was no users file. */
  accounts: number | null;
  counters: number;
}

/**
 * resetState deletes every account, session (with its user index marker),
 * ending note and counter at the places `config` names (SESSIONS_DIR,
 * USERS_FILE and the `throttle/` folder beside it): the clean slate the README's walkthrough
 * starts from. It asks nothing and deletes only Cloakroom's own file names.
 * A server still running on these files simply finds nobody signed in.
 */
export async function resetState(config: Config): Promise<ResetReport> {
  const notesDir = path.join(config.sessionsDir, ENDING_NOTES_DIR);
  const report: ResetReport = {
    endingNotes: await removeOwnFiles(notesDir),
    sessionFiles: await removeOwnFiles(config.sessionsDir),
    // With every session file gone, every marker is stale: the index drops them and its emptied folders.
    indexMarkers: await new UserIndex(config.sessionsDir, nodeFileSystem).dropStale(async () => false),
    accounts: await removeUsersFile(config.usersFile),
    counters: await removeOwnFiles(throttleDirOf(config.usersFile)),
  };
  await removeEmptyDir(notesDir);
  await removeEmptyDir(throttleDirOf(config.usersFile));
  return report;
}

/** describeReset is the report in words, one line per place. */
export function describeReset(report: ResetReport, config: Config): string[] {
  const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;
  return [
    `${config.sessionsDir}: removed ${count(report.sessionFiles, 'session file')} and ${count(report.endingNotes, 'ending note')}`,
    `${path.join(config.sessionsDir, USER_INDEX_DIR)}: removed ${count(report.indexMarkers, 'user index marker')}`,
    report.accounts === null
      ? `${config.usersFile}: no accounts file, nothing to remove`
      : `${config.usersFile}: removed (${count(report.accounts, 'account')})`,
    `${throttleDirOf(config.usersFile)}: removed ${count(report.counters, 'counter file')}`,
  ];
}

async function removeOwnFiles(dir: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return 0;
    throw error;
  }
  let removed = 0;
  for (const name of names.filter((entry) => OWN_FILE.test(entry))) {
    if (await removeFile(path.join(dir, name))) removed += 1;
  }
  return removed;
}

async function removeUsersFile(file: string): Promise<number | null> {
  let accounts: number;
  try {
    accounts = parseUsersFile(await readFile(file, 'utf8')).length;
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return null;
    // A file that is not an accounts file is still the file USERS_FILE names: it goes, uncounted.
    accounts = 0;
  }
  await removeFile(file);
  return accounts;
}

async function removeFile(file: string): Promise<boolean> {
  try {
    await unlink(file);
    return true;
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return false;
    throw error;
  }
}

async function removeEmptyDir(dir: string): Promise<void> {
  try {
    await rmdir(dir);
  } catch (error) {
    // Still holding something that is not ours, or already gone: either way, not ours to force.
    if (!['ENOENT', 'ENOTEMPTY', 'EEXIST'].includes(errorCode(error) ?? '')) throw error;
  }
}
