/**
 * Where the transport's connections come from, and which protocol each origin speaks. Connections
 * opened ahead of need are used first (replacements for ones the server closed, then those opened
 * at start-up), then new ones. Over TLS the first connection to an origin is opened before any
 * request is handed to undici: its ALPN answer decides the pool. HTTP/2 carries every request on
 * one connection as streams (at most `limit` at a time); HTTP/1.1 uses up to `limit` keep-alive
 * connections. Without that first step undici's pool would open a connection for every request of
 * the first burst (before anything is connected, every request finds no free connection), and
 * over HTTP/2 each of them would carry a single request.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Dispatcher, buildConnector } from 'undici';
import { SpareConnections } from './spare-connections.ts';
import { Pool } from './undici.ts';

/** Connections opened before the transport existed (preconnect.ts), handed over once each. */
export interface WarmSockets {
  /** A connection for exactly this scheme, host and port once it is up, or undefined. */
  take(protocol: string, hostname: string, port: string): Promise<Socket | undefined> | undefined;
  /** Closes the ones nobody took. */
  close(): void;
}

export type Protocol = 'h2' | 'http/1.1';

/** `https://host:port` with the default port spelt out and IPv6 brackets dropped. */
function originKey(protocol: string, hostname: string, port: string): string {
  const p = port || (protocol === 'https:' ? '443' : '80');
  return `${protocol}//${hostname.replace(/^\[|\]$/g, '')}:${p}`;
}

export class Connections {
  private readonly spares: SpareConnections;
  private readonly connectNew: buildConnector.connector;
  private readonly warm: WarmSockets | undefined;
  private readonly limit: number;
  /** What each TLS origin's first connection negotiated; pending while it is being opened. */
  private readonly protocols = new Map<string, Protocol | Promise<Protocol>>();

  constructor(connectNew: buildConnector.connector, limit: number, warm?: WarmSockets) {
    this.connectNew = connectNew;
    this.limit = limit;
    this.warm = warm;
    this.spares = new SpareConnections(connectNew, limit);
  }

  /** The connector undici's pools call. */
  readonly connect: buildConnector.connector = (opts, callback) => {
    const ready = this.spares.take(opts) ?? this.warm?.take(opts.protocol, opts.hostname, opts.port);
    if (!ready) return this.connectNew(opts, callback);
    ready.then((socket) => (socket ? callback(null, socket) : this.connectNew(opts, callback)));
  };

  /**
   * Resolves once requests to the origin of `url` may be handed to undici: at once for plain
   * HTTP and for TLS origins whose protocol is known; otherwise after the first connection is up
   * (one at a time per origin). That connection waits for the pool among the spares.
   */
  ready(url: URL): Protocol | Promise<Protocol> {
    if (url.protocol !== 'https:') return 'http/1.1';
    const key = originKey(url.protocol, url.hostname, url.port);
    const known = this.protocols.get(key);
    if (known) return known;
    const hostname = url.hostname.replace(/^\[|\]$/g, '');
    const opts = { protocol: url.protocol, hostname, host: url.host, port: url.port, servername: null } as unknown as buildConnector.Options;
    const first = new Promise<Protocol>((resolve) => {
      this.connect(opts, (err, socket) => {
        if (err || !socket) {
          // The requests connect on their own and report the failure; the next burst asks again.
          this.protocols.delete(key);
          return resolve('http/1.1');
        }
        const protocol: Protocol = (socket as TLSSocket).alpnProtocol === 'h2' ? 'h2' : 'http/1.1';
        this.protocols.set(key, protocol);
        this.spares.offer(opts, socket);
        resolve(protocol);
      });
    });
    this.protocols.set(key, first);
    return first;
  }

  /** undici Agent's factory: one pool per origin, shaped by the protocol its first connection chose. */
  readonly poolFor = (origin: string | URL, opts: object): Dispatcher => {
    const u = new URL(origin);
    const protocol = this.protocols.get(originKey(u.protocol, u.hostname, u.port));
    // HTTP/2: one connection, up to `limit` streams on it (the transport's limiter bounds them too).
    return new Pool(u, protocol === 'h2' ? { ...opts, connections: 1, pipelining: this.limit } : opts);
  };

  /** A connection to the origin of `url` was closed by the server after its answer: replace it now. */
  replace(url: string): void {
    this.spares.replace(url);
  }

  close(): void {
    this.spares.close();
  }
}
