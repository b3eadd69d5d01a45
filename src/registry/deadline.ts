/**
 * Overall deadlines. An idle timeout alone lets a server that sends one byte per second hold a
 * request forever; so every request must complete, headers and whole body, within twice the
 * timeout (one for the headers, one for the body) plus the time its expected bytes (a blob's
 * size) take at a floor rate. A server that stalls before its headers still meets the headers
 * timeout first.
 */
import type { Readable } from 'node:stream';
import { ActionError } from '../errors.ts';
import { type HttpRequest, redactUrl } from './http.ts';

/**
 * The slowest transfer a deadline allows for, in bytes per second (2 Mbit/s): a 1 GiB layer gets
 * the timeout plus 68 minutes. Slower than that is a stalled or hostile server.
 */
export const DEADLINE_FLOOR_RATE = 256 * 1024;

/** The bytes a request is expected to carry beyond its headers: what it sends, or what it says it will read. */
export function expectedBytes(req: HttpRequest): number {
  if (req.expectedBytes !== undefined) return req.expectedBytes;
  if (Buffer.isBuffer(req.body)) return req.body.length;
  const declared = Number(req.headers?.['content-length']);
  return Number.isSafeInteger(declared) && declared > 0 ? declared : 0;
}

/** Milliseconds a request may take from its first byte sent to its last byte read. */
export function deadlineMs(timeoutSeconds: number, bytes: number): number {
  return Math.ceil(2 * timeoutSeconds * 1000 + (Math.max(0, bytes) / DEADLINE_FLOOR_RATE) * 1000);
}

/** One request's deadline: aborts whatever is still in flight (headers or body) when it passes. */
export class Deadline {
  readonly signal: AbortSignal;
  private readonly timer: NodeJS.Timeout;

  constructor(req: HttpRequest, timeoutSeconds: number) {
    const bytes = expectedBytes(req);
    const ms = deadlineMs(timeoutSeconds, bytes);
    const controller = new AbortController();
    this.signal = controller.signal;
    this.timer = setTimeout(() => controller.abort(deadlineError(req, ms, timeoutSeconds, bytes)), ms);
    this.timer.unref(); // a body nobody reads never keeps the process alive
  }

  /** Keeps the deadline running until the body has been read or dropped. */
  until(body: Readable): void {
    if (body.destroyed || body.readableEnded) return this.clear();
    body.once('close', () => this.clear());
  }

  clear(): void {
    clearTimeout(this.timer);
  }
}

function deadlineError(req: HttpRequest, ms: number, timeoutSeconds: number, bytes: number): ActionError {
  const seconds = Math.round(ms / 100) / 10;
  const allowance = `twice the timeout of ${timeoutSeconds} s${bytes > 0 ? `, plus ${bytes} bytes at ${DEADLINE_FLOOR_RATE / 1024} KiB/s` : ''}`;
  return new ActionError(`${req.method} ${redactUrl(req.url)}: no complete answer within ${seconds} s (${allowance})`, {
    kind: 'network',
    code: 'DEADLINE_EXCEEDED',
    detail: `no complete answer within ${seconds} s`,
    hint: 'The server answered too slowly or stalled; raise the timeout input if the network is slow',
  });
}
