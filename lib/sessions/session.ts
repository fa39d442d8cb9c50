import { HttpError } from '../http-error.ts';
import type { Lock } from '../file-lock.ts';
import { countedSessionId } from '../lab/counted-ids.ts';
import { weakenedNote } from '../lab/switches.ts';
import type { Defences, SwitchName } from '../lab/switches.ts';
import type { StepText } from '../log.ts';
import { deviceLabel } from './device.ts';
import { expiryAt, idleTimeoutOf, isTouchDue, newRecord, withEvent } from './record.ts';
import type { SessionData, SessionEvent, SessionRecord, Timeouts } from './record.ts';
import { endingOfExpiry } from './endings.ts';
import type { Ending, EndingNoteStore } from './endings.ts';
import type { CookieUpdate, SessionCookie } from './session-cookie.ts';
import { fileKey, idPrefix, isWellFormedSessionId, newSessionId, storageKey } from './session-id.ts';
import type { Lookup, MissReason, SessionStore } from './store.ts';

/**
 * SessionStatus records what a request did to its session, so the cookie is
 * decided once, before the response is written, from facts rather than
 * guesses (no comparing JSON before and after).
 */
export type SessionStatus = 'none' | 'loaded' | 'created' | 'modified' | 'rotated' | 'destroyed';

const SHORT_HASH_LENGTH = 16;

/** What the explain log says when a well-formed cookie finds no live session. */
const MISS_NARRATION: Readonly<Record<MissReason, string>> = {
  'not-found': 'no such file (an ID this server never issued, or one that has ended): no session, and the ID is not adopted',
  unreadable: 'not a session record (corrupt or tampered with): treated as no session',
  'expired-idle': 'expired, unused for longer than SESSION_IDLE_TIMEOUT: file deleted, no session',
  'expired-absolute': 'expired, older than SESSION_ABSOLUTE_TIMEOUT: file deleted, no session',
};

/** ChangeNote describes a change: `narrate` for the explain log, `event` (optional) for the session's own history. */
export interface ChangeNote {
  narrate: string;
  event?: string;
}

/** Narrator hears each session step, for LOG=explain (lib/log.ts). */
export type Narrator = (topic: string, text: StepText) => void;

/**
 * SessionAdmission guards the birth of session files: whether a guest
 * session may start (lib/sessions/guest-admission.ts), and a note of every
 * file made, for the count of stored sessions.
 */
export interface SessionAdmission {
  /** admitGuest resolves when a client at `address` may start a guest session at `now`, and otherwise throws an HttpError (429, 503). */
  admitGuest(address: string, now: number): Promise<void>;
  /** created hears of each new session file that does not replace an old one. */
  created(): void;
}

/** RequestFacts are what a session needs to know about its request, fixed when it arrives. */
export interface RequestFacts {
  now: number;
  cookie: SessionCookie;
  narrate: Narrator;
  /** address is the client's address, counted when it starts a guest session. */
  address: string;
  /** userAgent is the request's User-Agent, turned into a coarse device label only if a session is created. */
  userAgent?: string | undefined;
}

export interface SessionDeps {
  store: SessionStore;
  admission: SessionAdmission;
  /** lock serialises the read-modify-write of one session ID, across every process that shares the store. */
  lock: Lock;
  /** timeouts decide when a touch is due; each record's idle timeout is idleTimeoutOf(record, timeouts). */
  timeouts: Timeouts;
  /** where names the place a session's record lives, by its file id (lib/storage/storage.ts `Storage.where`): for what the app shows, never to open it. */
  where: (fileId: string, shownLength?: number) => string;
  /** writeMethod says how the storage makes a write whole (`Storage.writeMethod`), for the explain log. */
  writeMethod: string;
  /** endings remember why sessions ended, so a browser still holding an old cookie can be told (lib/sessions/endings.ts). */
  endings: EndingNoteStore;
  /** defences are the lab's switches in lab mode, and DEFENDED (every defence on, frozen) everywhere else (lib/lab/switches.ts). */
  defences: Defences;
}

/** RotationReason is what replaced a session's ID; registering is signing in for the first time. */
export type RotationReason = 'sign-in' | 'registration' | 'password change';

/**
 * RequestSession is one request's view of its session: loaded from the
 * cookie at the start, changed through the methods below, and turned into
 * a Set-Cookie header (or none) at the end.
 *
 * Each change is a short read-modify-write under the session's lock: the
 * record is read fresh, changed and written back before the lock is
 * released. Two parallel requests therefore both keep their change, and a
 * request that is slow elsewhere holds no lock at all.
 */
export class RequestSession {
  #deps: SessionDeps;
  #now: number;
  #narrate: Narrator;
  #cookie: SessionCookie;
  #address: string;
  #id: string | null = null;
  #record: SessionRecord | null = null;
  #status: SessionStatus = 'none';
  #ending: Ending | null = null;
  /** #cookieSent: the request carried a session cookie, live or not (a stale one is cleared at logout). */
  #cookieSent = false;
  /** #userAgent is the request's User-Agent, turned into a coarse device label only if a session is created. */
  #userAgent: string | undefined;
  /** #weakenedSteps are the lab's notes of this request (a defence that was off), added to the history at its next write. */
  #weakenedSteps: SwitchName[] = [];

  private constructor(deps: SessionDeps, facts: RequestFacts) {
    this.#deps = deps;
    this.#now = facts.now;
    this.#cookie = facts.cookie;
    this.#narrate = facts.narrate;
    this.#address = facts.address;
    this.#userAgent = facts.userAgent;
  }

  /** none is a request's session before (or without) loading: no ID, no record. */
  static none(deps: SessionDeps, facts: RequestFacts): RequestSession {
    return new RequestSession(deps, facts);
  }

  /**
   * load finds the session named by the request's cookie value. A missing or
   * malformed value, or an ID with no live record, is simply no session:
   * the ID is never adopted (strict mode), so an attacker cannot plant one.
   */
  static async load(deps: SessionDeps, facts: RequestFacts, cookieValue: string | undefined): Promise<RequestSession> {
    const { now, cookie, narrate } = facts;
    const session = new RequestSession(deps, facts);
    if (cookieValue === undefined) {
      narrate('cookie', `no ${cookie.name} cookie: no session`);
      return session;
    }
    session.#cookieSent = true;
    if (!isWellFormedSessionId(cookieValue)) {
      // Checked before any file is named, so no cookie can steer a path.
      narrate('cookie', `${cookie.name} is not 43 base64url characters: ignored, nothing read`);
      return session;
    }
    narrate('cookie', () => `${cookie.name}=${idPrefix(cookieValue)} (well formed)`);
    const lookup = trusted(deps, await deps.store.get(cookieValue, now));
    if ('miss' in lookup) {
      narrate('session', () => `${shortFileName(deps, cookieValue)}: ${lookup.miss === 'lab' ? LAB_RECORD_NARRATION : MISS_NARRATION[lookup.miss]}`);
      await session.#learnEnding(cookieValue, lookup.miss);
      return session;
    }
    const { record } = lookup;
    session.#id = cookieValue;
    session.#record = record;
    session.#status = 'loaded';
    narrate('session', () => `read ${shortFileName(deps, cookieValue)}: ${record.user === null ? 'guest' : `user ${record.user}`}, not expired`);
    // Only the lab's stores, with `expiry` off, hand out a record past its deadline (lib/sessions/file-store.ts `get`).
    if (!deps.defences.expiry && expiryAt(record, now, deps.timeouts) !== null) session.noteWeakened('expiry');
    if (isTouchDue(record, now, idleTimeoutOf(record, deps.timeouts))) await session.#touch(cookieValue);
    return session;
  }

  /** id is the session ID, or null when there is no session. Never log it whole: use idPrefix(). */
  get id(): string | null {
    return this.#id;
  }

  /** record is the session as last read or written by this request (read-only), or null. */
  get record(): Readonly<SessionRecord> | null {
    return this.#record;
  }

  get status(): SessionStatus {
    return this.#status;
  }

  /**
   * ended is why the session the request's cookie named is over, when that
   * is known: it expired on this read, this request ended it, or a note says
   * how it ended before. Null for a live session, for no cookie, and for an
   * ID with no note (never issued, replaced at sign-in, or ended long ago).
   */
  get ended(): Ending | null {
    return this.#ending;
  }

  /** cookie is how this request's session cookie is named and flagged. */
  get cookie(): SessionCookie {
    return this.#cookie;
  }

  /** fileLabel is where the session's record lives, as `ls` shows it from beside SESSIONS_DIR (`sessions/<hash>.json`), or null. */
  get fileLabel(): string | null {
    return this.#id === null ? null : this.#deps.where(fileKey(this.#id, this.#deps.defences));
  }

  /**
   * noteWeakened records that the lab's switch `name` let this request
   * through where the defence would have stopped it: a line in the explain
   * log now, and an event in the session's history at its next write.
   */
  noteWeakened(name: SwitchName): void {
    this.#narrate('weakened', weakenedNote(name));
    if (!this.#weakenedSteps.includes(name)) this.#weakenedSteps.push(name);
  }

  /**
   * modify applies `change` to the session's data and saves it, creating a
   * guest session if there is none: a guest's first write is the only
   * other way (besides sign-in) that a session file is born. If the session
   * ends while this request is in flight, nothing is written and 409 is thrown.
   */
  async modify(note: ChangeNote, change: (data: SessionData) => SessionData): Promise<SessionData> {
    const id = this.#id;
    if (id === null) return this.#createGuest(note, change);
    return this.#locked(id, async () => {
      const fresh = await this.#readFresh(id);
      const record: SessionRecord = {
        ...fresh,
        lastSeenAt: this.#iso(),
        data: change(fresh.data),
        events: note.event === undefined ? fresh.events : withEvent(fresh.events, this.#now, note.event),
      };
      await this.#update(id, record);
      if (this.#status !== 'created' && this.#status !== 'rotated') this.#status = 'modified';
      this.#narrate('change', note.narrate);
      return record.data;
    });
  }

  /**
   * signIn replaces the session ID and marks the session as `user`'s: the
   * defence against session fixation (OWASP Session Management Cheat Sheet,
   * "Renew the Session ID After Any Privilege Level Change"). A guest's
   * data comes along (and a user's own, signing in again); another user's
   * never does, as Django flushes a session that changes hands. Either way
   * the old ID stops working and its file is deleted.
   */
  async signIn(user: string, generation: number, reason: 'sign-in' | 'registration' = 'sign-in'): Promise<void> {
    // Session fixation: the ID the browser came with (perhaps planted) is never the one that becomes signed in.
    const keepId = !this.#deps.defences['rotate-on-sign-in'];
    await this.#replace(
      (old) => {
        const carried = old !== null && (old.user === null || old.user === user);
        const base = carried ? old : newRecord(this.#now, `created at ${reason}`);
        // The signed-in session is this browser's: labelled by this request, whatever the guest session said.
        return { record: { ...base, createdAt: this.#iso(), user, generation, device: deviceLabel(this.#userAgent) }, carried };
      },
      reason,
      keepId,
    );
  }

  /**
   * renew replaces the session ID of a signed-in session and records the
   * user's new password generation (after a password change). The absolute
   * timeout keeps counting from the original start.
   */
  async renew(generation: number, reason: RotationReason): Promise<void> {
    await this.#replace((old) => {
      if (old === null) throw this.#endedInFlight();
      return { record: { ...old, generation }, carried: true };
    }, reason);
  }

  /**
   * destroy ends the session (logout, or a session whose user's password
   * changed) and clears the cookie. The note of its ending is written before
   * the file is deleted, so a request that finds the file gone finds the
   * note. With no live session there is no file to delete, but a cookie the
   * request carried is cleared all the same: a stale one is of no use.
   * Without either it does nothing.
   */
  async destroy(ending: Ending): Promise<void> {
    const id = this.#id;
    if (id === null && !this.#cookieSent) return;
    if (id !== null) {
      await this.#locked(id, async () => {
        await this.#deps.endings.record(storageKey(id), ending, this.#now);
        await this.#deps.store.destroy(id);
      });
      this.#narrate('file', () => `deleted ${this.#file(id)} (${ending}); the reason is noted in ${this.#deps.endings.place} for a day`);
      this.#ending = ending;
    }
    this.#ended('destroyed');
  }

  /**
   * signOut is logout: the session is destroyed on the server, not only
   * forgotten by the browser. (Only the lab, with `server-side-logout`
   * off, clears the cookie and keeps the session.)
   */
  async signOut(): Promise<void> {
    const id = this.#id;
    // Replaying an ID after logout: the stored session goes, so a copy of the cookie is worth nothing.
    if (this.#deps.defences['server-side-logout'] || id === null) return this.destroy('signed-out');
    this.noteWeakened('server-side-logout');
    await this.#locked(id, async () => {
      const fresh = await this.#liveRecord(id);
      if (fresh !== null) await this.#deps.store.update(id, this.#stamped({ ...fresh, events: this.#withWeakened(fresh.events) }));
    });
    this.#ended('destroyed');
  }

  /**
   * cookieUpdate decides the cookie from the status: a new ID is sent, a
   * destroyed session's cookie is cleared, anything else needs no header.
   * lib/sessions/session-cookie.ts writes it.
   */
  cookieUpdate(): CookieUpdate | null {
    if ((this.#status === 'created' || this.#status === 'rotated') && this.#id !== null) return { kind: 'set', id: this.#id };
    if (this.#status === 'destroyed') return { kind: 'clear' };
    return null;
  }

  async #createGuest(note: ChangeNote, change: (data: SessionData) => SessionData): Promise<SessionData> {
    // Filling the disk with guest files: refused past the limits, before anything is written.
    await this.#deps.admission.admitGuest(this.#address, this.#now);
    if (this.#ending !== null) this.#narrate('session', `the cookie's session had ended (${this.#ending}): this change starts a new guest session`);
    const id = this.#newId();
    this.#issuing(id);
    const created = newRecord(this.#now, 'created as guest');
    const events = note.event === undefined ? created.events : withEvent(created.events, this.#now, note.event);
    const record = this.#stamped({ ...created, data: change(created.data), events: this.#withWeakened(events), device: deviceLabel(this.#userAgent) });
    await this.#deps.store.create(id, record);
    this.#deps.admission.created();
    this.#narrate('file', () => `created ${this.#file(id)} for new guest session ${idPrefix(id)} (${this.#deps.writeMethod})`);
    this.#narrate('change', note.narrate);
    this.#id = id;
    this.#record = record;
    this.#status = 'created';
    return record.data;
  }

  /**
   * #replace moves the session to a fresh ID under the old ID's lock: `build`
   * makes the new record from the old one (null when there was none) and
   * says whether the old data was carried over. With `keepId` (only the
   * lab's, `rotate-on-sign-in` off) a live session keeps its ID instead.
   */
  async #replace(
    build: (old: SessionRecord | null) => { record: SessionRecord; carried: boolean },
    why: RotationReason,
    keepId = false,
  ): Promise<void> {
    const oldId = this.#id;
    let newId = oldId;
    const move = async (): Promise<void> => {
      const old = oldId === null ? null : await this.#liveRecord(oldId);
      const { record: base, carried } = build(old);
      let events = base.events;
      const kept = keepId && oldId !== null && old !== null;
      newId = kept ? oldId : this.#newId();
      if (kept) this.noteWeakened('rotate-on-sign-in');
      else this.#issuing(newId);
      if (!kept && oldId !== null && old !== null) {
        const rotation = { reason: why, from: idPrefix(oldId), to: idPrefix(newId) };
        const event = `ID replaced at ${why} (was ${rotation.from}, now ${rotation.to})`;
        // Another user's session leaves nothing behind, not even its history.
        if (carried) events = withEvent(base.events, this.#now, event, rotation);
        this.#narrate('rotate', `${event}; ${carried ? 'cart and theme carried over' : "another user's session: nothing carried over"}`);
      }
      const record = this.#stamped({ ...base, lastSeenAt: this.#iso(), events: this.#withWeakened(events) });
      await this.#deps.store.create(newId, record);
      const written = newId;
      this.#narrate('file', () => `wrote ${this.#file(written)} (${this.#deps.writeMethod})`);
      if (old === null) this.#deps.admission.created();
      if (oldId !== null && !kept) {
        await this.#deps.store.destroy(oldId);
        this.#narrate('file', () => `deleted ${this.#file(oldId)}: the old ID is dead`);
      }
      this.#record = record;
    };
    await (oldId === null ? move() : this.#locked(oldId, move));
    this.#id = newId;
    // A kept ID needs no new cookie: the browser already holds it.
    this.#status = newId === oldId ? 'modified' : 'rotated';
  }

  /** #newId is a fresh session ID. */
  #newId(): string {
    // Guessing the next visitor's ID: 256 random bits each time, nothing to work out from an ID seen before.
    if (this.#deps.defences['random-ids']) return newSessionId();
    this.noteWeakened('random-ids');
    return countedSessionId();
  }

  /** #issuing notes, in the lab, how a new ID goes out weakened: a cookie without HttpOnly, a file named by the raw ID. */
  #issuing(id: string): void {
    if (!this.#cookie.httpOnly) this.noteWeakened('http-only');
    if (fileKey(id, this.#deps.defences) === id) this.noteWeakened('hashed-file-names');
  }

  /** #locked runs the read-modify-write `task` of session `id` under its lock. */
  #locked<T>(id: string, task: () => Promise<T>): Promise<T> {
    // Lost updates: two requests of one session never read, change and write it at the same time.
    if (this.#deps.defences['session-lock']) return this.#deps.lock.run(id, task);
    this.noteWeakened('session-lock');
    return task();
  }

  /**
   * #stamped is `record` as this server may write it: in the lab, marked
   * `lab`, so that a server outside the lab on the same directory never
   * trusts what was made while defences were off.
   */
  #stamped(record: SessionRecord): SessionRecord {
    return this.#deps.defences.lab ? { ...record, lab: true } : record;
  }

  /** #withWeakened is `events` with this request's lab notes added, once each. */
  #withWeakened(events: SessionEvent[]): SessionEvent[] {
    const notes = this.#weakenedSteps;
    this.#weakenedSteps = [];
    return notes.reduce((all, name) => withEvent(all, this.#now, weakenedNote(name)), events);
  }

  /**
   * #learnEnding finds out why the cookie's session is gone: an expiry just
   * found on read (noted now, for the requests that follow), or a note
   * left when it ended. Only the holder of the ID can ask: the note is named
   * by its hash.
   */
  async #learnEnding(id: string, miss: MissReason | 'lab'): Promise<void> {
    if (miss === 'expired-idle' || miss === 'expired-absolute') {
      this.#ending = endingOfExpiry(miss === 'expired-idle' ? 'idle' : 'absolute');
      await this.#deps.endings.record(storageKey(id), this.#ending, this.#now);
      return;
    }
    if (miss !== 'not-found') return;
    this.#ending = await this.#deps.endings.find(storageKey(id));
    if (this.#ending !== null) this.#narrate('session', `a note in ${this.#deps.endings.place} says how it ended: ${this.#ending}`);
  }

  /** #touch slides the idle timeout by rewriting lastSeenAt, at most once per touch interval. */
  async #touch(id: string): Promise<void> {
    await this.#locked(id, async () => {
      const fresh = await this.#liveRecord(id);
      if (fresh === null || !isTouchDue(fresh, this.#now, idleTimeoutOf(fresh, this.#deps.timeouts))) {
        this.#record = fresh ?? this.#record;
        return;
      }
      const record = this.#stamped({ ...fresh, lastSeenAt: this.#iso(), events: this.#withWeakened(fresh.events) });
      if (await this.#deps.store.update(id, record)) this.#record = record;
      this.#narrate('touch', `lastSeenAt was due for a rewrite: idle timer slid forward`);
    });
  }

  async #readFresh(id: string): Promise<SessionRecord> {
    const fresh = await this.#liveRecord(id);
    if (fresh === null) throw this.#endedInFlight();
    return fresh;
  }

  /** #liveRecord re-reads the record under `id` inside its lock; why it is missing matters only at load. */
  async #liveRecord(id: string): Promise<SessionRecord | null> {
    const lookup = trusted(this.#deps, await this.#deps.store.get(id, this.#now));
    return 'record' in lookup ? lookup.record : null;
  }

  async #update(id: string, changed: SessionRecord): Promise<void> {
    const record = this.#stamped({ ...changed, events: this.#withWeakened(changed.events) });
    if (!(await this.#deps.store.update(id, record))) throw this.#endedInFlight();
    this.#record = record;
    this.#narrate('file', () => `rewrote ${this.#file(id)} (${this.#deps.writeMethod})`);
  }

  #endedInFlight(): HttpError {
    this.#narrate('session', 'ended while this request was in flight: nothing written');
    this.#ended('none');
    return new HttpError(409, 'session_ended', 'Your session ended while this request was in flight; nothing was saved.');
  }

  /** #ended leaves this request without a session: `destroyed` clears the cookie, `none` leaves it be. */
  #ended(status: 'none' | 'destroyed'): void {
    this.#id = null;
    this.#record = null;
    this.#status = status;
  }

  #file(id: string): string {
    return shortFileName(this.#deps, id);
  }

  #iso(): string {
    return new Date(this.#now).toISOString();
  }
}

/** shortFileName is how the explain log names where a session lives: enough of its file id to find it with `ls` or a query. */
function shortFileName(deps: SessionDeps, id: string): string {
  return deps.where(fileKey(id, deps.defences), SHORT_HASH_LENGTH);
}

/** What the explain log says of a session the lab made, found by a server outside the lab. */
const LAB_RECORD_NARRATION = 'made by the lab (npm run lab), where defences can be off: never trusted outside it, no session';

/**
 * trusted is `lookup` as this server may believe it: a record the lab
 * made (marked `lab`, perhaps under a counted ID or with its defences off)
 * is no session to a server outside the lab.
 */
function trusted(deps: SessionDeps, lookup: Lookup): Lookup | { miss: 'lab' } {
  return 'record' in lookup && lookup.record.lab === true && !deps.defences.lab ? { miss: 'lab' } : lookup;
}
