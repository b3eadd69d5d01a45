/** Every registry of a run: one client (auth layer over its transport) per registry, sharing settings and counters. */
import { Authenticator } from './auth.ts';
import type { TransportStats } from './base.ts';
import { RegistryClient } from './client.ts';
import { type CredentialOptions, type Credentials, resolveCredentials } from './credentials.ts';
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
      const auth = new Authenticator(transport, credentials, (host) => this.realmTransport(host));
      c = new RegistryClient(transport, auth);
      this.clients.set(registry, c);
    }
    return c;
  }

  /**
   * Declares that the run needs `actions` on `registry/repository`, before the registry's first
   * request: its one token asks for every scope declared (a 401 asking for more still gets a new one).
   */
  declare(registry: string, repository: string, ...actions: Array<'pull' | 'push'>): void {
    this.client(registry).auth.declare(repository, ...actions);
  }

  /** An image reference the user wrote on `registry`, in the order given: the first is named if the registry is unreachable. */
  mention(registry: string, reference: string): void {
    this.client(registry).transport.mention(reference);
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
