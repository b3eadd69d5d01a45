/**
 * The bottom layer: one undici dispatcher per registry host (keep-alive pool, TLS per origin,
 * proxy from the environment), the bound on concurrent requests, redirects, and connections
 * opened ahead of need (start-up ones handed in, replacements for ones the server closed).
 */
import type { Socket } from 'node:net';
import { Agent, type Dispatcher, EnvHttpProxyAgent, buildConnector, request as undiciRequest } from 'undici';
import { Semaphore } from '../concurrency.ts';
import { log } from '../log.ts';
import { readLimited } from './body.ts';
import { type ProxyEnvironment, usesProxy } from './hosts.ts';
import { type HttpRequest, type Layer, type Response, header, redactUrl } from './http.ts';
import { SpareConnections } from './spare-connections.ts';

/** Connections opened before the transport existed (preconnect.ts), handed over once each. */
export interface WarmSockets {
  /** A connection for exactly this scheme, host and port once it is up, or undefined. */
  take(protocol: string, hostname: string, port: string): Promise<Socket | undefined> | undefined;
  /** Closes the ones nobody took. */
  close(): void;
}

/** TLS settings for each origin (`https://host:port`) the transport connects to. */
export interface TlsPolicy {
  forOrigin(origin: string): { rejectUnauthorized: boolean };
}

/** Counters for benchmarks and the job summary, shared by every transport of a run. */
export interface TransportStats {
  requests: number;
  retries: number;
  firstRequestAt?: number;
}

export interface BaseOptions {
  connectTimeoutSeconds: number;
  /** Headers and idle-body timeout. */
  requestTimeoutSeconds: number;
  /** Most concurrent requests, and connections, to this host. */
  concurrency: number;
  tls: TlsPolicy;
  /** The TLS settings of the registry's own origin (the proxy agent takes one setting for all). */
  registryOrigin: string;
  proxy: ProxyEnvironment;
  warmSockets?: WarmSockets;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

/**
 * The headers a redirected request carries. Storage redirects are pre-signed: credentials stay
 * with the host they were sent to.
 */
export function redirectHeaders(from: URL, to: URL, headers: Record<string, string>): Record<string, string> {
  if (to.host === from.host) return headers;
  const { authorization: _dropped, Authorization: _dropped2, ...rest } = headers;
  return rest;
}

export class BaseTransport implements Layer {
  private readonly dispatcher: Dispatcher;
  private readonly spares: SpareConnections | undefined;
  private readonly limiter: Semaphore;
  private readonly stats: TransportStats;

  constructor(options: BaseOptions, stats: TransportStats) {
    this.stats = stats;
    const connections = Math.max(options.concurrency, 1);
    const timeout = options.connectTimeoutSeconds * 1000;
    const common = {
      headersTimeout: options.requestTimeoutSeconds * 1000,
      bodyTimeout: options.requestTimeoutSeconds * 1000,
      keepAliveTimeout: 30_000,
      connections,
    };
    if (usesProxy(options.proxy)) {
      const tls = options.tls.forOrigin(options.registryOrigin);
      this.dispatcher = new EnvHttpProxyAgent({ ...common, ...options.proxy, connect: { ...tls, timeout }, requestTls: tls });
    } else {
      const verifying = buildConnector({ rejectUnauthorized: true, timeout });
      const trusting = buildConnector({ rejectUnauthorized: false, timeout });
      const connectNew: buildConnector.connector = (opts, callback) => {
        const origin = new URL(`${opts.protocol}//${opts.hostname}${opts.port ? `:${opts.port}` : ''}`).origin;
        return (options.tls.forOrigin(origin).rejectUnauthorized ? verifying : trusting)(opts, callback);
      };
      // Connections opened ahead of need are used first (replacements for connections the server
      // closed, then those opened during start-up), then new ones.
      const spares = new SpareConnections(connectNew, connections);
      this.spares = spares;
      const warm = options.warmSockets;
      const connect: buildConnector.connector = (opts, callback) => {
        const ready = spares.take(opts) ?? warm?.take(opts.protocol, opts.hostname, opts.port);
        if (!ready) return connectNew(opts, callback);
        ready.then((socket) => (socket ? callback(null, socket) : connectNew(opts, callback)));
      };
      this.dispatcher = new Agent({ ...common, connect });
    }
    this.limiter = new Semaphore(options.concurrency);
  }

  async send(req: HttpRequest): Promise<Response> {
    const res = await this.exchange(req);
    if (!req.readBody || res.status < 200 || res.status > 299) return res;
    const declared = Number(header(res, 'content-length'));
    const bytes = await readLimited(res.body, req.readBody.limit, req.readBody.what, Number.isFinite(declared) ? declared : undefined);
    return { ...res, bytes };
  }

  async close(): Promise<void> {
    this.spares?.close();
    await this.dispatcher.close().catch(() => undefined);
  }

  /** One request up to its response headers, following redirects when asked. */
  private async exchange(req: HttpRequest): Promise<Response> {
    const release = await this.limiter.acquire();
    // One turn of the event loop first: a connection whose response body was just read goes back
    // to undici's pool only then, and is reused instead of paying a new handshake.
    await new Promise((r) => setImmediate(r));
    try {
      let url = req.url;
      let headers = { ...req.headers };
      for (let hop = 0; ; hop++) {
        const t0 = Date.now();
        this.stats.firstRequestAt ??= t0;
        this.stats.requests++;
        const body = typeof req.body === 'function' ? req.body() : req.body;
        // A stream that failed before it could be sent (a digest mismatch, a broken source)
        // is reported as its own error, not handed to undici.
        if (body && !Buffer.isBuffer(body) && body.errored) throw body.errored;
        const res = await undiciRequest(url, {
          method: req.method,
          headers,
          body,
          dispatcher: this.dispatcher,
          ...(req.highWaterMark ? { highWaterMark: req.highWaterMark } : {}),
        });
        // A server that closes the connection after its answer (distribution does after every
        // HEAD) leaves the pool a connection short: the next request given to that slot would
        // pay a new handshake. The replacement is opened now, while other requests are in flight.
        if (/\bclose\b/i.test(header(res, 'connection') ?? '')) this.spares?.replace(url);
        // Request-level detail only under step debug logging (it costs a write per request).
        if (log.isDebug()) {
          log.debug(`${req.method} ${redactUrl(url)} → ${res.statusCode} (${Date.now() - t0} ms, at +${Math.round(performance.now())} ms)`);
        }
        const location = header(res, 'location');
        if (req.followRedirects && REDIRECTS.has(res.statusCode) && location && hop < MAX_REDIRECTS) {
          await res.body.dump();
          const next = new URL(location, url);
          headers = redirectHeaders(new URL(url), next, headers);
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
