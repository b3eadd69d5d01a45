/** Every registry of a run: one client (auth layer over its transport) per registry, sharing settings and counters. */
import { Authenticator } from './auth.ts';
import type { TransportStats } from './base.ts';
import { RegistryClient } from './client.ts';
import { type CredentialOptions, type Credentials, keyNamesRegistry, resolveCredentials } from './credentials.ts';
import { isListedInsecure, isLoopback, splitHostPort } from '../hosts.ts';
import { DEFAULT_TRANSPORT_OPTIONS, HostTransport, type TransportOptions } from './transport.ts';

export interface RegistriesOptions {
  transport?: Partial<TransportOptions>;
  credentials?: CredentialOptions;
}

export class Registries {
  private readonly clients = new Map<string, RegistryClient>();
  /** Transports to token realms, which carry no registry credentials of their own. */
  private readonly realmTransports = new Map<string, HostTransport>();
  private readonly options: TransportOptions;
  private readonly credentialOptions: CredentialOptions;
  readonly stats: TransportStats = { requests: 0, retries: 0 };

  constructor(options: RegistriesOptions = {}) {
    this.options = { ...DEFAULT_TRANSPORT_OPTIONS, ...options.transport };
    this.credentialOptions = options.credentials ?? {};
  }

  client(registry: string): RegistryClient {
    let c = this.clients.get(registry);
    if (!c) {
      const transport = new HostTransport(registry, this.options, this.stats);
      let creds: Promise<Credentials> | undefined;
      const credentials = () => (creds ??= resolveCredentials(registry, this.credentialOptions));
      const auth = new Authenticator(transport, credentials, (host) => this.realmTransport(host), { gated: this.expectsAuth(registry) });
      c = new RegistryClient(transport, auth);
      this.clients.set(registry, c);
    }
    return c;
  }

  /**
   * Whether a registry can be expected to answer anonymous requests with 401 (the auth gate,
   * auth.ts): every registry except a loopback or listed-insecure one (often anonymous: a local or
   * self-hosted registry) that the run has no explicit credentials for.
   */
  private expectsAuth(registry: string): boolean {
    const { hostname } = splitHostPort(registry);
    if (!isLoopback(hostname) && !isListedInsecure(registry, this.options.insecureRegistries)) return true;
    const explicit = this.credentialOptions.explicit;
    return Boolean(explicit && keyNamesRegistry(explicit.registry, registry));
  }

  private realmTransport(host: string): HostTransport {
    let t = this.realmTransports.get(host);
    if (!t) {
      t = new HostTransport(host, this.options, this.stats);
      this.realmTransports.set(host, t);
    }
    return t;
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.close()));
    await Promise.all([...this.realmTransports.values()].map((t) => t.close()));
  }
}
