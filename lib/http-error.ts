/** HttpErrorOptions are the optional parts of an HttpError. */
export interface HttpErrorOptions {
  /** headers go on the error's response (Retry-After, Allow, …). */
  headers?: Readonly<Record<string, string>>;
  /** cause is what went wrong underneath, for the server log only; never shown to the client. */
  cause?: unknown;
}

/**
 * HttpError is an error that already knows its answer: a status, a short
 * machine-readable code and a message that is safe to show to a client.
 * The request pipeline (lib/pipeline.ts) turns it into a response in one
 * place; any other error becomes a plain 500 whose details stay in the
 * server log. Tell kinds apart by class (`instanceof`), never by comparing
 * `code`, which is for clients.
 */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, code: string, message: string, options: HttpErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
    this.headers = options.headers ?? {};
  }
}
