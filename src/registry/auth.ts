/**
 * The auth layer, on top of one registry's transport. Before the registry's first request it
 * waits for the registry's ping (scheme.ts: `GET /v2/`, anonymous), whose challenge says what the
 * registry wants: nothing, Basic credentials, or a bearer token from the realm it names. Then it
 * attaches them to every request on the registry's own origin, and answers a 401 challenge once
 * with fresh credentials (the fallback: a registry that wants more than its ping said, or a scope
 * nobody declared). One token per registry covers every scope of the run, declared up front
 * (`declare`, from the publish layer); it is renewed before it expires or when a new scope is needed.
 */
import { log } from '../log.ts';
import { type Challenge, parseChallenges } from './challenge.ts';
import { type Credentials, basicAuthorization, maskSecret } from './credentials.ts';
import { isLoopback, splitHostPort } from '../hosts.ts';
import { type HttpRequest, type Response, discard } from './http.ts';
import { ScopeSet } from './scopes.ts';
import { authError, requestToken } from './token.ts';
import type { HostTransport } from './transport.ts';

const EXPIRY_MARGIN_MS = 10_000;

type State =
  | { type: 'unknown' }
  | { type: 'anonymous' }
  | { type: 'basic' }
  | { type: 'bearer'; realm: string; service: string | undefined; token?: string; expiresAt: number; scopes: string };

/** A request on the registry, with the access it needs (the token scope). */
export interface AuthorizedRequest extends HttpRequest {
  repository: string;
  access: 'pull' | 'push';
  /** The image reference (normalized) the request is for, named if the registry is unreachable. */
  subject?: string;
}

export class Authenticator {
  readonly scopes = new ScopeSet();
  private state: State = { type: 'unknown' };
  /** What the ping taught, once (shared by the first requests). */
  private pinged: Promise<void> | undefined;
  /** The token fetch in flight, and the scopes it asks for. */
  private pending: { scopes: string; promise: Promise<void> } | undefined;
  private readonly transport: HostTransport;
  private readonly credentials: () => Promise<Credentials>;
  private readonly realmTransport: (host: string) => HostTransport;

  constructor(
    transport: HostTransport,
    credentials: () => Promise<Credentials>,
    realmTransport: (host: string) => HostTransport,
  ) {
    this.transport = transport;
    this.credentials = credentials;
    this.realmTransport = realmTransport;
  }

  /** Scopes the run needs on this registry, asked for by its one token (declared before its first request). */
  declare(repository: string, ...actions: Array<'pull' | 'push'>): void {
    this.scopes.add(repository, ...actions);
  }

  /**
   * Sends a request, with the registry's credentials only when it goes to the registry's own
   * origin (an upload location elsewhere gets none), answering a 401 challenge once with fresh
   * ones, and only a 401 from that origin: a host the registry redirected to, with a challenge of
   * its own, never gets them.
   */
  async send(req: AuthorizedRequest): Promise<Response> {
    const { repository, access, subject, ...request } = req;
    if (request.url.startsWith('/')) await this.ping(subject ?? `${this.transport.registry}/${repository}`);
    return this.exchange(repository, access, request, this.transport.owns(request.url));
  }

  /** Waits for the registry's ping and takes what its challenge asks for (once; a failed ping is asked again). */
  private ping(subject: string): Promise<void> {
    this.pinged ??= this.transport.ping(subject).then(
      async ({ status, challenges }) => {
        if (this.state.type !== 'unknown') return;
        const bearer = challenges.find((c) => c.scheme === 'bearer');
        if (status === 401 && bearer?.parameters.realm) {
          this.state = { type: 'bearer', realm: bearer.parameters.realm, service: bearer.parameters.service, expiresAt: 0, scopes: '' };
        } else if (status === 401 && challenges.some((c) => c.scheme === 'basic')) {
          if (basicAuthorization(await this.credentials())) this.state = { type: 'basic' };
        } else if (status >= 200 && status < 300) {
          this.state = { type: 'anonymous' };
        }
      },
      (e: unknown) => {
        this.pinged = undefined;
        throw e;
      },
    );
    return this.pinged;
  }

  private async exchange(repository: string, access: string, request: HttpRequest, own: boolean): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      const authorization = own ? await this.authorization(repository, access) : undefined;
      const headers: Record<string, string> = { ...request.headers };
      if (authorization) headers.authorization = authorization;
      const res = await this.transport.send({ ...request, headers });
      const challenged = res.status === 401 && own && this.transport.owns(res.url);
      if (challenged && attempt < 2 && (await this.onUnauthorized(res.headers['www-authenticate'], authorization))) {
        await discard(res);
        continue;
      }
      return res;
    }
  }

  /**
   * The Authorization header for a request needing `repository:action`, fetching a token when the
   * current one lacks the scope or is about to expire (concurrent requests share one fetch). None
   * when the ping found the registry anonymous, until a 401 says otherwise.
   */
  private async authorization(repository: string, action: string): Promise<string | undefined> {
    const newScope = this.scopes.add(repository, action);
    switch (this.state.type) {
      case 'basic':
        return basicAuthorization(await this.credentials());
      case 'bearer': {
        const stale = !this.state.token || Date.now() > this.state.expiresAt - EXPIRY_MARGIN_MS;
        if (newScope || stale || this.state.scopes !== this.scopes.toScopes().join(' ')) await this.refresh();
        return this.state.type === 'bearer' && this.state.token ? `Bearer ${this.state.token}` : undefined;
      }
      default:
        return undefined;
    }
  }

  /**
   * Handles a 401: learns the challenge and fetches what it asks for. Returns true when the
   * request should be sent again with new credentials.
   */
  private async onUnauthorized(wwwAuthenticate: string | string[] | undefined, sent: string | undefined): Promise<boolean> {
    const challenges = parseChallenges(wwwAuthenticate);
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (bearer) return this.onBearer(bearer, sent);
    if (basic) {
      if (this.state.type === 'basic' && sent) return false;
      if (!basicAuthorization(await this.credentials())) return false;
      this.state = { type: 'basic' };
      return true;
    }
    return false;
  }

  private async onBearer(challenge: Challenge, sent: string | undefined): Promise<boolean> {
    const realm = challenge.parameters.realm;
    if (!realm) return false;
    const newScope = this.scopes.addFromChallenge(challenge.parameters.scope);
    if (this.state.type === 'bearer' && this.state.realm === realm) {
      if (this.pending && !newScope) {
        await this.pending.promise;
        return true;
      }
      // Another request already brought a newer token: try again with it.
      if (this.state.token && sent !== `Bearer ${this.state.token}` && !newScope) return true;
      // Refused with the current token and nothing new to ask for: the grant is not enough.
      if (sent && !newScope) return false;
    } else {
      this.state = { type: 'bearer', realm, service: challenge.parameters.service, expiresAt: 0, scopes: '' };
    }
    await this.refresh();
    return true;
  }

  /** One token fetch at a time per set of scopes; concurrent callers share it. */
  private refresh(): Promise<void> {
    const scopes = this.scopes.toScopes().join(' ');
    if (this.pending?.scopes === scopes) return this.pending.promise;
    const promise = this.fetchToken(scopes).finally(() => {
      if (this.pending?.promise === promise) this.pending = undefined;
    });
    this.pending = { scopes, promise };
    return promise;
  }

  private async fetchToken(scopes: string): Promise<void> {
    if (this.state.type !== 'bearer') return;
    const { realm, service } = this.state;
    const registry = this.transport.registry;
    const credentials = await this.credentials();
    let realmUrl: URL;
    try {
      realmUrl = new URL(realm);
    } catch {
      throw authError(`token realm '${realm}' of ${registry} is not a URL`, registry);
    }
    const transport = this.realmTransport(realmUrl.host);
    const credentialsAllowed = realmUrl.protocol === 'https:' || isLoopback(splitHostPort(realmUrl.host).hostname) || transport.insecure;
    const { token, expiresIn, issuedAt } = await requestToken(transport, { realm: realmUrl, service, scopes, credentials, credentialsAllowed, registry });
    maskSecret(token, `the token from ${realmUrl.origin}`, true);
    const from = Math.min(issuedAt ?? Date.now(), Date.now());
    this.state = { type: 'bearer', realm, service, token, expiresAt: from + expiresIn * 1000, scopes };
    log.debug(`${registry}: token for ${scopes ? scopes.split(' ').length : 0} scope(s), expires in ${expiresIn} s`);
  }
}
