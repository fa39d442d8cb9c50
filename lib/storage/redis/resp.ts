/**
 * RESP2, the protocol Redis speaks on the wire: every command goes out as an
 * array of bulk strings, and every reply comes back as one of five types,
 * told apart by its first byte.
 *
 *   reply         = simple-string / error / integer / bulk-string / array
 *   simple-string = "+" text CRLF               ; +OK
 *   error         = "-" text CRLF               ; -WRONGTYPE Operation against a key …
 *   integer       = ":" ["-"] 1*DIGIT CRLF      ; :1
 *   bulk-string   = "$" length CRLF bytes CRLF  ; $5 CRLF hello CRLF
 *                 / "$-1" CRLF                  ; the null bulk string: no such key
 *   array         = "*" count CRLF count(reply) ; replies nest inside arrays
 *                 / "*-1" CRLF                  ; the null array
 *
 * TCP delivers these as a stream of chunks cut anywhere, even inside
 * "\r\n" or a multi-byte character, so the parser keeps what it has not
 * yet used and the arrays it is still filling, and picks up where it left.
 */

/** RespError is an error reply ("-ERR …"): an answer from Redis, not a broken connection. */
export class RespError {
  readonly message: string;

  constructor(message: string) {
    this.message = message;
  }
}

/** RespValue is one reply: text, a number, null (the null bulk string or array), an error reply, or an array of replies. */
export type RespValue = string | number | null | RespError | RespValue[];

/** RespProtocolError: the bytes are not RESP, so nothing after them can be trusted; the connection must be closed. */
export class RespProtocolError extends Error {
  constructor(problem: string) {
    super(`not a Redis reply: ${problem}`);
    this.name = 'RespProtocolError';
  }
}

/** MAX_LINE_BYTES bounds a header line or a simple string: Redis's own are far shorter, and an endless line is garbage. */
export const MAX_LINE_BYTES = 64 * 1024;
/** MAX_BULK_BYTES is Redis's own limit on a string (proto-max-bulk-len, 512 MiB). */
export const MAX_BULK_BYTES = 512 * 1024 * 1024;
/** MAX_DEPTH bounds the nesting of arrays; no reply Cloakroom asks for nests more than two deep. */
export const MAX_DEPTH = 16;

const CR = 0x0d;
const LF = 0x0a;
const DECIMAL = /^-?\d{1,18}$/;

/** An array still being filled: how many replies it expects, and those it has. */
interface OpenArray {
  expected: number;
  items: RespValue[];
}

/** What the parser is waiting for: a type byte and header line, or the body of a bulk string whose length it knows. */
type Awaiting = { kind: 'header' } | { kind: 'bulk'; length: number };

/**
 * RespParser turns the bytes of one connection into replies, in order.
 * `push` takes each chunk as it arrives and calls `onReply` for every reply
 * completed by it; bytes of a reply not yet complete are kept for the next
 * chunk. A stream that is not RESP makes `push` throw RespProtocolError,
 * after which the parser must not be used again.
 */
export class RespParser {
  #onReply: (reply: RespValue) => void;
  /** #chunks are the bytes received and not yet parsed; #buffered is their total length. */
  #chunks: Buffer[] = [];
  #buffered = 0;
  #open: OpenArray[] = [];
  #awaiting: Awaiting = { kind: 'header' };

  constructor(onReply: (reply: RespValue) => void) {
    this.#onReply = onReply;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    // A large bulk string arrives in many chunks: gather them, and join them once, when it is all there.
    if (this.#awaiting.kind === 'bulk' && this.#buffered < this.#awaiting.length + 2) return;
    const data = this.#chunks.length === 1 ? chunk : Buffer.concat(this.#chunks, this.#buffered);
    const used = this.#parse(data);
    this.#chunks = used === data.length ? [] : [data.subarray(used)];
    this.#buffered = data.length - used;
  }

  /** #parse reads as many whole values from `data` as it holds and returns how many bytes it used. */
  #parse(data: Buffer): number {
    let at = 0;
    for (;;) {
      if (this.#awaiting.kind === 'bulk') {
        const { length } = this.#awaiting;
        if (data.length - at < length + 2) return at;
        if (data[at + length] !== CR || data[at + length + 1] !== LF)
          throw new RespProtocolError('a bulk string is longer than its length');
        this.#awaiting = { kind: 'header' };
        this.#complete(data.toString('utf8', at, at + length));
        at += length + 2;
        continue;
      }
      const end = data.indexOf(LF, at);
      if (end === -1) {
        if (data.length - at > MAX_LINE_BYTES) throw new RespProtocolError(`a line longer than ${MAX_LINE_BYTES} bytes`);
        return at;
      }
      if (end === at || data[end - 1] !== CR) throw new RespProtocolError('a line that does not end in CRLF');
      this.#header(data[at] ?? 0, data.toString('utf8', at + 1, end - 1));
      at = end + 1;
    }
  }

  /** #header handles one line: a whole reply (simple, error, integer, null), or the start of a bulk string or array. */
  #header(type: number, line: string): void {
    switch (type) {
      case 0x2b /* + */:
        return this.#complete(line);
      case 0x2d /* - */:
        return this.#complete(new RespError(line));
      case 0x3a /* : */:
        return this.#complete(decimal(line, 'integer'));
      case 0x24 /* $ */: {
        const length = decimal(line, 'bulk length');
        if (length === -1) return this.#complete(null);
        if (length < 0 || length > MAX_BULK_BYTES) throw new RespProtocolError(`bulk length ${line}`);
        this.#awaiting = { kind: 'bulk', length };
        return;
      }
      case 0x2a /* * */: {
        const count = decimal(line, 'array length');
        if (count === -1) return this.#complete(null);
        if (count < 0) throw new RespProtocolError(`array length ${line}`);
        if (count === 0) return this.#complete([]);
        if (this.#open.length >= MAX_DEPTH) throw new RespProtocolError(`arrays nested more than ${MAX_DEPTH} deep`);
        this.#open.push({ expected: count, items: [] });
        return;
      }
      default:
        throw new RespProtocolError(`unknown type byte 0x${type.toString(16).padStart(2, '0')}`);
    }
  }

  /** #complete places a finished value in the array being filled, closing every array it completes, or hands it out. */
  #complete(value: RespValue): void {
    let finished = value;
    for (;;) {
      const open = this.#open.at(-1);
      if (open === undefined) return this.#onReply(finished);
      open.items.push(finished);
      if (open.items.length < open.expected) return;
      this.#open.pop();
      finished = open.items;
    }
  }
}

function decimal(text: string, what: string): number {
  if (!DECIMAL.test(text)) throw new RespProtocolError(`${what} "${text.slice(0, 32)}"`);
  return Number(text);
}

/**
 * encodeCommand writes a command as RESP: an array of bulk strings, each
 * with its length in bytes (not characters), so any value, spaces,
 * newlines and all, travels as it is.
 */
export function encodeCommand(args: readonly string[]): string {
  let out = `*${args.length}\r\n`;
  for (const arg of args) out += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
  return out;
}
