/**
 * The auth layer, on top of one registry's transport. It learns the scheme from the first answer
 * (no /v2/ ping), then attaches Basic credentials or a bearer token to every request, and answers
 * a 401 challenge once with fresh credentials. One token per registry covers every scope of the
 * run; it is renewed before it expires or when a new scope is needed.
 *
 * On a registry that is expected to want credentials (`gated`: most registries, Docker Hub and
 * GHCR among them, answer 401 to anonymous requests even for public pulls), the first request goes
 * alone and the others wait for what it teaches: without the gate the whole first burst is
 * answered 401 and sent again, and the token request waits behind that burst (measured:
 * BENCHMARKS.md, "Session 4", the auth gate). They wait at most GATE_MAX_WAIT_MS, and go as soon
 * as its challenge is answered (a token fetch begun, which they join). Elsewhere (a loopback or
 * listed-insecure registry with no credentials of the run) the first burst goes at once: such
 * registries are often anonymous, and the gate would cost them a round trip.
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
/**
 * The longest the others wait behind the first request: one that is not answered by then (a
 * stalled or retried request) lets them go on their own, as without the gate. The gate saves a
 * round trip; it may never hold them for the first request's whole retry budget.
 */
const GATE_MAX_WAIT_MS = 2_000;

type State =
  | { type: 'unknown' }
  | { type: 'anonymous' }
  | { type: 'basic' }
  | { type: 'bearer'; realm: string; service: string | undefined; token?: string; expiresAt: number; scopes: string };

/** A request on the registry, with the access it needs (the token scope). */
export interface AuthorizedRequest extends HttpRequest {
  repository: string;
  access: 'pull' | 'push';
}

export interface AuthenticatorOptions {
  /** The first request goes alone; the others wait until its answer has taught the scheme. */
  gated?: boolean;
}

export class Authenticator {
  readonly scopes = new ScopeSet();
  private state: State = { type: 'unknown' };
  /** While the first request is out (gated registries): settles once its answer has been handled. */
  private gate: Promise<void> | 'open' | undefined;
  private openGate: (() => void) | undefined;
  /** The token fetch in flight, and the scopes it asks for. */
  private pending: { scopes: string; promise: Promise<void> } | undefined;
  private readonly transport: HostTransport;
  private readonly credentials: () => Promise<Credentials>;
  private readonly realmTransport: (host: string) => HostTransport;

  constructor(
    transport: HostTransport,
    credentials: () => Promise<Credentials>,
    realmTransport: (host: string) => HostTransport,
    options: AuthenticatorOptions = {},
  ) {
    this.transport = transport;
    this.credentials = credentials;
    this.realmTransport = realmTransport;
    if (!options.gated) this.gate = 'open';
  }

  /**
   * Sends a request, with the registry's credentials only when it goes to the registry's own
   * origin (an upload location elsewhere gets none), answering a 401 challenge once with fresh
   * ones, and only a 401 from that origin: a host the registry redirected to, with a challenge of
   * its own, never gets them.
   */
  async send(req: AuthorizedRequest): Promise<Response> {
    const { repository, access, ...request } = req;
    const own = this.transport.owns(request.url);
    if (own && this.gate !== 'open') {
      if (this.gate) {
        this.scopes.add(repository, access); // asked for by the token the first request brings
        await this.gate;
      } else {
        this.gate = new Promise((resolve) => (this.openGate = resolve));
        const cap = setTimeout(() => this.release(), GATE_MAX_WAIT_MS);
        cap.unref();
        try {
          return await this.exchange(repository, access, request, own);
        } finally {
          clearTimeout(cap);
          this.release();
        }
      }
    }
    return this.exchange(repository, access, request, own);
  }

  private release(): void {
    if (this.gate === 'open') return;
    this.gate = 'open';
    this.openGate?.();
    this.openGate = undefined;
  }

  private async exchange(repository: string, access: string, request: HttpRequest, own: boolean): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      const authorization = own ? await this.authorization(repository, access) : undefined;
      const headers: Record<string, string> = { ...request.headers };
      if (authorization) headers.authorization = authorization;
      const res = await this.transport.send({ ...request, headers });
      const challenged = res.status === 401 && own && this.transport.owns(res.url);
      if (challenged && attempt < 2 && (await this.onUnauthorized(res.headers['www-authenticate'], authorization))) {
        // The first request's challenge has been answered (Basic chosen; a token fetch released
        // them as it began): the requests waiting behind it go now, in parallel with its second
        // attempt, and not only once its 401's body (which a server may drip) has been read.
        this.release();
        await discard(res);
        continue;
      }
      return res;
    }
  }

  /**
   * The Authorization header for a request needing `repository:action`, fetching a token when the
   * current one lacks the scope or is about to expire. Until a 401 says otherwise, none: the first
   * requests go out in parallel, and a registry that wants credentials says so on each (one token
   * fetch answers them all).
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
    const fetching = this.refresh();
    // The requests waiting behind the first one go now and join this fetch (authorization():
    // same scopes), sharing its token or its failure: one token request, one budget, for all.
    this.release();
    await fetching;
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
