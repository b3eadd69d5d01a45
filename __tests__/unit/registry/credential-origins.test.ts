/**
 * Property: whatever a registry answers — any challenge, any redirect or upload Location, any
 * status — and whatever the hosts it points at answer in turn, the registry's credentials and the
 * tokens bought with them reach only the registry's own origin, and the token realm the registry
 * itself named. Scripted servers on 127.0.0.1 play the registry and two other hosts (storage,
 * upload target, realm); the client is the product's own (Registries), in process.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { type Logger, actionsLogger, setLogger } from '../../../src/log.ts';
import type { Digest } from '../../../src/oci/digest.ts';
import { Registries } from '../../../src/registry/registries.ts';

const USER = 'prop-user';
const PASSWORD = 'prop-Secret-9f83';
const BASIC = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
const DIGEST: Digest = `sha256:${'a'.repeat(64)}`;

/** What a scripted server answers next. `{R}`, `{F1}`, … in strings become the servers' URLs. */
type Answer =
  | { kind: 'challenge'; header: string }
  | { kind: 'redirect'; status: 301 | 302 | 303 | 307 | 308; location: string }
  | { kind: 'upload'; location: string }
  | { kind: 'token' }
  | { kind: 'status'; status: number };

interface Seen {
  server: string;
  method: string;
  host: string;
  path: string;
  authorization: string | undefined;
  body: string;
}

const silent: Logger = { debug() {}, info() {}, warning() {}, error() {}, setSecret() {}, group: (_n, fn) => fn(), isDebug: () => false };

describe('property: credentials go only to the registry origin and the realm it named', () => {
  const servers = new Map<string, { server: Server; port: number; script: Answer[] }>();
  const seen: Seen[] = [];
  /** Realms (origin + path) that the registry itself named in its challenges this run. */
  const namedRealms = new Set<string>();
  let urls: Record<string, string> = {};
  let tokens = 0;

  const expand = (s: string) => s.replace(/\{(\w+)\}/g, (m, name: string) => urls[name] ?? m);

  function answer(name: string, req: IncomingMessage, res: ServerResponse, body: string): void {
    seen.push({ server: name, method: req.method ?? '', host: req.headers.host ?? '', path: req.url ?? '', authorization: req.headers.authorization, body });
    const fallback: Answer = /^\/(token|realm)/.test(req.url ?? '') ? { kind: 'token' } : { kind: 'status', status: req.method === 'PUT' ? 201 : 200 };
    const a = servers.get(name)?.script.shift() ?? fallback;
    try {
      switch (a.kind) {
        case 'challenge': {
          const header = expand(a.header);
          if (name === 'R') for (const m of header.matchAll(/realm="([^"]*)"/gi)) if (URL.canParse(m[1] as string)) namedRealms.add(realmKey(new URL(m[1] as string)));
          res.writeHead(401, { 'www-authenticate': header, 'content-length': '0' }).end();
          return;
        }
        case 'redirect':
          res.writeHead(a.status, { location: expand(a.location), 'content-length': '0' }).end();
          return;
        case 'upload':
          res.writeHead(202, { location: expand(a.location), 'content-length': '0' }).end();
          return;
        case 'token': {
          const token = JSON.stringify({ token: `tok-${name}-${++tokens}`, expires_in: 300 });
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(token.length) }).end(token);
          return;
        }
        default:
          res.writeHead(a.status, { 'content-length': '2' }).end('{}');
      }
    } catch {
      // A generated header value node refuses to send.
      if (!res.headersSent) res.writeHead(500, { 'content-length': '0' }).end();
    }
  }

  const realmKey = (u: URL) => `${u.origin}${u.pathname}`;

  before(async () => {
    for (const name of ['R', 'F1', 'F2']) {
      const server = createServer((req, res) => {
        let body = '';
        req.setEncoding('latin1');
        req.on('data', (d: string) => (body.length < 4096 ? (body += d) : undefined));
        req.on('end', () => answer(name, req, res, body));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      servers.set(name, { server, port: (server.address() as { port: number }).port, script: [] });
    }
    const port = (n: string) => servers.get(n)?.port as number;
    urls = {
      R: `http://127.0.0.1:${port('R')}`,
      F1: `http://127.0.0.1:${port('F1')}`,
      F2: `http://127.0.0.1:${port('F2')}`,
      // The registry's server under other origins: another name, another scheme, userinfo.
      R_LOCALHOST: `http://localhost:${port('R')}`,
      R_HTTPS: `https://127.0.0.1:${port('R')}`,
      F1_USERINFO: `http://${USER}:${PASSWORD}@127.0.0.1:${port('F1')}`,
      LOOPBACK_ALIAS: `http://127.0.0.2:${port('R')}`,
    };
    setLogger(silent);
  });
  after(async () => {
    setLogger(actionsLogger);
    for (const { server } of servers.values()) {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  const headerText = fc.string({ unit: fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff })).map((c) => String.fromCharCode(c)), maxLength: 40 });
  const place = fc.constantFrom('{R}', '{F1}', '{F2}', '{R_LOCALHOST}', '{R_HTTPS}', '{F1_USERINFO}', '{LOOPBACK_ALIAS}');
  const url = fc.oneof(
    { arbitrary: fc.tuple(place, fc.constantFrom('/v2/app/blobs/uploads/u1?_state=x', '/token', '/realm/a', `/v2/app/blobs/${DIGEST}`, '/signed/x?sig=1', '')).map(([p, path]) => p + path), weight: 6 },
    { arbitrary: fc.constantFrom('//127.0.0.1:1/x', 'ftp://127.0.0.1/x', 'file:///etc/passwd', '/relative/on/same', 'relative', '', 'http://[::1]:1/x', 'javascript:alert(1)'), weight: 1 },
    { arbitrary: headerText, weight: 1 },
  );
  const challenge = fc.oneof(
    fc.record({ scheme: fc.constantFrom('Bearer', 'Basic', 'bearer', 'Negotiate'), realm: url, extra: fc.oneof(fc.constant(''), headerText.map((t) => `,${t}`)) }).map(({ scheme, realm, extra }) => `${scheme} realm="${realm}",service="svc",scope="repository:app:pull,push"${extra}`),
    fc.tuple(url, url).map(([a, b]) => `Basic realm="x", Bearer realm="${a}", Bearer realm="${b}"`),
    headerText,
  );
  const answerArb: fc.Arbitrary<Answer> = fc.oneof(
    { arbitrary: challenge.map((header) => ({ kind: 'challenge' as const, header })), weight: 3 },
    { arbitrary: fc.record({ kind: fc.constant('redirect' as const), status: fc.constantFrom(301, 302, 303, 307, 308) as fc.Arbitrary<301 | 302 | 303 | 307 | 308>, location: url }), weight: 3 },
    { arbitrary: url.map((location) => ({ kind: 'upload' as const, location })), weight: 3 },
    { arbitrary: fc.constant({ kind: 'token' as const }), weight: 1 },
    { arbitrary: fc.constantFrom(200, 201, 202, 400, 401, 403, 404, 500).map((status) => ({ kind: 'status' as const, status })), weight: 1 },
  );
  const script = fc.array(answerArb, { maxLength: 6 });
  /** The registry first asks for credentials as real ones do (Basic, or Bearer with a realm somewhere), then anything. */
  const firstChallenge = fc.oneof(
    { arbitrary: fc.constant('Basic realm="registry"'), weight: 2 },
    { arbitrary: place.map((p) => `Bearer realm="${p}/token",service="svc"`), weight: 2 },
    { arbitrary: challenge, weight: 1 },
  );
  const registryScript = fc.tuple(firstChallenge, script).map(([c, rest]): Answer[] => [{ kind: 'challenge', header: c }, ...rest]);
  const operation = fc.constantFrom('getManifest', 'headBlob', 'getBlobBytes', 'upload', 'mount');

  it('for any answers, no other origin sees the credentials or a token', async () => {
    await fc.assert(
      fc.asyncProperty(registryScript, script, script, operation, fc.boolean(), async (r, f1, f2, op, identity) => {
        seen.length = 0;
        namedRealms.clear();
        (servers.get('R') as { script: Answer[] }).script = [...r];
        (servers.get('F1') as { script: Answer[] }).script = [...f1];
        (servers.get('F2') as { script: Answer[] }).script = [...f2];
        const registry = `127.0.0.1:${servers.get('R')?.port}`;
        const registries = new Registries({
          transport: { retries: 0, requestTimeoutSeconds: 1, connectTimeoutSeconds: 1, backoffBaseMs: 1, env: {} },
          credentials: identity
            ? { runHelper: async () => JSON.stringify({ Username: '<token>', Secret: PASSWORD }), env: { DOCKER_CONFIG: helperConfig(registry) } }
            : { explicit: { registry, username: USER, password: PASSWORD } },
        });
        const client = registries.client(registry);
        try {
          await runOperation(client, op);
        } catch {
          // Failing is fine; leaking is not.
        } finally {
          await registries.close();
        }
        for (const s of seen) {
          const carriesSecret = s.authorization === BASIC || `${s.authorization ?? ''} ${s.path} ${s.body}`.includes(PASSWORD);
          const onRegistry = s.server === 'R' && s.host === registry;
          const toNamedRealm = namedRealms.has(realmKey(new URL(s.path, `http://${s.host}`)));
          if (carriesSecret) assert.ok(onRegistry || toNamedRealm, `credentials reached ${s.server} (${s.host}) at ${s.method} ${s.path}`);
          if (s.authorization?.startsWith('Bearer ')) assert.ok(onRegistry, `a token reached ${s.server} (${s.host}) at ${s.method} ${s.path}`);
          if (s.authorization && !onRegistry) assert.ok(toNamedRealm && s.authorization === BASIC, `Authorization ${s.authorization} reached ${s.server} (${s.host}) at ${s.path}`);
        }
      }),
      {
        numRuns: 300,
        // The attacks of issue 12, always tried: a forged upload Location; a storage host's own challenge.
        examples: [
          [[{ kind: 'challenge', header: 'Basic realm="registry"' }, { kind: 'upload', location: '{F1}/v2/app/blobs/uploads/u1' }], [{ kind: 'challenge', header: 'Basic realm="elsewhere"' }], [], 'upload', false],
          [[{ kind: 'challenge', header: 'Basic realm="registry"' }, { kind: 'redirect', status: 307, location: '{F1}/signed/x' }], [{ kind: 'challenge', header: 'Bearer realm="{F2}/token"' }], [], 'getBlobBytes', false],
        ],
      },
    );
  });
});

/** A Docker config naming a credential helper for the registry (the helper itself is injected). */
function helperConfig(registry: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'prop-cfg-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ credHelpers: { [registry]: 'prop' } }));
  return dir;
}

async function runOperation(client: ReturnType<Registries['client']>, op: string): Promise<void> {
  switch (op) {
    case 'getManifest':
      await client.getManifest('app', 'tag');
      return;
    case 'headBlob':
      await client.headBlob('app', DIGEST);
      return;
    case 'getBlobBytes':
      await client.getBlobBytes('app', DIGEST, 1024, 'config');
      return;
    case 'upload': {
      const { location } = await client.startUploadSession('app');
      await client.putUpload('app', location, DIGEST, 3, Buffer.from('abc'), true);
      return;
    }
    default: {
      const mount = await client.mountBlob('app', DIGEST, 'other');
      if (!mount.mounted) await client.putUpload('app', mount.location, DIGEST, 3, Buffer.from('abc'), true);
    }
  }
}
