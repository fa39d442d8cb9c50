import { createHash, randomBytes } from 'node:crypto';
import type { Defences } from '../lab/switches.ts';

/** SESSION_ID_BYTES: 256 bits of randomness, far beyond guessing (OWASP asks for at least 64 bits of entropy). */
export const SESSION_ID_BYTES = 32;

/**
 * A session ID as issued: 32 random bytes in base64url without padding is
 * always exactly 43 characters of this alphabet.
 *
 *   session-id = 43( ALPHA / DIGIT / "-" / "_" )
 */
const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** newSessionId draws a fresh ID from the operating system's CSPRNG. */
export function newSessionId(): string {
  return randomBytes(SESSION_ID_BYTES).toString('base64url');
}

/**
 * isWellFormedSessionId checks a cookie value before anything else looks at
 * it. Whatever fails here is "no session" without a single file read, so no
 * cookie can steer a path (`../`, NUL, `%2f`) towards the file system.
 */
export function isWellFormedSessionId(value: string | undefined): value is string {
  return value !== undefined && SESSION_ID_PATTERN.test(value);
}

/**
 * storageKey is the hex SHA-256 of an ID, the name a session is stored
 * under. Storing the hash, never the ID, means a leaked sessions/ folder or
 * backup holds no token anyone can replay (the fix for CVE-2019-16782 in
 * Rack). SHA-256 without salt is enough: the input is 256 random bits, so
 * there is nothing to brute-force.
 */
export function storageKey(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}

/**
 * fileKey is the name the files store keeps a session under: its
 * storageKey. Only the lab, with `hashed-file-names` off, names the file
 * after the raw ID, and a server outside the lab never reads such a file.
 */
export function fileKey(id: string, defences: Defences): string {
  // A copied sessions/ folder as a bag of tickets: the name is the ID's hash, which no cookie can carry back.
  return defences['hashed-file-names'] ? storageKey(id) : id;
}

/** idPrefix is what logs and pages may show of an ID: its first 6 characters and an ellipsis. */
export function idPrefix(id: string): string {
  return `${id.slice(0, 6)}…`;
}
