import { HttpError } from './http-error.ts';

/**
 * The input rules (README, Routes), each a small function so that routes read as
 * the rules they apply. "Characters" are Unicode code points, not UTF-16
 * units, so an emoji counts as one.
 *
 *   username = 3*32( ALPHA / DIGIT / "_" / "." / "-" )
 */
const USERNAME_PATTERN = /^[A-Za-z0-9_.-]{3,32}$/;
// C0 and C1 control characters, DEL, and the Unicode line/paragraph separators.
// eslint-disable-next-line no-control-regex -- matching control characters is this pattern's whole purpose
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 1024;
export const DISPLAY_NAME_MAX = 64;

export function isValidUsername(value: unknown): value is string {
  return typeof value === 'string' && USERNAME_PATTERN.test(value);
}

export function isValidPassword(value: unknown): value is string {
  return typeof value === 'string' && isLengthBetween(value, PASSWORD_MIN, PASSWORD_MAX);
}

/** isValidText: a string of `min` to `max` characters with no control characters (display names, cart items). */
export function isValidText(value: unknown, min: number, max: number): value is string {
  return typeof value === 'string' && isLengthBetween(value, min, max) && !CONTROL_CHARACTERS.test(value);
}

/** requireText returns `fields[name]` when it is valid text, else throws 400 naming the field. */
export function requireText(fields: Record<string, unknown>, name: string, min: number, max: number): string {
  const value = fields[name];
  if (!isValidText(value, min, max)) {
    throw new HttpError(400, `invalid_${name}`, `${name} must be text of ${min} to ${max} characters.`);
  }
  return value;
}

function isLengthBetween(value: string, min: number, max: number): boolean {
  // A cheap bound first: a string of more than 2 × max UTF-16 units cannot have max code points.
  if (value.length < min || value.length > 2 * max) return false;
  const length = [...value].length;
  return length >= min && length <= max;
}
