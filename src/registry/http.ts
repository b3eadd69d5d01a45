/**
 * What the transport layers pass to each other: a request, a response, and the small helpers
 * every layer reads them with. Each layer (auth → scheme → user agent → retry → base) is a
 * `Layer` wrapping the next.
 */
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { describeError } from '../errors.ts';
import { flatLine, QUOTE_LIMIT } from '../escape.ts';

export type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

export interface HttpRequest {
  method: Method;
  /** Absolute URL, or a path on the layer's registry (`/v2/…`; completed after the registry's ping, scheme.ts). */
  url: string;
  headers?: Record<string, string>;
  /** A buffer (replayable) or a factory of streams (replayable when `replayable` is set). */
  body?: Buffer | (() => Readable);
  replayable?: boolean;
  /** Follow redirects (GET/HEAD of blobs). */
  followRedirects?: boolean;
  /** Response body buffer size (large for blob streams: fewer, larger chunks). */
  highWaterMark?: number;
  /**
   * Bytes the exchange carries beyond its headers (a blob's size), which lengthens its deadline;
   * by default the request body's length.
   */
  expectedBytes?: number;
  /**
   * A live count of the body bytes received, kept by whoever reads the body: the deadline then
   * grows with the bytes that arrive rather than with what the server (or a source) declared.
   */
  progress?: { bytes: number };
  /**
   * Read a successful (2xx) answer's whole body into `bytes`, refusing more than `limit` bytes. A
   * body that breaks off is then retried like a failure before the headers, within one budget.
   */
  readBody?: { limit: number; what: string };
  /** false: one attempt only. */
  retry?: boolean;
}

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
  /** Where the answer came from (after redirects). */
  url: string;
  /** The whole body, when the request asked for it (`readBody`) and the status was 2xx. */
  bytes?: Buffer;
}

export interface Layer {
  send(req: HttpRequest): Promise<Response>;
}

export function header(res: { headers: Response['headers'] }, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** `scheme://host:port` of an absolute URL (default ports dropped): the unit credentials belong to. */
export function originOf(url: string): string {
  return new URL(url).origin;
}

/**
 * The host of a URL a server chose (a redirect target, the origin that answered), as a message may
 * name it: bounded like any registry-supplied string (the URL parser takes a host of any length).
 */
export function foreignHost(url: string): string {
  return flatLine(new URL(url).host, QUOTE_LIMIT);
}

/** Removes query strings (upload state, signed storage URLs) from URLs shown to users. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : `${url.slice(0, q)}?…`;
}

/** The first string `code` on an error or its causes (undici and Node put them at various depths). */
export function errorCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let depth = 0; cur && depth < 5; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A TLS handshake with a server that speaks plain HTTP. */
export function isTlsProtocolMismatch(e: unknown): boolean {
  const code = errorCode(e) ?? '';
  const message = String((e as Error)?.message ?? '');
  return (
    code === 'ERR_SSL_WRONG_VERSION_NUMBER' ||
    code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' ||
    code === 'EPROTO' ||
    /wrong version number|packet length too long|http request/i.test(message)
  );
}

/**
 * A connection-level failure at a URL the request was redirected to: the error names that URL,
 * and keeps the cause's code (what the retry layer decides by).
 */
export class RedirectTargetError extends Error {
  readonly code: string | undefined;
  readonly url: string;
  constructor(url: string, cause: unknown) {
    super(`at ${redactUrl(url)}, where the request was redirected: ${describeError(cause, 'outside')}`, { cause });
    this.name = 'RedirectTargetError';
    this.url = url;
    this.code = errorCode(cause);
  }
}

/** Discards a body nobody reads, so its connection goes back to the pool. */
export async function discard(res: Response): Promise<void> {
  await res.body.dump().catch(() => undefined);
}
