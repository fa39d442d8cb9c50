import { isEnding } from '../../sessions/endings.ts';
import type { Ending, EndingNoteStore } from '../../sessions/endings.ts';
import type { RedisClient } from './client.ts';
import { ENDING_NOTE_TTL_MS } from '../../sessions/endings.ts';
import { keys } from './keys.ts';
import { textOrNull } from './replies.ts';

/**
 * RedisEndingNotes keeps, for a session that was ended from elsewhere, a
 * short note of why ("signed out from another device"), keyed by its file
 * id (`cloakroom:ending:<file id>`) and deleted by Redis after a day.
 */
export class RedisEndingNotes implements EndingNoteStore {
  readonly place = 'redis keys cloakroom:ending:…';
  #client: RedisClient;

  constructor(client: RedisClient) {
    this.#client = client;
  }

  /** record keeps `ending` for the session `fileId`, replacing an earlier note. It needs no clock: Redis counts the day itself. */
  async record(fileId: string, ending: Ending): Promise<boolean> {
    try {
      await this.#client.call(['SET', keys.ending(fileId), ending, 'PX', String(ENDING_NOTE_TTL_MS)]);
      return true;
    } catch {
      // A note is a courtesy: Redis being away costs the browser its reason, never the request.
      return false;
    }
  }

  /** find is the note kept for `fileId`, or null when there is none (never written, older than a day, or Redis away). */
  async find(fileId: string): Promise<Ending | null> {
    try {
      const note = textOrNull(await this.#client.call(['GET', keys.ending(fileId)]), 'GET');
      return isEnding(note) ? note : null;
    } catch {
      return null;
    }
  }
}
