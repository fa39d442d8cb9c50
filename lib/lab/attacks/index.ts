import type { SwitchName } from '../switches.ts';
import type { Attack } from './attack.ts';
import { cookieTheft } from './cookie-theft.ts';
import { copiedFolder } from './copied-folder.ts';
import { csrf } from './csrf.ts';
import { fixation } from './fixation.ts';
import { guessableIds } from './guessable-ids.ts';
import { logoutReplay } from './logout-replay.ts';
import { lostUpdate } from './lost-update.ts';
import { stolenForever } from './stolen-forever.ts';

/** ATTACKS: the attack each switch's defence stops, by the switch's name. */
export const ATTACKS: Readonly<Record<SwitchName, Attack>> = {
  'rotate-on-sign-in': fixation,
  'http-only': cookieTheft,
  'random-ids': guessableIds,
  expiry: stolenForever,
  'origin-check': csrf,
  'session-lock': lostUpdate,
  'server-side-logout': logoutReplay,
  'hashed-file-names': copiedFolder,
};
