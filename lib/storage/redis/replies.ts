import { StoreError } from '../../sessions/store.ts';
import type { RespValue } from './resp.ts';

/**
 * The shapes the stores expect of a reply. Each command has one documented
 * reply type; any other means the key holds something Cloakroom did not
 * write, or the server is not Redis, and that is a StoreError, not a crash.
 */

/** textOrNull is a bulk string reply, or null for the null reply (no such key). */
export function textOrNull(reply: RespValue, command: string): string | null {
  if (reply === null || typeof reply === 'string') return reply;
  return unexpected(reply, command);
}

export function integer(reply: RespValue, command: string): number {
  return typeof reply === 'number' ? reply : unexpected(reply, command);
}

/** list is an array reply of bulk strings, null members included (MGET of missing keys). */
export function list(reply: RespValue, command: string): Array<string | null> {
  if (Array.isArray(reply) && reply.every((item) => item === null || typeof item === 'string')) return reply;
  return unexpected(reply, command);
}

/** scanPage is a SCAN reply: the cursor for the next call ("0" when done) and the keys of this page. */
export function scanPage(reply: RespValue): { cursor: string; keys: string[] } {
  if (Array.isArray(reply) && typeof reply[0] === 'string' && Array.isArray(reply[1]) && reply[1].every((key) => typeof key === 'string')) {
    return { cursor: reply[0], keys: reply[1] };
  }
  return unexpected(reply, 'SCAN');
}

function unexpected(reply: RespValue, command: string): never {
  const shape = reply === null ? 'null' : Array.isArray(reply) ? 'an array' : typeof reply;
  throw new StoreError(`redis ${command}`, new Error(`unexpected reply to ${command}: ${shape}`));
}
