/**
 * A small token server for distribution's `auth.token` mode: checks Basic credentials, grants the
 * requested scopes allowed by a policy, and signs ES256 JWTs with a certificate that the registry
 * trusts (rootcertbundle). The registry verifies every token itself, so the flow is real.
 */
import { createPrivateKey, randomUUID, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { makeSigningCert } from './certs.ts';

export interface TokenIssuerOptions {
  users: Record<string, string>;
  /** OAuth2 refresh tokens (Docker's identitytoken) and the user each stands for. */
  refreshTokens?: Record<string, string>;
  /** Actions a user may have on a repository; default: pull and push everywhere. */
  policy?: (user: string | undefined, repository: string, actions: string[]) => string[];
  service?: string;
  /** Serve HTTPS with this certificate (a real token service's realm is HTTPS). */
  tls?: { cert: string; key: string };
}

export interface TokenIssuer {
  port: number;
  realm: string;
  service: string;
  issuer: string;
  rootCertBundle: string;
  /** Every token issued, to check that none leaks into logs. */
  issued: string[];
  /** Every request the issuer saw (query and whether Basic credentials came). */
  requests: Array<{ method: string; scopes: string[]; user?: string; authorization: boolean; userAgent?: string }>;
  mint(user: string | undefined, scopes: string[]): string;
  stop(): Promise<void>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

function parseBasic(req: IncomingMessage): { user: string; password: string } | undefined {
  const h = req.headers.authorization;
  if (!h?.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(h.slice(6), 'base64').toString();
  const i = decoded.indexOf(':');
  return { user: decoded.slice(0, i), password: decoded.slice(i + 1) };
}

export async function startTokenIssuer(options: TokenIssuerOptions): Promise<TokenIssuer> {
  const signing = makeSigningCert();
  const key = createPrivateKey(readFileSync(signing.key));
  const service = options.service ?? 'test-registry';
  const issuerName = 'test-issuer';
  const policy = options.policy ?? ((user, _repo, actions) => (user ? actions : actions.filter((a) => a === 'pull')));
  const issued: string[] = [];
  const requests: TokenIssuer['requests'] = [];

  const mint = (user: string | undefined, scopes: string[]): string => {
    const access = scopes.flatMap((s) => {
      const first = s.indexOf(':');
      const last = s.lastIndexOf(':');
      const type = s.slice(0, first);
      const name = s.slice(first + 1, last);
      const actions = policy(user, name, s.slice(last + 1).split(','));
      return type === 'repository' && actions.length ? [{ type, name, actions }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'ES256', x5c: [signing.certDerBase64] };
    const claims = { iss: issuerName, sub: user ?? '', aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
    const token = `${input}.${b64url(signature)}`;
    issued.push(token);
    return token;
  };

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'POST') {
      // OAuth2: grant_type=refresh_token with the identity token; scopes space-separated.
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        const user = options.refreshTokens?.[form.get('refresh_token') ?? ''];
        const scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
        requests.push({ method: 'POST', scopes, user, authorization: false, userAgent: req.headers['user-agent'] });
        if (form.get('grant_type') !== 'refresh_token' || !user) {
          res.writeHead(401, { 'content-type': 'application/json' });
          res.end('{"error":"invalid_grant"}');
          return;
        }
        const token = mint(user, scopes);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ access_token: token, expires_in: 300, refresh_token: form.get('refresh_token') }));
      });
      return;
    }
    const url = new URL(req.url ?? '/', 'http://x');
    const scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean);
    const creds = parseBasic(req);
    requests.push({ method: req.method ?? '', scopes, user: creds?.user, authorization: Boolean(creds), userAgent: req.headers['user-agent'] });
    if (creds && options.users[creds.user] !== creds.password) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end('{"details":"incorrect username or password"}');
      return;
    }
    const token = mint(creds?.user, scopes);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
  };
  const server: Server = options.tls
    ? createHttpsServer({ cert: readFileSync(options.tls.cert), key: readFileSync(options.tls.key) }, handler)
    : createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    realm: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}/token`,
    service,
    issuer: issuerName,
    rootCertBundle: signing.cert,
    issued,
    requests,
    mint,
    stop: () => new Promise((r) => server.close(() => r())),
  };
}
