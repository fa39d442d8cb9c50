import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { SECURITY_HEADERS } from './security-headers.ts';

/**
 * Requests Node cannot even parse (a broken request line, headers over the
 * limit, a request that took too long to arrive) never reach the pipeline:
 * Node reports them on the connection, and the answer is written straight
 * onto the socket. The answers are built once, here, and never carry the
 * error's own message.
 */

/** rawAnswer is a complete HTTP/1.1 answer with no body that closes the connection, with the usual security headers. */
function rawAnswer(status: string): string {
  const headers = Object.entries(SECURITY_HEADERS)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return `HTTP/1.1 ${status}\r\n${headers}Content-Type: text/plain; charset=utf-8\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`;
}

const BAD_REQUEST = rawAnswer('400 Bad Request');
/** Answers for the error codes that deserve more than a 400. */
const ANSWERS: Readonly<Record<string, string>> = {
  HPE_HEADER_OVERFLOW: rawAnswer('431 Request Header Fields Too Large'),
  ERR_HTTP_REQUEST_TIMEOUT: rawAnswer('408 Request Timeout'),
};

/**
 * The response each connection is writing or wrote last. A broken request
 * can follow a good one on the same connection (pipelining), while the good
 * one's answer is still being written; an error answer then would land in
 * the middle of it.
 */
const currentResponses = new WeakMap<Socket, ServerResponse>();

/** noteResponse records `res` as its connection's current response; call it for every request. */
export function noteResponse(res: ServerResponse): void {
  if (res.socket !== null) currentResponses.set(res.socket, res);
}

/**
 * answerClientError answers a request Node could not parse, with the same
 * security headers as any other answer, but only when the socket can still
 * be written and no answer to an earlier request on it is half-written.
 * Otherwise, and for a connection the client already reset, it closes the
 * socket without a word.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable || error.code === 'ECONNRESET' || isMidResponse(socket)) {
    socket.destroy();
    return;
  }
  socket.end(ANSWERS[error.code ?? ''] ?? BAD_REQUEST);
}

/** isMidResponse: an answer on this connection has started (its headers are out) and has not finished. */
function isMidResponse(socket: Socket): boolean {
  const res = currentResponses.get(socket);
  return res !== undefined && res.headersSent && !res.writableFinished;
}
