import type { IncomingMessage } from 'node:http';
import { HttpError } from './http-error.ts';

/** MAX_BODY_BYTES is the limit on a request body (16 KiB): larger ones get 413 before they are read. */
export const MAX_BODY_BYTES = 16 * 1024;

/** BodyKind is how the client sent the body, and so how it wants the answer: forms get redirects, JSON gets JSON. */
export type BodyKind = 'form' | 'json';

/**
 * Fields is a parsed body, one entry per field name. A form's values are
 * always strings (the first of a repeated name wins); a JSON object's
 * values are kept as sent, strings or not, so each route checks the type of
 * every field it uses.
 */
export type Fields = Record<string, unknown>;

/**
 * bodyKind reads the request's Content-Type: `application/json` or
 * `application/x-www-form-urlencoded` (parameters such as charset allowed),
 * `null` when there is none, and 415 for anything else.
 */
export function bodyKind(req: IncomingMessage): BodyKind | null {
  const header = req.headers['content-type'];
  if (header === undefined || header.trim() === '') return null;
  const mediaType = (header.split(';', 1)[0] ?? '').trim().toLowerCase();
  if (mediaType === 'application/json') return 'json';
  if (mediaType === 'application/x-www-form-urlencoded') return 'form';
  throw new HttpError(415, 'unsupported_media_type', 'Send application/json or application/x-www-form-urlencoded.');
}

/**
 * readBody reads and parses the request body into an object.
 *
 * - 413 when Content-Length says the body is over MAX_BODY_BYTES (nothing is
 *   read), or when a chunked body grows past it (reading stops there).
 * - 415 for a Content-Type other than form or JSON; a missing one reads as a form.
 * - 400 for JSON that does not parse or is not an object, and for a body
 *   that is not valid UTF-8.
 */
export async function readBody(req: IncomingMessage): Promise<{ kind: BodyKind; fields: Fields }> {
  const kind = bodyKind(req) ?? 'form';
  if (declaresTooLargeBody(req)) throw tooLarge();
  const text = await readText(req);
  return { kind, fields: kind === 'json' ? parseJson(text) : parseForm(text) };
}

/** declaresTooLargeBody is true when Content-Length already says the body is over MAX_BODY_BYTES. */
export function declaresTooLargeBody(req: IncomingMessage): boolean {
  const declared = req.headers['content-length'];
  return declared !== undefined && Number(declared) > MAX_BODY_BYTES;
}

function tooLarge(): HttpError {
  return new HttpError(413, 'body_too_large', `Request bodies are limited to ${MAX_BODY_BYTES} bytes.`, {
    headers: { Connection: 'close' },
  });
}

async function readText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) throw tooLarge();
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof HttpError) throw error;
    // The client hung up part-way ("aborted"): a bad request, not a failure of ours to log.
    throw new HttpError(400, 'body_incomplete', 'The request body ended before it was complete.');
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new HttpError(400, 'bad_encoding', 'The body is not valid UTF-8.');
  }
}

function parseJson(text: string): Fields {
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'malformed_json', 'The body is not valid JSON.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HttpError(400, 'malformed_json', 'The JSON body must be an object.');
  }
  return value as Fields;
}

function parseForm(text: string): Fields {
  // A null-prototype object, so a field named __proto__ is only a field.
  const fields = Object.create(null) as Fields;
  for (const [name, value] of new URLSearchParams(text)) {
    if (!(name in fields)) fields[name] = value;
  }
  return fields;
}
