/**
 * Per-registry authentication state: learns the scheme from the first 401 (no /v2/ ping), then
 * attaches Basic credentials or a bearer token to every request. One token per registry covers
 * every scope of the run; it is renewed before it expires or when a new scope is needed.
 */
import { ActionError } from '../errors.ts';
import { log } from '../log.ts';
import { type Challenge, ScopeSet, parseChallenges, parseTokenResponse } from './challenge.ts';
import type { Credentials } from './credentials.ts';
import { type Endpoint, isLoopback, hostnameOf } from './transport.ts';
import { readLimited } from './errors.ts';

const TOKEN_BODY_LIMIT = 64 * 1024;
const EXPIRY_MARGIN_MS = 10_000;

type State =
  | { type: 'unknown' }
  | { type: 'anonymous' }
  | { type: 'basic' }
  | { type: 'bearer'; realm: string; service: string | undefined; token?: string; expiresAt: number; scopes: string };

export class Authenticator {
  readonly scopes = new ScopeSet();
  private state: State = { type: 'unknown' };
  /** The token fetch in flight, and the scopes it asks for. */
  private pending: { scopes: string; promise: Promise<void> } | undefined;
  private readonly endpoint: Endpoint;
  private readonly credentials: () => Promise<Credentials>;
  private readonly realmEndpoint: (host: string) => Endpoint;

  constructor(endpoint: Endpoint, credentials: () => Promise<Credentials>, realmEndpoint: (host: string) => Endpoint) {
    this.endpoint = endpoint;
    this.credentials = credentials;
    this.realmEndpoint = realmEndpoint;
  }

  /**
   * The Authorization header for a request needing `repository:action`, fetching a token when the
   * current one lacks the scope or is about to expire. Until a 401 says otherwise, none: the first
   * requests go out in parallel, and a registry that wants credentials says so on each (one token
   * fetch answers them all).
   */
  async authorization(repository: string | undefined, action: string | undefined): Promise<string | undefined> {
    const newScope = Boolean(repository && action && this.scopes.add(repository, action));
    switch (this.state.type) {
      case 'basic':
        return basicHeader(await this.credentials());
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
  async onUnauthorized(wwwAuthenticate: string | string[] | undefined, sent: string | undefined): Promise<boolean> {
    const challenges = parseChallenges(wwwAuthenticate);
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (bearer) return this.onBearer(bearer, sent);
    if (basic) {
      if (this.state.type === 'basic' && sent) return false;
      const c = await this.credentials();
      if (!c.username || c.password === undefined) return false;
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
    const c = await this.credentials();
    let realmUrl: URL;
    try {
      realmUrl = new URL(realm);
    } catch {
      throw authError(`token realm '${realm}' of ${this.endpoint.registry} is not a URL`, this.endpoint.registry);
    }
    const realmEndpoint = this.realmEndpoint(realmUrl.host);
    const plaintextOk = realmUrl.protocol === 'https:' || isLoopback(hostnameOf(realmUrl.host)) || realmEndpoint.insecure;
    const scopeList = scopes ? scopes.split(' ') : [];
    let res: Awaited<ReturnType<Endpoint['send']>>;
    if (c.identityToken) {
      if (!plaintextOk) throw authError(`refusing to send credentials to ${realmUrl.origin} over plain HTTP`, realm);
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: c.identityToken,
        client_id: 'multiarch-manifest-action',
      });
      if (service) form.set('service', service);
      if (scopes) form.set('scope', scopes);
      res = await realmEndpoint.send({
        method: 'POST',
        url: realmUrl.toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: Buffer.from(form.toString()),
      });
    } else {
      const url = new URL(realmUrl);
      if (service) url.searchParams.set('service', service);
      for (const s of scopeList) url.searchParams.append('scope', s);
      const headers: Record<string, string> = {};
      const basic = basicHeader(c);
      if (basic) {
        if (!plaintextOk) throw authError(`refusing to send credentials to ${realmUrl.origin} over plain HTTP`, realm);
        headers.authorization = basic;
      }
      res = await realmEndpoint.send({ method: 'GET', url: url.toString(), headers });
    }
    const text = (await readLimited(res.body, TOKEN_BODY_LIMIT, 'token response')).toString('utf8');
    if (res.status === 401 || res.status === 403) {
      throw new ActionError(
        `${this.endpoint.registry}: the token server ${realmUrl.origin} refused the credentials (${c.source}) with HTTP ${res.status}`,
        {
          kind: 'auth',
          code: 'UNAUTHORIZED',
          status: res.status,
          hint: `Check the username and password for ${this.endpoint.registry}`,
        },
      );
    }
    if (res.status !== 200) {
      throw authError(`token server ${realmUrl.origin} answered HTTP ${res.status}`, this.endpoint.registry);
    }
    const parsed = parseTokenResponse(text);
    if (!parsed) throw authError(`token server ${realmUrl.origin} returned no token`, this.endpoint.registry);
    const { token, expiresIn } = parsed;
    log.setSecret(token);
    const from = Math.min(parsed.issuedAt ?? Date.now(), Date.now());
    this.state = { type: 'bearer', realm, service, token, expiresAt: from + expiresIn * 1000, scopes };
    log.debug(`${this.endpoint.registry}: token for ${scopeList.length} scope(s), expires in ${expiresIn} s`);
  }

  get scheme(): State['type'] {
    return this.state.type;
  }
}

function basicHeader(c: Credentials): string | undefined {
  if (!c.username || c.password === undefined) return undefined;
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

function authError(message: string, registry: string): ActionError {
  return new ActionError(message, { kind: 'auth', hint: `Check the registry's authentication setup for ${registry}` });
}

