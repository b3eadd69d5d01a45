/**
 * Token requests to a registry's token realm (distribution's token.md and oauth.md): a GET with
 * Basic credentials, or a POST exchanging an identity (refresh) token; and the answer's parsing.
 */
import { ActionError } from '../errors.ts';
import { type Credentials, basicAuthorization } from './credentials.ts';
import type { Layer, Response } from './http.ts';
import { readLimited } from './body.ts';

const TOKEN_BODY_LIMIT = 64 * 1024;

export interface TokenResponse {
  token: string;
  /** Seconds; 60 when the server gives none (token.md). */
  expiresIn: number;
  /** When the token was issued (ms since epoch), if the server said. */
  issuedAt?: number;
}

/** RFC 6750 section 2.1: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * Parses a token server's JSON answer: `token` or its OAuth2 alias `access_token`, `expires_in`
 * (default 60 s) and the optional `issued_at`. Returns undefined when there is no token.
 */
export function parseTokenResponse(text: string): TokenResponse | undefined {
  let body: { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null) return undefined;
  const token =
    (typeof body.token === 'string' && body.token) || (typeof body.access_token === 'string' && body.access_token) || '';
  if (!token) return undefined;
  // RFC 6750's b64token: what an Authorization header can carry. Anything else (line breaks,
  // spaces, words a hostile token server would like masked across the job log) is no token.
  if (!B64TOKEN.test(token)) throw ActionError.auth('the token server answered with a token that is not an RFC 6750 b64token', { code: 'TOKEN_INVALID', hint: 'The token server is broken or hostile; nothing was sent with its token' });
  const expiresIn = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60;
  const issued = typeof body.issued_at === 'string' ? Date.parse(body.issued_at) : NaN;
  return { token, expiresIn, ...(Number.isNaN(issued) ? {} : { issuedAt: issued }) };
}

export interface TokenRequest {
  realm: URL;
  service: string | undefined;
  /** Space-separated scopes. */
  scopes: string;
  credentials: Credentials;
  /** Whether credentials may go to the realm: https, or a loopback or listed insecure host. */
  credentialsAllowed: boolean;
  /** The registry the token is for, in messages. */
  registry: string;
}

/** Asks the realm for a token; throws an auth error when it refuses or answers nonsense. */
export async function requestToken(transport: Layer, t: TokenRequest): Promise<TokenResponse> {
  const c = t.credentials;
  const refuse = () => authError(`refusing to send credentials to ${t.realm.origin} over plain HTTP`, t.realm.toString());
  let res: Response;
  if (c.identityToken) {
    if (!t.credentialsAllowed) throw refuse();
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: c.identityToken, client_id: 'multiarch-manifest-action' });
    if (t.service) form.set('service', t.service);
    if (t.scopes) form.set('scope', t.scopes);
    res = await transport.send({
      method: 'POST',
      url: t.realm.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: Buffer.from(form.toString()),
    });
  } else {
    const url = new URL(t.realm);
    if (t.service) url.searchParams.set('service', t.service);
    for (const s of t.scopes ? t.scopes.split(' ') : []) url.searchParams.append('scope', s);
    const headers: Record<string, string> = {};
    const basic = basicAuthorization(c);
    if (basic) {
      if (!t.credentialsAllowed) throw refuse();
      headers.authorization = basic;
    }
    res = await transport.send({ method: 'GET', url: url.toString(), headers });
  }
  const text = (await readLimited(res.body, TOKEN_BODY_LIMIT, 'token response')).toString('utf8');
  if (res.status === 401 || res.status === 403) {
    throw ActionError.auth(`${t.registry}: the token server ${t.realm.origin} refused the credentials (${c.source}) with HTTP ${res.status}`, {
      code: 'UNAUTHORIZED',
      status: res.status,
      hint: `Check the username and password for ${t.registry}`,
    });
  }
  if (res.status !== 200) throw authError(`token server ${t.realm.origin} answered HTTP ${res.status}`, t.registry);
  const parsed = parseTokenResponse(text);
  if (!parsed) throw authError(`token server ${t.realm.origin} returned no token`, t.registry);
  return parsed;
}

export function authError(message: string, registry: string): ActionError {
  return ActionError.auth(message, { hint: `Check the registry's authentication setup for ${registry}` });
}
