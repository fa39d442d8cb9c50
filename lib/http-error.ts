/**
 * HttpError is an error that already knows its answer: a status, a short
 * machine-readable code and a message that is safe to show to a client.
 * The app turns it into a response in one place (lib/app.ts); any other
 * error becomes a plain 500 whose details stay in the server log.
 */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}
