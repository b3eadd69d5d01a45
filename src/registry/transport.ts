/**
 * One registry host's HTTP transport, built as layers (go-containerregistry's order, auth on top
 * in auth.ts): scheme → user agent → retry → base. Each layer is its own file.
 */
import { type TlsPolicy, type TransportStats, type WarmSockets, BaseTransport } from './base.ts';
import { dialHost, isListedInsecure, isLoopback, proxyEnvironment, splitHostPort } from './hosts.ts';
import type { HttpRequest, Layer, Response } from './http.ts';
import { type RetryPolicy, RetryTransport } from './retry.ts';
import { SchemeTransport } from './scheme.ts';
import { UserAgentTransport } from './user-agent.ts';

export interface TransportOptions extends RetryPolicy {
  /** Registries (host[:port]) reached without TLS verification, or over plain HTTP. */
  insecureRegistries: string[];
  /** Per-request timeouts in seconds: connect, and headers / idle body. */
  connectTimeoutSeconds: number;
  requestTimeoutSeconds: number;
  /** Most concurrent requests to one registry. */
  concurrency: number;
  /** Connections opened at start-up, taken before new ones are opened. */
  warmSockets?: WarmSockets;
  /** Where proxy settings are read from. */
  env?: NodeJS.ProcessEnv;
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
 * The TLS policy of one registry's transport: certificates are verified unless the registry is
 * listed as insecure, and (as yet) the same holds for every origin the transport reaches,
 * redirect targets included.
 */
export function registryTlsPolicy(listedInsecure: boolean): TlsPolicy {
  const settings = { rejectUnauthorized: !listedInsecure };
  return { forOrigin: () => settings };
}

export class HostTransport implements Layer {
  /** Registry name as references spell it (docker.io, ghcr.io, 127.0.0.1:5000). */
  readonly registry: string;
  /** host[:port] to dial (registry-1.docker.io for docker.io). */
  readonly host: string;
  readonly insecure: boolean;
  readonly tls: TlsPolicy;
  private readonly base: BaseTransport;
  private readonly scheme: SchemeTransport;

  constructor(registry: string, options: TransportOptions, stats: TransportStats) {
    this.registry = registry;
    this.host = dialHost(registry);
    this.insecure = isListedInsecure(registry, options.insecureRegistries);
    const loopback = isLoopback(splitHostPort(this.host).hostname);
    this.tls = registryTlsPolicy(this.insecure);
    this.base = new BaseTransport(
      {
        connectTimeoutSeconds: options.connectTimeoutSeconds,
        requestTimeoutSeconds: options.requestTimeoutSeconds,
        concurrency: options.concurrency,
        tls: this.tls,
        registryOrigin: `https://${this.host}`,
        proxy: proxyEnvironment(options.env ?? process.env),
        warmSockets: options.warmSockets,
      },
      stats,
    );
    const retry = new RetryTransport(this.base, options, stats);
    // Plain HTTP is allowed for loopback and listed registries only; everything else is HTTPS.
    this.scheme = new SchemeTransport(new UserAgentTransport(retry), this.host, {
      preferred: loopback ? 'http' : 'https',
      negotiate: this.insecure || loopback,
      label: registry,
    });
  }

  /** The registry's origin (`scheme://host:port`) once its scheme is known. */
  origin(): string | undefined {
    return this.scheme.origin();
  }

  /** Sends a request; a URL that starts with '/' is on this registry. */
  send(req: HttpRequest): Promise<Response> {
    return this.scheme.send(req);
  }

  close(): Promise<void> {
    return this.base.close();
  }
}
