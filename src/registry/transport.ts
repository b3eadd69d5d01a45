/**
 * The HTTP layer under the registry client: one undici dispatcher per registry (keep-alive pool,
 * TLS settings, proxy from the environment), scheme selection (HTTPS; plain HTTP only for loopback
 * and listed insecure registries), timeouts, retries with backoff, and redirects that never carry
 * credentials to another host.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { Agent, type Dispatcher, EnvHttpProxyAgent, buildConnector, request as undiciRequest } from 'undici';
import { takeWarmSocket } from '../preconnect.ts';
import { ActionError } from '../errors.ts';
import { Semaphore } from '../concurrency.ts';
import { log } from '../log.ts';

export type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

export interface TransportOptions {
  /** Registries (host[:port]) reached without TLS verification, or over plain HTTP. */
  insecureRegistries: string[];
  /** Attempts after the first, for retryable failures. */
  retries: number;
  /** Upper bound in seconds on the time spent retrying one request. */
  retryMaxSeconds: number;
  /** Per-request timeouts in seconds: connect, and headers / idle body. */
  connectTimeoutSeconds: number;
  requestTimeoutSeconds: number;
  /** Most concurrent requests to one registry. */
  concurrency: number;
  /** Base delay for exponential backoff (ms); tests lower it. */
  backoffBaseMs?: number;
}

export const DEFAULT_TRANSPORT_OPTIONS: TransportOptions = {
  insecureRegistries: [],
  retries: 5,
  retryMaxSeconds: 120,
  connectTimeoutSeconds: 15,
  requestTimeoutSeconds: 60,
  concurrency: 64,
};

export interface SendOptions {
  method: Method;
  /** Absolute URL. */
  url: string;
  headers?: Record<string, string>;
  /** A buffer (replayable) or a factory of streams (replayable when `replayable` is set). */
  body?: Buffer | (() => Readable);
  replayable?: boolean;
  /** Follow redirects (GET/HEAD of blobs); Authorization is dropped when the host changes. */
  followRedirects?: boolean;
  /** Response body buffer size (large for blob streams: fewer, larger chunks). */
  highWaterMark?: number;
}

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
  url: string;
}

const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);
const IDEMPOTENT = new Set<Method>(['GET', 'HEAD', 'PUT', 'DELETE']);

/** A connection-level failure worth another attempt (also while reading a body). */
export function isRetryableNetworkError(e: unknown): boolean {
  const code = errorCode(e) ?? '';
  return RETRYABLE_CODES.has(code) || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' || code === 'ERR_STREAM_PREMATURE_CLOSE';
}

/** Loopback hosts may be reached over plain HTTP without any setting, as Docker allows. */
export function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

export function hostnameOf(hostPort: string): string {
  if (hostPort.startsWith('[')) return hostPort.slice(0, hostPort.indexOf(']') + 1);
  const i = hostPort.lastIndexOf(':');
  return i === -1 ? hostPort : hostPort.slice(0, i);
}

/** Removes query strings (upload state, signed storage URLs) from URLs shown to users. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : `${url.slice(0, q)}?…`;
}

export function header(res: { headers: Response['headers'] }, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** Parses Retry-After (seconds or HTTP date) into milliseconds. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function errorCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let depth = 0; cur && depth < 5; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A plain-HTTP request that a TLS server cut off. */
function isPlainToTlsMismatch(e: unknown): boolean {
  const code = errorCode(e) ?? '';
  return code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'HPE_INVALID_CONSTANT' || code.startsWith('HPE_');
}

async function readSmall(body: Response['body']): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    chunks.push(chunk as Buffer);
    total += (chunk as Buffer).length;
    if (total > 4096) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks);
}

/** A response body from bytes already read, with the parts of undici's body the client uses. */
function bufferBody(bytes: Buffer): Response['body'] {
  const stream = Readable.from([bytes]) as unknown as Response['body'] & { dump: () => Promise<void> };
  stream.dump = async () => {
    stream.resume();
  };
  return stream;
}

function isTlsProtocolMismatch(e: unknown): boolean {
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
 * Connections opened ahead of need to replace ones the server closed. undici's pool gives the
 * next request to the first free slot, connected or not, so a slot whose connection was closed
 * would connect only when a request is already waiting on it. Here the replacement is opened as
 * soon as the close is seen, with the same connector (TLS settings, timeouts) and the same
 * parameters undici used for that origin; the slot's next connect takes it. At most `limit` wait
 * per origin; idle ones never keep the process alive and are closed with the endpoint.
 */
class SpareConnections {
  private readonly waiting = new Map<string, Array<Promise<Socket | undefined>>>();
  /** Connect parameters undici used, per origin (`http://host:port`). */
  private readonly seen = new Map<string, buildConnector.Options>();
  private readonly opened = new Set<Socket>();
  private readonly connect: buildConnector.connector;
  private readonly limit: number;

  constructor(connect: buildConnector.connector, limit: number) {
    this.connect = connect;
    this.limit = limit;
  }

  /** A replacement for this origin, when one was opened; records the parameters otherwise. */
  take(opts: buildConnector.Options): Promise<Socket | undefined> | undefined {
    const origin = `${opts.protocol}//${opts.host ?? `${opts.hostname}:${opts.port}`}`;
    this.seen.set(origin, opts);
    const next = this.waiting.get(origin)?.shift();
    return next?.then((socket) => {
      if (!socket || socket.destroyed) return undefined;
      this.opened.delete(socket);
      socket.removeAllListeners('error');
      socket.ref();
      return socket;
    });
  }

  /** Opens a replacement for a connection to the origin of `url` that the server closed. */
  replace(url: string): void {
    const u = new URL(url);
    const origin = `${u.protocol}//${u.host}`;
    const opts = this.seen.get(origin);
    const list = this.waiting.get(origin) ?? [];
    if (!opts || list.length >= this.limit) return;
    this.waiting.set(origin, list);
    list.push(
      new Promise((resolve) => {
        this.connect(opts, (err, socket) => {
          if (err || !socket) return resolve(undefined);
          socket.unref(); // an unused replacement never keeps the process alive
          socket.on('error', () => socket.destroy());
          this.opened.add(socket);
          socket.once('close', () => this.opened.delete(socket));
          resolve(socket);
        });
      }),
    );
  }

  close(): void {
    for (const socket of this.opened) socket.destroy();
    this.opened.clear();
    this.waiting.clear();
  }
}

/** Counters for benchmarks and the job summary. */
export interface TransportStats {
  requests: number;
  retries: number;
  firstRequestAt?: number;
}

/** One registry endpoint: where to dial, how, and with what limits. */
export class Endpoint {
  /** Registry name as references spell it (docker.io, ghcr.io, 127.0.0.1:5000). */
  readonly registry: string;
  /** host[:port] to dial (registry-1.docker.io for docker.io). */
  readonly host: string;
  readonly insecure: boolean;
  private scheme: 'https' | 'http' | undefined;
  private readonly preferredScheme: 'https' | 'http';
  private readonly dispatcher: Dispatcher;
  private readonly spares: SpareConnections | undefined;
  private readonly limiter: Semaphore;
  private readonly options: TransportOptions;
  readonly stats: TransportStats;

  constructor(registry: string, options: TransportOptions, stats: TransportStats) {
    this.registry = registry;
    this.host = registry === 'docker.io' ? 'registry-1.docker.io' : registry;
    this.options = options;
    this.stats = stats;
    const listed = options.insecureRegistries.some((r) => r === registry || r === this.host);
    this.insecure = listed;
    const hostname = hostnameOf(this.host);
    // Plain HTTP is allowed for loopback and listed registries only; everything else is HTTPS.
    const loopback = isLoopback(hostname);
    this.scheme = listed || loopback ? undefined : 'https';
    this.preferredScheme = loopback ? 'http' : 'https';
    const tls = { rejectUnauthorized: !listed };
    const common = {
      connect: { ...tls, timeout: options.connectTimeoutSeconds * 1000 },
      headersTimeout: options.requestTimeoutSeconds * 1000,
      bodyTimeout: options.requestTimeoutSeconds * 1000,
      keepAliveTimeout: 30_000,
      connections: Math.max(options.concurrency, 1),
    };
    const proxied = Boolean(
      process.env.HTTPS_PROXY || process.env.https_proxy || process.env.HTTP_PROXY || process.env.http_proxy,
    );
    if (proxied) {
      this.dispatcher = new EnvHttpProxyAgent({ ...common, requestTls: tls });
    } else {
      // Connections opened ahead of need are used first (replacements for connections the server
      // closed, then those opened during start-up by preconnect.ts), then new ones.
      const connectNew = buildConnector({ ...tls, timeout: options.connectTimeoutSeconds * 1000 });
      this.spares = new SpareConnections(connectNew, Math.max(options.concurrency, 1));
      const spares = this.spares;
      const connect: buildConnector.connector = (opts, callback) => {
        const ready = spares.take(opts) ?? takeWarmSocket(opts.protocol, opts.hostname, opts.port);
        if (!ready) return connectNew(opts, callback);
        ready.then((socket) => (socket ? callback(null, socket) : connectNew(opts, callback)));
      };
      this.dispatcher = new Agent({ ...common, connect });
    }
    this.limiter = new Semaphore(options.concurrency);
  }

  /**
   * Sends a request. A URL that starts with '/' is on this registry: the scheme is added here. For
   * loopback and listed insecure registries the scheme is learnt from the first request itself (no
   * separate probe): loopback tries plain HTTP first, and switches to HTTPS when the server answers
   * that it speaks TLS; listed registries try HTTPS first and fall back to HTTP when the server
   * does not speak TLS. A host that speaks TLS is never downgraded because of a certificate error.
   */
  async send(opts: SendOptions): Promise<Response> {
    if (!opts.url.startsWith('/')) return this.sendAbsolute(opts);
    if (this.scheme) return this.sendAbsolute({ ...opts, url: `${this.scheme}://${this.host}${opts.url}` });
    // Not known yet: this request finds out (concurrent first requests each do, in parallel).
    const first = this.preferredScheme;
    const at = (scheme: string) => ({ ...opts, url: `${scheme}://${this.host}${opts.url}` });
    const settle = (scheme: 'http' | 'https') => {
      if (!this.scheme) log.debug(`${this.registry}: using ${scheme}`);
      this.scheme ??= scheme;
    };
    /** Asks over TLS once; undefined when the host does not speak TLS at all. */
    const overTls = async (): Promise<Response | undefined> => {
      let tls: Response;
      try {
        tls = await this.sendAbsolute(at('https'), true);
      } catch (e) {
        if (isTlsProtocolMismatch(e)) return undefined;
        settle('https');
        throw networkError(at('https'), e, 1);
      }
      settle('https');
      if (!RETRYABLE_STATUS.has(tls.status)) return tls;
      await tls.body.dump().catch(() => undefined);
      return this.sendAbsolute(at('https'));
    };
    let res: Response;
    try {
      res = await this.sendAbsolute(at(first), true);
    } catch (e) {
      if (first === 'https' && isTlsProtocolMismatch(e)) {
        settle('http');
        return this.sendAbsolute(at('http'));
      }
      if (first === 'http' && isPlainToTlsMismatch(e)) {
        // A reset may be a TLS server refusing plain HTTP, or a transient fault: ask over TLS once.
        const tls = await overTls();
        if (tls) return tls;
      }
      settle(first);
      return this.sendAbsolute(at(first));
    }
    if (first === 'http' && res.status === 400) {
      // A TLS server answers plain HTTP with 400 ("Client sent an HTTP request to an HTTPS
      // server"). A HEAD carries no body to tell, so HEAD asks over TLS once.
      const text = (await readSmall(res.body)).toString('utf8');
      if (opts.method === 'HEAD') {
        const tls = await overTls();
        if (tls) return tls;
      } else if (/https|tls|ssl/i.test(text)) {
        settle('https');
        return this.sendAbsolute(at('https'));
      }
      res = { ...res, body: bufferBody(Buffer.from(text)) };
    }
    settle(first);
    if (RETRYABLE_STATUS.has(res.status)) {
      // The scheme is settled; the transient failure gets the usual retries.
      await res.body.dump().catch(() => undefined);
      return this.sendAbsolute(at(first));
    }
    return res;
  }

  async close(): Promise<void> {
    this.spares?.close();
    await this.dispatcher.close().catch(() => undefined);
  }

  /** Exponential backoff with jitter: between half and all of base × 2^(attempt−1), at most 30 s. */
  private backoffMs(attempt: number): number {
    const backoff = Math.min(30_000, (this.options.backoffBaseMs ?? 500) * 2 ** (attempt - 1));
    return Math.round(backoff / 2 + Math.random() * (backoff / 2));
  }

  /**
   * Runs a whole read (request and body) again when the body breaks off mid-way: send() retries
   * only up to the response headers.
   */
  async readWithRetry<T>(what: string, read: () => Promise<T>): Promise<T> {
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        return await read();
      } catch (e) {
        const wait = this.backoffMs(attempt);
        const cause = e instanceof ActionError ? e.cause : e;
        const retryable = isRetryableNetworkError(cause ?? e) && !(e instanceof ActionError && e.kind === 'network');
        if (!retryable || attempt > this.options.retries || Date.now() - started + wait > this.options.retryMaxSeconds * 1000) throw e;
        log.info(`retry ${attempt}/${this.options.retries}: ${what}: the body broke off (${errorCode(cause ?? e) ?? describe(e)}); waiting ${(wait / 1000).toFixed(1)} s`);
        this.stats.retries++;
        await sleep(wait);
      }
    }
  }

  /**
   * Sends one request with retries for transient failures. Retries only what is safe to replay:
   * idempotent methods, and uploads whose body can be produced again.
   */
  private async sendAbsolute(opts: SendOptions, noRetry = false): Promise<Response> {
    const replayable =
      (IDEMPOTENT.has(opts.method) || opts.method === 'POST') &&
      (opts.body === undefined || Buffer.isBuffer(opts.body) || opts.replayable === true);
    const started = Date.now();
    const maxAttempts = replayable && !noRetry ? this.options.retries + 1 : 1;
    for (let attempt = 1; ; attempt++) {
      let res: Response | undefined;
      let failure: unknown;
      try {
        res = await this.sendOnce(opts);
      } catch (e) {
        failure = e;
      }
      const retryable = res ? RETRYABLE_STATUS.has(res.status) : RETRYABLE_CODES.has(errorCode(failure) ?? '');
      const elapsed = Date.now() - started;
      if (!retryable || attempt >= maxAttempts) {
        if (res) return res;
        throw networkError(opts, failure, attempt);
      }
      const retryAfter = res ? parseRetryAfter(header(res, 'retry-after')) : undefined;
      const wait = retryAfter ?? this.backoffMs(attempt);
      if (elapsed + wait > this.options.retryMaxSeconds * 1000) {
        if (res) return res;
        throw networkError(opts, failure, attempt);
      }
      if (res) await res.body.dump().catch(() => undefined);
      const reason = res ? `HTTP ${res.status}` : (errorCode(failure) ?? describe(failure));
      log.info(
        `retry ${attempt}/${maxAttempts - 1}: ${opts.method} ${redactUrl(opts.url)} got ${reason}; waiting ${(wait / 1000).toFixed(1)} s`,
      );
      this.stats.retries++;
      await sleep(wait);
    }
  }

  private async sendOnce(opts: SendOptions): Promise<Response> {
    const release = await this.limiter.acquire();
    // One turn of the event loop first: a connection whose response body was just read goes back
    // to undici's pool only then, and is reused instead of paying a new handshake.
    await new Promise((r) => setImmediate(r));
    try {
      let url = opts.url;
      let headers = { ...opts.headers };
      for (let hop = 0; ; hop++) {
        const t0 = Date.now();
        this.stats.firstRequestAt ??= t0;
        this.stats.requests++;
        const body = typeof opts.body === 'function' ? opts.body() : opts.body;
        // A stream that failed before it could be sent (a digest mismatch, a broken source)
        // is reported as its own error, not handed to undici.
        if (body && !Buffer.isBuffer(body) && body.errored) throw body.errored;
        const res = await undiciRequest(url, {
          method: opts.method,
          headers,
          body,
          dispatcher: this.dispatcher,
          ...(opts.highWaterMark ? { highWaterMark: opts.highWaterMark } : {}),
        });
        // A server that closes the connection after its answer (distribution does after every
        // HEAD) leaves the pool a connection short: the next request given to that slot would
        // pay a new handshake. The replacement is opened now, while other requests are in flight.
        if (/\bclose\b/i.test(header({ headers: res.headers }, 'connection') ?? '')) this.spares?.replace(url);
        // Request-level detail only under step debug logging (it costs a write per request).
        if (log.isDebug()) {
          log.debug(`${opts.method} ${redactUrl(url)} → ${res.statusCode} (${Date.now() - t0} ms, at +${Math.round(performance.now())} ms)`);
        }
        const location = header({ headers: res.headers }, 'location');
        if (opts.followRedirects && [301, 302, 303, 307, 308].includes(res.statusCode) && location && hop < 5) {
          await res.body.dump();
          const next = new URL(location, url);
          if (next.host !== new URL(url).host) {
            // Storage redirects are pre-signed: credentials stay with the registry's host.
            const { authorization: _dropped, Authorization: _dropped2, ...rest } = headers;
            headers = rest;
          }
          url = next.toString();
          continue;
        }
        return { status: res.statusCode, headers: res.headers, body: res.body, url };
      }
    } finally {
      release();
    }
  }
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function networkError(opts: SendOptions, e: unknown, attempts: number): ActionError {
  if (e instanceof ActionError) return e;
  const code = errorCode(e);
  const certificate = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/i.test(code ?? '');
  const hint = certificate
    ? 'The registry’s TLS certificate is not trusted: add its CA with NODE_EXTRA_CA_CERTS, or list the registry in insecure-registries'
    : 'Check that the registry is reachable from the runner (address, port, proxy settings)';
  return new ActionError(
    `${opts.method} ${redactUrl(opts.url)} failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${code ? `${code} ` : ''}${describe(e)}`,
    { kind: 'network', code, hint, transient: true, cause: e, detail: describe(e).split(';')[0] },
  );
}
