/**
 * One registry host's HTTP transport, built as layers (go-containerregistry's order, auth on top
 * in auth.ts): ping (scheme.ts) → user agent → retry → base. Each layer is its own file.
 */
import { type BaseOptions, type OriginPolicy, type TransportStats, BaseTransport } from './base.ts';
import { dialHost, http1Only, isListedInsecure, isLoopback, plainHttpAllowed, proxyEnvironment, splitHostPort } from '../hosts.ts';
import { type HttpRequest, type Layer, type Response, originOf } from './http.ts';
import { type RetryPolicy, RetryTransport } from './retry.ts';
import { Ping, type PingResult } from './scheme.ts';
import { UserAgentTransport } from './user-agent.ts';

export interface TransportOptions extends RetryPolicy {
  /** Registries (host[:port]) reached without TLS verification, or over plain HTTP. */
  insecureRegistries: string[];
  /** Per-request timeouts in seconds: connect, and headers / idle body. */
  connectTimeoutSeconds: number;
  requestTimeoutSeconds: number;
  /** Most concurrent requests to one registry. */
  concurrency: number;
  /** Where proxy settings (and MULTIARCH_HTTP1_ONLY: no HTTP/2) are read from. */
  env?: NodeJS.ProcessEnv;
  /** How names are resolved (dns.lookup by default): a seam for tests. */
  lookup?: BaseOptions['lookup'];
}

export const DEFAULT_TRANSPORT_OPTIONS: TransportOptions = {
  insecureRegistries: [],
  retries: 5,
  retryMaxSeconds: 120,
  connectTimeoutSeconds: 15,
  requestTimeoutSeconds: 60,
  concurrency: 64,
};

/**
 * Each origin's own policy, whichever registry's transport reaches it (its redirect targets and
 * upload locations included): certificates are verified unless that host itself is listed as
 * insecure, and plain HTTP is allowed only to loopback and listed hosts. `registry` counts as
 * listed for its dial host too (docker.io for registry-1.docker.io).
 */
export function originPolicy(registry: string, insecure: readonly string[]): OriginPolicy {
  const dial = dialHost(registry).toLowerCase();
  const registryListed = isListedInsecure(registry, insecure);
  const listed = (host: string) => (registryListed && host.toLowerCase() === dial) || isListedInsecure(host, insecure);
  return {
    forOrigin(origin) {
      const u = new URL(origin);
      // URL drops a default port; a list entry may name it.
      return { rejectUnauthorized: !(listed(u.host) || listed(`${u.hostname}:${u.port || 443}`)) };
    },
    plainHttpAllowed: (host) => plainHttpAllowed(host, insecure) || listed(host),
  };
}

export class HostTransport implements Layer {
  /** Registry name as references spell it (docker.io, ghcr.io, 127.0.0.1:5000). */
  readonly registry: string;
  /** host[:port] to dial (registry-1.docker.io for docker.io). */
  readonly host: string;
  readonly insecure: boolean;
  readonly policy: OriginPolicy;
  private readonly base: BaseTransport;
  private readonly pinger: Ping;
  private readonly next: Layer;
  private mentioned: string | undefined;

  constructor(registry: string, options: TransportOptions, stats: TransportStats) {
    this.registry = registry;
    this.host = dialHost(registry);
    this.insecure = isListedInsecure(registry, options.insecureRegistries);
    const loopback = isLoopback(splitHostPort(this.host).hostname);
    this.policy = originPolicy(registry, options.insecureRegistries);
    this.base = new BaseTransport(
      {
        connectTimeoutSeconds: options.connectTimeoutSeconds,
        requestTimeoutSeconds: options.requestTimeoutSeconds,
        concurrency: options.concurrency,
        policy: this.policy,
        proxy: proxyEnvironment(options.env ?? process.env),
        http2: !http1Only(options.env ?? process.env),
        lookup: options.lookup,
      },
      stats,
    );
    const retry = new RetryTransport(this.base, options, stats);
    this.next = new UserAgentTransport(retry);
    // Plain HTTP is allowed for loopback and listed registries only; everything else is HTTPS.
    this.pinger = new Ping(new UserAgentTransport(this.base), retry, this.host, {
      preferred: loopback ? 'http' : 'https',
      negotiate: this.insecure || loopback,
      label: registry,
    });
  }

  /** The registry's origin (`scheme://host:port`) once its scheme is known. */
  origin(): string | undefined {
    return this.pinger.origin();
  }

  /** An image reference the user wrote on this registry: the first one is what an unreachable registry's error names. */
  mention(reference: string): void {
    this.mentioned ??= reference;
  }

  /**
   * The registry's one ping (`GET /v2/`): its scheme and challenge, learnt once and shared.
   * `subject`: the image reference the caller needs the registry for, named if it is unreachable
   * (unless a reference was mentioned before).
   */
  ping(subject?: string): Promise<PingResult> {
    return this.pinger.run(this.mentioned ?? subject);
  }

  /**
   * Whether a URL is on the registry's own origin (scheme, host and port): the only place its
   * credentials go. A path (`/v2/…`) is; an absolute URL before the scheme is known is not.
   */
  owns(url: string): boolean {
    if (url.startsWith('/')) return true;
    const own = this.origin();
    try {
      return own !== undefined && originOf(url) === originOf(own);
    } catch {
      return false;
    }
  }

  /** Sends a request; a URL that starts with '/' is on this registry (sent after its ping). */
  async send(req: HttpRequest): Promise<Response> {
    if (!req.url.startsWith('/')) return this.next.send(req);
    await this.ping();
    return this.next.send({ ...req, url: this.pinger.url(req.url) });
  }

  close(): Promise<void> {
    return this.base.close();
  }
}
