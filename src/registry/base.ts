/**
 * The bottom layer: one undici Agent per registry host (a keep-alive pool per origin, HTTP/2 where
 * the server offers it over TLS, TLS settings per origin, proxy from the environment), the bound
 * on concurrent requests, each request's overall deadline, and redirects (credentials stay with
 * their origin; no downgrade to plain HTTP). undici through its public API only.
 */
import type { LookupFunction } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { Agent, Client, type Dispatcher, EnvHttpProxyAgent, Pool, buildConnector, request as undiciRequest } from 'undici';
import { Semaphore } from '../concurrency.ts';
import { log } from '../log.ts';
import { ActionError } from '../errors.ts';
import { readLimited } from './body.ts';
import { Deadline } from './deadline.ts';
import { type ProxyEnvironment, usesProxy } from '../hosts.ts';
import { type HttpRequest, type Layer, RedirectTargetError, type Response, header, redactUrl } from './http.ts';

/** What each origin the transport reaches is allowed: its TLS settings, and plain HTTP or not. */
export interface OriginPolicy {
  /** TLS settings for `https://host:port`. */
  forOrigin(origin: string): { rejectUnauthorized: boolean };
  /** Whether plain HTTP may carry requests to `host[:port]`. */
  plainHttpAllowed(host: string): boolean;
}

/** Counters for benchmarks and the job summary, shared by every transport of a run. */
export interface TransportStats {
  requests: number;
  retries: number;
  firstRequestAt?: number;
}

export interface BaseOptions {
  connectTimeoutSeconds: number;
  /** Headers and idle-body timeout, and the base of each request's overall deadline. */
  requestTimeoutSeconds: number;
  /** Most concurrent requests, and connections, to this host. */
  concurrency: number;
  policy: OriginPolicy;
  proxy: ProxyEnvironment;
  /** Offer HTTP/2 over TLS (ALPN; the default); false: HTTP/1.1 only. */
  http2?: boolean;
  /** How names are resolved (dns.lookup by default); tests resolve names that must not reach a resolver. */
  lookup?: LookupFunction;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

/**
 * The headers a redirected request carries. Storage redirects are pre-signed: credentials stay
 * with the origin (scheme, host and port) they were sent to.
 */
export function redirectHeaders(from: URL, to: URL, headers: Record<string, string>): Record<string, string> {
  if (to.origin === from.origin) return headers;
  return Object.fromEntries(Object.entries(headers).filter(([name]) => name.toLowerCase() !== 'authorization'));
}

/**
 * Why a URL may not be requested (by redirect or as given): anything but HTTPS, except plain HTTP
 * to a host the policy allows it for (loopback, or listed as insecure).
 */
function refusal(req: HttpRequest, url: URL, policy: OriginPolicy, redirectedFrom: string | undefined): ActionError | undefined {
  if (url.protocol === 'https:' || (url.protocol === 'http:' && policy.plainHttpAllowed(url.host))) return undefined;
  const to = redactUrl(url.toString());
  const how = redirectedFrom ? `the redirect from ${redactUrl(redirectedFrom)} to ${to}` : to;
  if (url.protocol !== 'http:') {
    return ActionError.policy(`${req.method} ${redactUrl(req.url)}: refusing ${how}: only https and http URLs are followed`, { code: 'URL_REFUSED' });
  }
  return ActionError.policy(`${req.method} ${redactUrl(req.url)}: refusing ${how} over plain HTTP: ${url.host} is neither loopback nor listed in insecure-registries`, {
    code: 'PLAIN_HTTP_REFUSED',
    hint: `List ${url.host} in insecure-registries to allow plain HTTP to it (the registry's credentials never go to another origin)`,
  });
}

export class BaseTransport implements Layer {
  private readonly dispatcher: Dispatcher;
  /** Through a proxy: one agent for origins whose certificates are not verified. */
  private readonly trustingProxy: Dispatcher | undefined;
  private readonly limiter: Semaphore;
  private readonly stats: TransportStats;
  private readonly policy: OriginPolicy;
  private readonly timeoutSeconds: number;
  /**
   * TLS origins whose first connection is up (true), or being opened by the first request to them
   * (the others wait for it): its ALPN answer decides whether they share it (HTTP/2) or each open
   * their own (HTTP/1.1). Without the wait, the whole first burst finds nothing connected and
   * opens a connection per request.
   */
  private readonly firstConnections = new Map<string, true | { done: Promise<void>; resolve: () => void }>();

  constructor(options: BaseOptions, stats: TransportStats) {
    this.stats = stats;
    this.policy = options.policy;
    this.timeoutSeconds = options.requestTimeoutSeconds;
    const connections = Math.max(options.concurrency, 1);
    const timeout = options.connectTimeoutSeconds * 1000;
    const common = {
      headersTimeout: options.requestTimeoutSeconds * 1000,
      bodyTimeout: options.requestTimeoutSeconds * 1000,
      keepAliveTimeout: 30_000,
      connections,
    };
    if (usesProxy(options.proxy)) {
      // The proxy agent takes one TLS setting for every origin: two agents, chosen per request.
      const agent = (tls: { rejectUnauthorized: boolean }) => new EnvHttpProxyAgent({ ...common, ...options.proxy, connect: { ...tls, timeout }, requestTls: tls });
      this.dispatcher = agent({ rejectUnauthorized: true });
      this.trustingProxy = agent({ rejectUnauthorized: false });
    } else {
      // HTTP/2 where the server offers it (ALPN), HTTP/1.1 keep-alive otherwise.
      const allowH2 = options.http2 ?? true;
      const lookup = options.lookup ? { lookup: options.lookup } : {};
      const verifying = buildConnector({ rejectUnauthorized: true, timeout, allowH2, ...lookup });
      const trusting = buildConnector({ rejectUnauthorized: false, timeout, allowH2, ...lookup });
      const connect: buildConnector.connector = (opts, callback) => {
        const origin = new URL(`${opts.protocol}//${opts.hostname}${opts.port ? `:${opts.port}` : ''}`).origin;
        return (options.policy.forOrigin(origin).rejectUnauthorized ? verifying : trusting)(opts, (err, socket) => {
          this.connected(origin, !err);
          // undici's connector callback is typed as two overloads; this is one call of either.
          (callback as (e: Error | null, s: typeof socket) => void)(err, socket);
        });
      };
      // One pool per origin. A connection that negotiated HTTP/2 carries up to `connections`
      // requests at once as streams (undici's default for a client is one at a time), so the pool
      // opens no second one while it is up.
      const client = (origin: URL, opts: object) => {
        let h2 = false;
        const c = new Client(origin, {
          ...opts,
          connect: (o, callback) =>
            connect(o, (err, socket) => {
              h2 = (socket as TLSSocket | null)?.alpnProtocol === 'h2';
              (callback as (e: Error | null, s: typeof socket) => void)(err, socket);
            }),
        });
        c.on('connect', () => {
          c.pipelining = h2 ? connections : 1;
        });
        return c;
      };
      this.dispatcher = new Agent({ ...common, allowH2, connect, factory: (origin, opts) => new Pool(origin, { ...opts, factory: client }) });
    }
    this.limiter = new Semaphore(options.concurrency);
  }

  /** One request, within its deadline: up to the headers, and on until its body is read or dropped. */
  async send(req: HttpRequest): Promise<Response> {
    const { res, deadline } = await this.exchange(req);
    try {
      if (!req.readBody || res.status < 200 || res.status > 299) {
        deadline.until(res.body);
        return res;
      }
      const declared = Number(header(res, 'content-length'));
      const bytes = await readLimited(res.body, req.readBody.limit, req.readBody.what, Number.isFinite(declared) ? declared : undefined);
      deadline.clear();
      return { ...res, bytes };
    } catch (e) {
      deadline.clear();
      throw e;
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.dispatcher.close().catch(() => undefined), this.trustingProxy?.close().catch(() => undefined)]);
  }

  /**
   * Over TLS (no proxy), the first request to an origin goes alone until its connection is up;
   * the others wait for it (firstConnections).
   */
  private async firstConnection(url: URL): Promise<boolean> {
    if (url.protocol !== 'https:' || this.trustingProxy) return false;
    const known = this.firstConnections.get(url.origin);
    if (known === true) return false;
    if (known) {
      await known.done;
      return false;
    }
    let resolve = () => {};
    const done = new Promise<void>((r) => (resolve = r));
    this.firstConnections.set(url.origin, { done, resolve });
    return true;
  }

  /** A connection to `origin` is up (or failed: the next request to it goes first again). */
  private connected(origin: string, up: boolean): void {
    const first = this.firstConnections.get(origin);
    if (up) this.firstConnections.set(origin, true);
    else if (first !== true) this.firstConnections.delete(origin);
    // After a turn of the event loop: undici takes the connection up (its protocol, the first
    // request on it) in callbacks of its own first; only then can the others share it.
    if (first && first !== true) setImmediate(first.resolve);
  }

  /** The dispatcher for a URL: through a proxy, the agent with that origin's TLS settings. */
  private dispatcherFor(url: URL): Dispatcher {
    if (!this.trustingProxy || url.protocol !== 'https:') return this.dispatcher;
    return this.policy.forOrigin(url.origin).rejectUnauthorized ? this.dispatcher : this.trustingProxy;
  }

  /**
   * One request up to its response headers, following redirects when asked. Its deadline starts
   * once it holds a slot (waiting for one is not the server's time).
   */
  private async exchange(req: HttpRequest): Promise<{ res: Response; deadline: Deadline }> {
    const release = await this.limiter.acquire();
    const deadline = new Deadline(req, this.timeoutSeconds);
    const signal = deadline.signal;
    // One turn of the event loop first: a connection whose response body was just read goes back
    // to undici's pool only then, and is reused instead of paying a new handshake.
    await new Promise((r) => setImmediate(r));
    try {
      let url = req.url;
      let headers = { ...req.headers };
      let redirectedFrom: string | undefined;
      for (let hop = 0; ; hop++) {
        const target = new URL(url);
        const refused = refusal(req, target, this.policy, redirectedFrom);
        if (refused) throw refused;
        this.stats.firstRequestAt ??= Date.now();
        const first = await this.firstConnection(target);
        const t0 = Date.now();
        this.stats.requests++;
        const body = typeof req.body === 'function' ? req.body() : req.body;
        // A stream that failed before it could be sent (a digest mismatch, a broken source)
        // is reported as its own error, not handed to undici.
        if (body && !Buffer.isBuffer(body) && body.errored) {
          if (first) this.connected(target.origin, false);
          throw body.errored;
        }
        const res = await undiciRequest(url, {
          method: req.method,
          headers,
          body,
          signal,
          dispatcher: this.dispatcherFor(target),
          // Over HTTP/2 every request is its own stream: undici may then send a PUT or POST
          // beside others on the one connection instead of opening another for it.
          idempotent: true,
          ...(req.highWaterMark ? { highWaterMark: req.highWaterMark } : {}),
        })
          .catch((e: unknown) => {
            throw redirectedFrom && !(e instanceof ActionError) ? new RedirectTargetError(url, e) : e;
          })
          // A first request that failed before connecting lets the others go on their own.
          .finally(() => first && this.connected(target.origin, false));
        // Request-level detail only under step debug logging (it costs a write per request).
        if (log.isDebug()) {
          log.debug(`${req.method} ${redactUrl(url)} → ${res.statusCode} (${Date.now() - t0} ms, at +${Math.round(performance.now())} ms)`);
        }
        const location = header(res, 'location');
        if (req.followRedirects && REDIRECTS.has(res.statusCode) && location && hop < MAX_REDIRECTS) {
          await res.body.dump();
          const next = new URL(location, url);
          headers = redirectHeaders(target, next, headers);
          redirectedFrom = url;
          url = next.toString();
          continue;
        }
        return { res: { status: res.statusCode, headers: res.headers, body: res.body, url }, deadline };
      }
    } catch (e) {
      deadline.clear();
      throw e;
    } finally {
      release();
    }
  }
}
