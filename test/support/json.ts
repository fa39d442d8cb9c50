import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { Reply } from './client.ts';

/**
 * Typed readers for the JSON the server writes: its answers and its files.
 * JSON.parse gives `any`, which would switch the type checker off for every
 * test that touches the result; these readers take `unknown`, check the shape
 * a test relies on (failing the test with the value when it is wrong), and
 * hand back the same value, typed. They never copy or tidy it, so a test's
 * deepEqual still sees exactly what the server wrote.
 */

/** JsonObject is a JSON object whose fields a test has not checked yet: read them as `unknown`. */
export type JsonObject = Readonly<Record<string, unknown>>;

/** jsonObject is `value` as an object; it fails the test when `value` is an array, null or a primitive. */
function jsonObject(value: unknown, what = 'the JSON'): JsonObject {
  assertObject(value, what);
  return value;
}

/** parseJsonObject parses `text` and checks that it holds an object. */
export function parseJsonObject(text: string, what = 'the JSON'): JsonObject {
  return jsonObject(JSON.parse(text), what);
}

/** stringArray is `value` as a list of strings; it fails the test when it is anything else. */
function stringArray(value: unknown, what: string): string[] {
  assertStrings(value, what);
  return value;
}

/** bodyOf is a reply's body as a JSON object (the API answers only objects). */
export function bodyOf(reply: Reply): JsonObject {
  return jsonObject(reply.json, `the body ${reply.text}`);
}

/** cartOf is the cart a cart route answered with (`{"cart": [...]}`). */
export function cartOf(reply: Reply): string[] {
  return stringArray(bodyOf(reply).cart, `the cart in ${reply.text}`);
}

/**
 * SessionShape is what a stored session record and the inspector's view of
 * it have in common, checked: its times, its user, its data and its history.
 * Any other field reads as `unknown`.
 */
export interface SessionShape extends JsonObject {
  createdAt: string;
  lastSeenAt: string;
  user: string | null;
  data: JsonObject & { cart: string[] };
  events: Array<JsonObject & { at: string; event: string }>;
}

/** SessionView is the answer of GET /api/session: the session's shape plus each ID replacement as data. */
export interface SessionView extends SessionShape {
  rotations: Array<JsonObject & { at: string; reason: string; from: string; to: string }>;
}

/** sessionView reads the inspector's answer (GET /api/session). */
export function sessionView(reply: Reply): SessionView {
  const what = `the session view ${reply.text}`;
  const view = sessionShape(reply.json, what);
  assertArray(view.rotations, `${what}: rotations`);
  for (const rotation of view.rotations) assertStringFields(rotation, ['at', 'reason', 'from', 'to'], `${what}: a rotation`);
  return view as SessionView;
}

/** readSessionFile reads a stored session record as it is on disk. */
export async function readSessionFile(file: string): Promise<SessionShape> {
  return sessionShape(JSON.parse(await readFile(file, 'utf8')), file);
}

/** StoredUser is one account of the users file, with its password entry (algorithm, parameters, salt, hash) as an object. */
export interface StoredUser extends JsonObject {
  password: JsonObject;
}

/** usersIn reads the accounts out of the users file's text (`{"users": [...]}`). */
export function usersIn(text: string): StoredUser[] {
  const { users } = parseJsonObject(text, 'the users file');
  assertArray(users, 'the users file: users');
  for (const user of users) {
    assertObject(user, 'the users file: a user');
    assertObject(user.password, 'the users file: a password');
  }
  return users as StoredUser[];
}

function sessionShape(value: unknown, what: string): SessionShape {
  assertStringFields(value, ['createdAt', 'lastSeenAt'], what);
  assert.ok(value.user === null || typeof value.user === 'string', `${what}: user is neither null nor a name`);
  assertObject(value.data, `${what}: data`);
  assertStrings(value.data.cart, `${what}: data.cart`);
  assertArray(value.events, `${what}: events`);
  for (const event of value.events) assertStringFields(event, ['at', 'event'], `${what}: an event`);
  return value as SessionShape;
}

function assertObject(value: unknown, what: string): asserts value is JsonObject {
  assert.ok(typeof value === 'object' && value !== null && !Array.isArray(value), `${what} is not a JSON object: ${JSON.stringify(value)}`);
}

function assertArray(value: unknown, what: string): asserts value is unknown[] {
  assert.ok(Array.isArray(value), `${what} is not a list: ${JSON.stringify(value)}`);
}

function assertStrings(value: unknown, what: string): asserts value is string[] {
  assertArray(value, what);
  assert.ok(
    value.every((item) => typeof item === 'string'),
    `${what} is not a list of strings: ${JSON.stringify(value)}`,
  );
}

function assertStringFields(value: unknown, fields: readonly string[], what: string): asserts value is JsonObject {
  assertObject(value, what);
  for (const field of fields) assert.equal(typeof value[field], 'string', `${what}: ${field} is not a string`);
}
