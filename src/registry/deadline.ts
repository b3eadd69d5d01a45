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

/** setTimeout's largest delay; a longer one fires at once (with a warning on stderr). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * One request's deadline: aborts whatever is still in flight (headers or body) when it passes.
 * With `req.progress` (a streamed blob whose size a source declares: hostile), the allowance grows
 * with the bytes actually received, not with the declared size: after twice the timeout the
 * transfer must keep up the floor rate on average, so a source that declares 500 GB and drips
 * cannot hold the job. The timer re-arms in steps setTimeout can take.
 */
export class Deadline {
  readonly signal: AbortSignal;
  private timer: NodeJS.Timeout | undefined;
  private cleared = false;

  constructor(req: HttpRequest, timeoutSeconds: number) {
    const controller = new AbortController();
    this.signal = controller.signal;
    const started = Date.now();
    const progress = req.progress;
    const fixedBytes = progress ? 0 : expectedBytes(req);
    const check = () => {
      if (this.cleared) return;
      const bytes = progress ? progress.bytes : fixedBytes;
      const left = deadlineMs(timeoutSeconds, bytes) - (Date.now() - started);
      if (left <= 0) {
        controller.abort(deadlineError(req, Date.now() - started, timeoutSeconds, bytes, Boolean(progress)));
        return;
      }
      this.timer = setTimeout(check, Math.min(Math.ceil(left), MAX_TIMER_MS));
      this.timer.unref(); // a body nobody reads never keeps the process alive
    };
    check();
  }

  /** Keeps the deadline running until the body has been read or dropped. */
  until(body: Readable): void {
    if (body.destroyed || body.readableEnded) return this.clear();
    body.once('close', () => this.clear());
  }

  clear(): void {
    this.cleared = true;
    if (this.timer) clearTimeout(this.timer);
  }
}

function deadlineError(req: HttpRequest, ms: number, timeoutSeconds: number, bytes: number, received: boolean): ActionError {
  const seconds = Math.round(ms / 100) / 10;
  const allowance = received
    ? `twice the timeout of ${timeoutSeconds} s, plus ${DEADLINE_FLOOR_RATE / 1024} KiB/s for the ${bytes} bytes received so far`
    : `twice the timeout of ${timeoutSeconds} s${bytes > 0 ? `, plus ${bytes} bytes at ${DEADLINE_FLOOR_RATE / 1024} KiB/s` : ''}`;
  return ActionError.network(`${req.method} ${redactUrl(req.url)}: no complete answer within ${seconds} s (${allowance})`, {
    code: 'DEADLINE_EXCEEDED',
    detail: `no complete answer within ${seconds} s`,
    hint: 'The server answered too slowly or stalled; raise the timeout input if the network is slow',
  });
}
