import net from 'node:net';
import tls from 'node:tls';
import { StoreError } from '../../sessions/store.ts';
import { traceStorage } from '../trace.ts';
import type { RedisAddress } from './address.ts';
import { describeCommand } from './explain.ts';
import { encodeCommand, RespError, RespParser, RespProtocolError } from './resp.ts';
import type { RespValue } from './resp.ts';

/** DEFAULT_COMMAND_TIMEOUT_MS: a command with no reply after this long fails, and the connection is dropped as stuck. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 2000;
/** DEFAULT_MAX_QUEUE: how many commands may wait for a connection; past it, a command fails at once. */
export const DEFAULT_MAX_QUEUE = 1000;
/** The first reconnection waits this long; each failed one doubles it, up to MAX_RECONNECT_DELAY_MS. */
export const RECONNECT_BASE_MS = 50;
export const MAX_RECONNECT_DELAY_MS = 1000;

export interface RedisClientOptions {
  commandTimeoutMs?: number;
  maxQueue?: number;
  /** tls adds to the options of a `rediss://` connection: a private CA, a client certificate. */
  tls?: tls.ConnectionOptions;
  /** log hears when the connection is lost and when it is back, once each, for the server log. */
  log?: (line: string) => void;
}

/** RedisReplyError is an error reply from Redis (`WRONGTYPE …`, `NOSCRIPT …`, `OOM …`), carried as a StoreError's cause. */
export class RedisReplyError extends Error {
  constructor(reply: string) {
    super(reply);
    this.name = 'RedisReplyError';
  }
}

/** A command sent or waiting to be, with its caller's promise. */
interface Pending {
  name: string;
  wire: string;
  resolve: (value: RespValue) => void;
  reject: (error: StoreError) => void;
  timer: NodeJS.Timeout | undefined;
  done: boolean;
}

/**
 * RedisClient is one connection to one Redis server, shared by every
 * request of the process.
 *
 * - Pipelining: a command is written as soon as it is called, without
 *   waiting for the replies before it; Redis answers in order, so the
 *   replies are matched to the commands first in, first out.
 * - Every command has a timeout. When one passes with no reply, the
 *   server is stuck or the network is gone: the command fails (and its
 *   request gets a 503), and the connection is dropped, failing every
 *   command still on it, since an answer may never come.
 * - A lost connection is made again by itself, after 50 ms, then twice as
 *   long after each failed attempt, up to a second. Meanwhile commands wait
 *   in a queue of at most `maxQueue`, each only until its timeout; one
 *   more fails at once, and an attempt that fails fails those waiting, so
 *   while Redis is down, requests fail fast instead of piling up.
 * - AUTH and SELECT from the address are sent first on every connection.
 *
 * Every failure is a StoreError (so the request gets 503 with Retry-After);
 * a socket error, a garbled reply or a dying server never throws out of
 * here, and nothing is left to reject unhandled.
 */
export class RedisClient {
  #address: RedisAddress;
  #timeoutMs: number;
  #maxQueue: number;
  #tls: tls.ConnectionOptions;
  #log: (line: string) => void;
  #socket: net.Socket | null = null;
  #ready = false;
  #closed = false;
  #inFlight: Pending[] = [];
  #waiting: Pending[] = [];
  #failures = 0;
  #retry: NodeJS.Timeout | null = null;
  #corked = false;
  #reportedDown = false;

  private constructor(address: RedisAddress, options: RedisClientOptions) {
    this.#address = address;
    this.#timeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    this.#maxQueue = options.maxQueue ?? DEFAULT_MAX_QUEUE;
    this.#tls = options.tls ?? {};
    this.#log = options.log ?? (() => undefined);
  }

  /**
   * open connects to `address` and checks it with a PING (after AUTH and
   * SELECT), so a wrong password, a missing db or an unreachable server is
   * found at start-up: it rejects with an Error naming the address and
   * what went wrong, and leaves nothing running.
   */
  static async open(address: RedisAddress, options: RedisClientOptions = {}): Promise<RedisClient> {
    const client = new RedisClient(address, options);
    try {
      await client.call(['PING']);
    } catch (error) {
      await client.close();
      const cause = error instanceof StoreError ? error.cause : error;
      const detail = cause instanceof Error ? cause.message : String(cause);
      throw new Error(cause instanceof RedisReplyError ? `Redis at ${address.label} refused PING: ${detail}` : detail, { cause: error });
    }
    return client;
  }

  /**
   * call sends one command and resolves with its reply; an error reply,
   * a timeout or a lost connection rejects with StoreError. It adds the
   * command to the explain log of the request that made it (`trace`, or
   * the command described by describeCommand).
   */
  call(args: readonly string[], trace = describeCommand(args)): Promise<RespValue> {
    traceStorage(`redis: ${trace}`);
    return new Promise((resolve, reject) => {
      const pending: Pending = { name: args[0] ?? '', wire: encodeCommand(args), resolve, reject, timer: undefined, done: false };
      if (this.#closed) return this.#fail(pending, `the Redis client for ${this.#address.label} is closed`);
      pending.timer = setTimeout(() => this.#timedOut(pending), this.#timeoutMs);
      if (this.#ready) return this.#write(pending);
      if (this.#waiting.length >= this.#maxQueue) {
        return this.#fail(pending, `Redis at ${this.#address.label} is not connected and ${this.#maxQueue} commands already wait for it`);
      }
      this.#waiting.push(pending);
      if (this.#socket === null && this.#retry === null) this.#connect();
    });
  }

  /** close fails what waits, lets the replies on their way arrive, and ends the connection; no reconnection follows. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retry !== null) clearTimeout(this.#retry);
    this.#retry = null;
    for (const pending of this.#waiting.splice(0)) this.#fail(pending, `the Redis client for ${this.#address.label} was closed`);
    const socket = this.#socket;
    if (socket === null) return;
    await new Promise<void>((resolve) => {
      // A server that is stuck never closes its side: give up on it after one timeout.
      const force = setTimeout(() => socket.destroy(), this.#timeoutMs);
      socket.once('close', () => {
        clearTimeout(force);
        resolve();
      });
      if (this.#ready) socket.end();
      else socket.destroy();
    });
  }

  #connect(): void {
    const { host, port } = this.#address;
    const socket = this.#address.tls
      ? tls.connect({ host, port, ...(net.isIP(host) === 0 ? { servername: host } : {}), ...this.#tls })
      : net.connect({ host, port });
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true);
    let problem: Error | undefined;
    const parser = new RespParser((reply) => this.#reply(socket, reply));
    // A server that accepts no connection (a dropped SYN) would leave this attempt waiting for minutes.
    const connecting = setTimeout(() => socket.destroy(new Error(`no connection within ${this.#timeoutMs} ms`)), this.#timeoutMs);
    socket.once(this.#address.tls ? 'secureConnect' : 'connect', () => {
      clearTimeout(connecting);
      this.#handshake(socket);
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        parser.push(chunk);
      } catch (error) {
        socket.destroy(error as Error);
      }
    });
    socket.on('error', (error) => {
      problem ??= error;
    });
    socket.on('close', () => {
      clearTimeout(connecting);
      this.#lost(socket, problem);
    });
  }

  /** #handshake sends AUTH and SELECT, when the address asks for them, before any other command; then the connection is ready. */
  #handshake(socket: net.Socket): void {
    const { username, password, db, label } = this.#address;
    const steps: Array<{ args: string[]; refused: string }> = [];
    if (password !== null) steps.push({ args: username === null ? ['AUTH', password] : ['AUTH', username, password], refused: 'AUTH' });
    if (db !== 0) steps.push({ args: ['SELECT', String(db)], refused: `SELECT ${db}` });
    const replies = steps.map(({ args, refused }) =>
      new Promise<void>((resolve, reject) => {
        const pending: Pending = {
          name: args[0] ?? '',
          wire: encodeCommand(args),
          resolve: () => resolve(),
          reject,
          timer: undefined,
          done: false,
        };
        pending.timer = setTimeout(() => this.#timedOut(pending), this.#timeoutMs);
        this.#write(pending);
      }).catch((error: unknown) => {
        const cause = error instanceof StoreError ? error.cause : error;
        throw cause instanceof RedisReplyError ? new Error(`Redis at ${label} refused ${refused}: ${cause.message}`) : cause;
      }),
    );
    Promise.all(replies).then(
      () => this.#connected(socket),
      (error: unknown) => socket.destroy(error as Error),
    );
  }

  #connected(socket: net.Socket): void {
    if (socket !== this.#socket || this.#closed) return;
    this.#ready = true;
    this.#failures = 0;
    if (this.#reportedDown) this.#log(`redis: connected to Redis at ${this.#address.label} again`);
    this.#reportedDown = false;
    for (const pending of this.#waiting.splice(0)) this.#write(pending);
  }

  /**
   * #lost handles the end of a connection, whatever ended it: the commands
   * on it fail, and so do those waiting when it never became ready (the
   * attempt failed: Redis is down, or refused AUTH). Then the next attempt
   * is planned, further off after each failure in a row.
   */
  #lost(socket: net.Socket, problem: Error | undefined): void {
    if (socket !== this.#socket) return;
    const wasReady = this.#ready;
    this.#socket = null;
    this.#ready = false;
    const label = this.#address.label;
    const detail = problem?.message ?? 'closed by the server';
    // A refused AUTH or a silent server already names the address; anything else is said here.
    const reason = wasReady
      ? `lost the connection to Redis at ${label}: ${detail}`
      : detail.startsWith('Redis at ')
        ? detail
        : `cannot reach Redis at ${label}: ${detail}`;
    for (const pending of this.#inFlight.splice(0)) this.#fail(pending, reason);
    if (!wasReady) for (const pending of this.#waiting.splice(0)) this.#fail(pending, reason);
    if (this.#closed) return;
    if (!this.#reportedDown) this.#log(`redis: ${reason}; reconnecting`);
    this.#reportedDown = true;
    const delay = Math.min(MAX_RECONNECT_DELAY_MS, RECONNECT_BASE_MS * 2 ** this.#failures);
    this.#failures = wasReady ? 0 : this.#failures + 1;
    this.#retry = setTimeout(() => {
      this.#retry = null;
      this.#connect();
    }, delay);
    this.#retry.unref();
  }

  /** #write puts a command on the wire; commands written in one tick leave in one packet. */
  #write(pending: Pending): void {
    const socket = this.#socket;
    if (socket === null) return this.#fail(pending, `not connected to Redis at ${this.#address.label}`);
    this.#inFlight.push(pending);
    if (!this.#corked) {
      this.#corked = true;
      socket.cork();
      process.nextTick(() => {
        this.#corked = false;
        socket.uncork();
      });
    }
    socket.write(pending.wire);
  }

  #reply(socket: net.Socket, reply: RespValue): void {
    const pending = this.#inFlight.shift();
    if (pending === undefined) {
      socket.destroy(new RespProtocolError('a reply to no command'));
      return;
    }
    if (pending.done) return;
    pending.done = true;
    clearTimeout(pending.timer);
    if (reply instanceof RespError) pending.reject(new StoreError(`redis ${pending.name}`, new RedisReplyError(reply.message)));
    else pending.resolve(reply);
  }

  /** #timedOut fails a command that got no reply in time; if it was sent, the connection is stuck and is dropped. */
  #timedOut(pending: Pending): void {
    if (pending.done) return;
    const reason = `Redis at ${this.#address.label} sent no reply within ${this.#timeoutMs} ms`;
    const queued = this.#waiting.indexOf(pending);
    if (queued >= 0) this.#waiting.splice(queued, 1);
    this.#fail(pending, reason);
    if (queued < 0) this.#socket?.destroy(new Error(reason));
  }

  #fail(pending: Pending, reason: string): void {
    if (pending.done) return;
    pending.done = true;
    clearTimeout(pending.timer);
    pending.reject(new StoreError(`redis ${pending.name}`, new Error(reason)));
  }
}
