import { isValidText } from '../validation.ts';
import { MAX_DEVICE_LABEL_LENGTH } from './device.ts';

/**
 * A session record is the "coat": everything the server keeps for one
 * session, stored as one pretty-printed JSON file. It never holds the ID.
 */

/** Theme is the one preference a session keeps. */
export type Theme = 'light' | 'dark';

/** SessionData is what the app keeps for the visitor, signed in or not. */
export interface SessionData {
  cart: string[];
  theme: Theme | null;
}

/**
 * Rotation is an ID replacement in structured form, kept beside the event's
 * sentence so that nothing (the inspector least of all) has to read it back
 * out of prose. The IDs appear only as prefixes (idPrefix).
 */
export interface Rotation {
  /** reason is what replaced the ID: `sign-in`, `registration` or `password change` (RotationReason in lib/sessions/session.ts). */
  reason: string;
  from: string;
  to: string;
}

/** SessionEvent is one line of the session's history, shown by the inspector. */
export interface SessionEvent {
  at: string;
  event: string;
  /** rotation is there when the event is an ID replacement. */
  rotation?: Rotation;
}

export interface SessionRecord {
  version: 1;
  /** When the session began (ISO 8601); the absolute timeout counts from here and never slides. */
  createdAt: string;
  /** When the session was last used, rewritten at most once per touch interval; the idle timeout counts from here. */
  lastSeenAt: string;
  /** The signed-in username, or null for a guest. */
  user: string | null;
  /** The user's password generation when this session signed in; a password change bumps it and so ends older sessions. */
  generation: number | null;
  data: SessionData;
  events: SessionEvent[];
  /**
   * device is a coarse label of the browser that created the session, such
   * as "Firefox on Linux" (lib/sessions/device.ts), for the devices page.
   * Records written before devices were listed have none.
   */
  device?: string;
  /**
   * lab marks a record written by the lab (`npm run lab`), where defences
   * can be off: a server outside the lab never trusts it
   * (lib/sessions/session.ts `trusted`).
   */
  lab?: true;
}

/** Timeouts are SESSION_IDLE_TIMEOUT, SESSION_ABSOLUTE_TIMEOUT and GUEST_IDLE_TIMEOUT, in milliseconds. */
export interface Timeouts {
  idleMs: number;
  absoluteMs: number;
  /** guestIdleMs is the idle timeout of a guest session (no user); idleMs when absent. */
  guestIdleMs?: number;
}

/** MAX_EVENTS keeps the history short; older events fall off the front. */
export const MAX_EVENTS = 20;
/** The cart's limits: how many items, and how long each may be (in characters). */
export const MAX_CART_ITEMS = 100;
export const MAX_CART_ITEM_LENGTH = 64;
/** The touch interval is a tenth of the idle timeout, but never more than this. */
export const MAX_TOUCH_INTERVAL_MS = 60_000;

/** newRecord starts a session at `now` with `data` (copied) and a first event. */
export function newRecord(now: number, event: string, data: SessionData = { cart: [], theme: null }): SessionRecord {
  const at = new Date(now).toISOString();
  return {
    version: 1,
    createdAt: at,
    lastSeenAt: at,
    user: null,
    generation: null,
    data: { cart: [...data.cart], theme: data.theme },
    events: [{ at, event }],
  };
}

/** withEvent returns `events` with one more at the end (with its rotation, if it is one), trimmed to MAX_EVENTS. */
export function withEvent(events: readonly SessionEvent[], now: number, event: string, rotation?: Rotation): SessionEvent[] {
  const added: SessionEvent = rotation === undefined ? { at: new Date(now).toISOString(), event } : { at: new Date(now).toISOString(), event, rotation };
  return [...events, added].slice(-MAX_EVENTS);
}

/**
 * idleTimeoutOf is the idle timeout that applies to `record`: a guest's is
 * its own, shorter one, since a guest session costs a file like any other
 * but keeps only a cart, and whoever can make guests by the thousand should
 * not get to keep them for long; a sign-in makes the session a user's, with
 * the user's timeout. Judged here only, so the store, the sweeper and the
 * inspector agree.
 */
export function idleTimeoutOf(record: SessionRecord, timeouts: Timeouts): number {
  return record.user === null ? (timeouts.guestIdleMs ?? timeouts.idleMs) : timeouts.idleMs;
}

/** expiryTimes gives both deadlines of a record in epoch milliseconds. */
export function expiryTimes(record: SessionRecord, timeouts: Timeouts): { idle: number; absolute: number } {
  return {
    idle: Date.parse(record.lastSeenAt) + idleTimeoutOf(record, timeouts),
    absolute: Date.parse(record.createdAt) + timeouts.absoluteMs,
  };
}

/** Expiry names the deadline a session has passed: unused for too long, or simply too old. */
export type Expiry = 'idle' | 'absolute';

/** expiryAt tells which deadline `record` has reached at `now` (the absolute one first), or null while it is alive. */
export function expiryAt(record: SessionRecord, now: number, timeouts: Timeouts): Expiry | null {
  const { idle, absolute } = expiryTimes(record, timeouts);
  if (now >= absolute) return 'absolute';
  return now >= idle ? 'idle' : null;
}

/** isExpired is true once either deadline has been reached at `now`. */
export function isExpired(record: SessionRecord, now: number, timeouts: Timeouts): boolean {
  return expiryAt(record, now, timeouts) !== null;
}

/**
 * touchIntervalMs is how stale `lastSeenAt` may get before a request
 * rewrites it: a tenth of the idle timeout, at most a minute. The idle
 * deadline therefore runs up to this much early, in exchange for not writing
 * the file on every request.
 */
export function touchIntervalMs(idleMs: number): number {
  return Math.min(idleMs / 10, MAX_TOUCH_INTERVAL_MS);
}

/** isTouchDue tells whether a request at `now` should rewrite `lastSeenAt`, `idleMs` being the record's idle timeout (idleTimeoutOf). */
export function isTouchDue(record: SessionRecord, now: number, idleMs: number): boolean {
  return now - Date.parse(record.lastSeenAt) >= touchIntervalMs(idleMs);
}

/** deepFreeze makes a record read-only, so a record shared by a cache cannot be changed by accident. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
    Object.freeze(value);
  }
  return value;
}

/**
 * parseRecord turns file contents into a record, or null when they are not
 * one: not JSON, the wrong shape, impossible dates or over-long fields. A
 * file is only data from disk, so it is checked like any other input.
 */
export function parseRecord(text: string): SessionRecord | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  return isRecord(value) ? value : null;
}

function isRecord(value: unknown): value is SessionRecord {
  if (!isObject(value)) return false;
  return (
    value.version === 1 &&
    isDate(value.createdAt) &&
    isDate(value.lastSeenAt) &&
    (value.user === null || (typeof value.user === 'string' && value.user.length > 0)) &&
    (value.generation === null || Number.isSafeInteger(value.generation)) &&
    isData(value.data) &&
    Array.isArray(value.events) &&
    value.events.every(isEvent) &&
    (value.device === undefined || isValidText(value.device, 1, MAX_DEVICE_LABEL_LENGTH)) &&
    (value.lab === undefined || value.lab === true)
  );
}

function isData(value: unknown): value is SessionData {
  return (
    isObject(value) &&
    Array.isArray(value.cart) &&
    value.cart.length <= MAX_CART_ITEMS &&
    // The same rule as the API's, in code points: an item of 40 emoji is 80 UTF-16 units, and still fine.
    value.cart.every((item) => isValidText(item, 1, MAX_CART_ITEM_LENGTH)) &&
    (value.theme === null || value.theme === 'light' || value.theme === 'dark')
  );
}

function isEvent(value: unknown): value is SessionEvent {
  return isObject(value) && isDate(value.at) && typeof value.event === 'string' && (value.rotation === undefined || isRotation(value.rotation));
}

function isRotation(value: unknown): value is Rotation {
  return isObject(value) && typeof value.reason === 'string' && typeof value.from === 'string' && typeof value.to === 'string';
}

function isDate(value: unknown): value is string {
  return typeof value === 'string' && !Number.isNaN(Date.parse(value));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
