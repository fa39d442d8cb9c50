import net from 'node:net';

/** RawResponse is the final (non-1xx) answer read off a raw connection. */
export interface RawResponse {
  status: number;
  /** statuses are every status line seen, interim ones (100 Continue) included. */
  statuses: number[];
  /** headers of the final answer, every line of them (a repeated header appears once per line). */
  headers: Headers;
  body: string;
}

export interface RawExchangeOptions {
  /** head: the request was HEAD, so the answer has no body whatever Content-Length says. */
  head?: boolean;
  /**
   * idleMs: when the connection has been quiet this long, half-close it (so
   * a request whose body never completes ends); when it is quiet that long
   * again, destroy it and report it as hung. Without it, wait for ever.
   */
  idleMs?: number;
  /**
   * untilClose: read until the server closes the connection (send
   * `Connection: close`), not only until an answer is complete, so that
   * bytes after it (a body on a HEAD answer) show in `body`.
   */
  untilClose?: boolean;
}

/** RawOutcome says how a raw exchange ended: with an answer, with the server closing without one, or hung. */
export type RawOutcome = { kind: 'answered'; response: RawResponse } | { kind: 'closed' } | { kind: 'hung' };

/**
 * RawExchange is one HTTP/1.1 request written byte by byte on its own TCP
 * connection, for what fetch() cannot send: targets it would normalise
 * (`/../`, `%2e`, absolute-form, NUL), a body that arrives slowly, broken
 * framing, odd methods, oversized headers.
 *
 * Unlike a client that half-closes after writing (which makes Node's server
 * end the connection before a slow answer is written), it keeps its side
 * open and reads until a whole answer has arrived or the server closes.
 */
export class RawExchange {
  readonly outcome: Promise<RawOutcome>;
  #socket: net.Socket;
  #chunks: Buffer[] = [];

  private constructor(socket: net.Socket, options: RawExchangeOptions) {
    this.#socket = socket;
    const chunks = this.#chunks;
    this.outcome = new Promise<RawOutcome>((resolve) => {
      let idleTimeouts = 0;
      const finish = (outcome: RawOutcome): void => {
        socket.destroy();
        resolve(outcome);
      };
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        if (options.untilClose === true) return;
        const response = parseResponse(Buffer.concat(chunks), options.head === true, false);
        if (response !== null) finish({ kind: 'answered', response });
      });
      socket.on('close', () => {
        const response = parseResponse(Buffer.concat(chunks), options.head === true, true);
        resolve(response === null ? { kind: 'closed' } : { kind: 'answered', response });
      });
      // A reset after the server has answered and closed is not a failure of the exchange.
      socket.on('error', () => undefined);
      if (options.idleMs !== undefined) {
        socket.setTimeout(options.idleMs, () => {
          idleTimeouts += 1;
          if (idleTimeouts === 1) socket.end();
          else finish({ kind: 'hung' });
        });
      }
    });
  }

  /** open connects to the server at `url`. */
  static open(url: string, options: RawExchangeOptions = {}): Promise<RawExchange> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = net.connect(Number(port), hostname);
      socket.once('connect', () => resolve(new RawExchange(socket, options)));
      socket.once('error', reject);
    });
  }

  /** received is every byte the server has sent so far, as latin1 text: for what no parser should be trusted with. */
  received(): string {
    return Buffer.concat(this.#chunks).toString('latin1');
  }

  /** write sends more bytes of the request. */
  write(bytes: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.#socket.write(bytes, (error) => (error ? reject(error) : resolve())));
  }

  /** interim resolves with the first interim answer (such as 100 Continue) or the final one, whichever comes first. */
  interim(): Promise<number> {
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      const onData = (chunk: Buffer): void => {
        chunks.push(chunk);
        const status = /^HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n/.exec(Buffer.concat(chunks).toString('latin1'));
        if (status === null) return;
        this.#socket.off('data', onData);
        resolve(Number(status[1]));
      };
      this.#socket.on('data', onData);
    });
  }
}

/** answerOf awaits an exchange that must end with an answer, and returns it. */
export async function answerOf(exchange: RawExchange): Promise<RawResponse> {
  const outcome = await exchange.outcome;
  if (outcome.kind !== 'answered')
    throw new Error(`expected an answer, the connection ${outcome.kind === 'hung' ? 'hung' : 'closed without one'}`);
  return outcome.response;
}

/**
 * rawExchange sends a whole raw request on a new connection and returns the
 * answer, read until the server closes the connection: send
 * `Connection: close` unless the answer closes it anyway. For a HEAD
 * request, `body` holds whatever came after the answer's headers, which
 * must be nothing.
 */
export async function rawExchange(url: string, request: string | Buffer): Promise<RawResponse> {
  const head = Buffer.from(request.slice(0, 5)).toString('latin1') === 'HEAD ';
  const exchange = await RawExchange.open(url, { head, untilClose: true });
  await exchange.write(request);
  return answerOf(exchange);
}

/**
 * parseResponse reads the final answer from `bytes`, skipping interim 1xx
 * answers; null while it is incomplete. Without Content-Length the body
 * runs to the end of the connection (`closed`); so does the "body" of a
 * HEAD answer once the connection has closed, where it should be empty.
 */
export function parseResponse(bytes: Buffer, head: boolean, closed: boolean): RawResponse | null {
  const statuses: number[] = [];
  let offset = 0;
  for (;;) {
    const end = bytes.indexOf('\r\n\r\n', offset, 'latin1');
    if (end === -1) return null;
    const [statusLine = '', ...headerLines] = bytes.subarray(offset, end).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/\d\.\d (\d{3})/.exec(statusLine)?.[1] ?? 0);
    statuses.push(status);
    const bodyStart = end + 4;
    if (status >= 100 && status < 200) {
      offset = bodyStart;
      continue;
    }
    const headers = new Headers();
    for (const line of headerLines) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    }
    const declared = headers.get('content-length');
    if (head && closed) return { status, statuses, headers, body: bytes.subarray(bodyStart).toString('utf8') };
    const bodyless = head || status === 204 || status === 304;
    const length = bodyless ? 0 : declared === null ? undefined : Number(declared);
    if (length === undefined) return closed ? { status, statuses, headers, body: bytes.subarray(bodyStart).toString('utf8') } : null;
    if (bytes.length < bodyStart + length) return null;
    return { status, statuses, headers, body: bytes.subarray(bodyStart, bodyStart + length).toString('utf8') };
  }
}
