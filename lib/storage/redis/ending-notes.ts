import type { RedisClient } from './client.ts';
import { keys } from './keys.ts';
import { textOrNull } from './replies.ts';

/** ENDING_NOTE_TTL_MS: a note on why a session ended is kept a day, long enough for its browser to come back and be told. */
export const ENDING_NOTE_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * RedisEndingNotes keeps, for a session that was ended from elsewhere, a
 * short note of why ("signed out from another device"), keyed by its file
 * id (`cloakroom:ending:<file id>`) and deleted by Redis after a day.
 */
export class RedisEndingNotes {
  #client: RedisClient;

  constructor(client: RedisClient) {
    this.#client = client;
  }

  /** record keeps `ending` for the session `fileId`, replacing an earlier note. It needs no clock: Redis counts the day itself. */
  async record(fileId: string, ending: string): Promise<void> {
    await this.#client.call(['SET', keys.ending(fileId), ending, 'PX', String(ENDING_NOTE_TTL_MS)]);
  }

  /** find is the note kept for `fileId`, or null when there is none (never written, or older than a day). */
  async find(fileId: string): Promise<string | null> {
    return textOrNull(await this.#client.call(['GET', keys.ending(fileId)]), 'GET');
  }
}
