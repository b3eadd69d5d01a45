/**
 * The transport's trust rules, table-driven: which origins get plain HTTP, unverified TLS and the
 * Authorization header; each request's deadline. The base-layer cases run over a small HTTP
 * server on 127.0.0.1 (the point is the layer's own handling, not a registry's behaviour).
 */
import assert from 'node:assert/strict';
import { type Server, type ServerResponse, createServer } from 'node:http';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { ActionError } from '../../../src/errors.ts';
import { BaseTransport, type BaseOptions, type OriginPolicy, redirectHeaders } from '../../../src/registry/base.ts';
import { DEADLINE_FLOOR_RATE, deadlineMs, expectedBytes } from '../../../src/registry/deadline.ts';
import { plainHttpAllowed, proxyEnvironment } from '../../../src/hosts.ts';
import { DEFAULT_TRANSPORT_OPTIONS, HostTransport, originPolicy } from '../../../src/registry/transport.ts';

describe('origin rules', () => {
  it('plain HTTP: loopback and listed hosts only', () => {
    const listed = ['reg.local:5000', 'other.example'];
    const table: Array<[string, boolean]> = [
      ['127.0.0.1:5000', true],
      ['127.9.9.9', true],
      ['localhost:80', true],
      ['[::1]:5000', true],
      ['reg.local:5000', true],
      ['REG.local:5000', true],
      ['reg.local:5001', false],
      ['reg.local', false],
      ['other.example', true],
      ['registry.test:443', false],
      ['128.0.0.1', false],
      ['127.0.0.1.evil.example', false],
      ['[::2]', false],
    ];
    for (const [host, want] of table) assert.equal(plainHttpAllowed(host, listed), want, host);
  });

  it("each origin's own TLS setting: the registry's listing does not reach its redirect targets", () => {
    const policy = originPolicy('reg.local:5000', ['reg.local:5000', 'storage.local:443']);
    const table: Array<[string, boolean]> = [
      ['https://reg.local:5000', false],
      ['https://storage.local', false], // the default port, named in the list
      ['https://storage.local:8443', true],
      ['https://s3.example', true],
      ['https://reg.local', true], // another port is another origin
    ];
    for (const [origin, verify] of table) assert.equal(policy.forOrigin(origin).rejectUnauthorized, verify, origin);
    assert.equal(originPolicy('reg.local:5000', []).forOrigin('https://reg.local:5000').rejectUnauthorized, true);
    // docker.io listed covers the host it is dialled at.
    assert.equal(originPolicy('docker.io', ['docker.io']).forOrigin('https://registry-1.docker.io').rejectUnauthorized, false);
    assert.equal(originPolicy('docker.io', ['docker.io']).plainHttpAllowed('registry-1.docker.io'), true);
    assert.equal(originPolicy('ghcr.io', ['docker.io']).plainHttpAllowed('registry-1.docker.io'), false);
  });

  it('Authorization survives a redirect only to the same origin (scheme, host and port)', () => {
    const h = { Authorization: 'Basic x', accept: 'y' };
    const table: Array<[string, string, boolean]> = [
      ['https://a/x', 'https://a/y?z', true],
      ['https://a/x', 'https://a:443/y', true],
      ['https://a/x', 'https://A/y', true],
      ['https://a/x', 'http://a/y', false],
      ['https://a:5000/x', 'https://a:5001/y', false],
      ['https://a/x', 'https://b/y', false],
      ['https://a/x', 'https://a.b/y', false],
      ['https://a/x', 'https://user:pw@a/y', true], // same origin; undici refuses userinfo itself
    ];
    for (const [from, to, kept] of table) {
      const out = redirectHeaders(new URL(from), new URL(to), h);
      assert.deepEqual(out, kept ? h : { accept: 'y' }, `${from} → ${to}`);
    }
  });

  it("a transport owns its registry's origin only, once the scheme is known", () => {
    const t = new HostTransport('reg.example:5000', DEFAULT_TRANSPORT_OPTIONS, { requests: 0, retries: 0 });
    const table: Array<[string, boolean]> = [
      ['/v2/app/blobs/uploads/x', true],
      ['https://reg.example:5000/v2/x', true],
      ['https://REG.example:5000/v2/x', true],
      ['http://reg.example:5000/v2/x', false],
      ['https://reg.example/v2/x', false],
      ['https://reg.example:5000.evil/v2/x', false],
      ['https://evil.example/reg.example:5000', false],
      ['not a url', false],
    ];
    for (const [url, want] of table) assert.equal(t.owns(url), want, url);
    const loopback = new HostTransport('127.0.0.1:5000', DEFAULT_TRANSPORT_OPTIONS, { requests: 0, retries: 0 });
    assert.equal(loopback.owns('http://127.0.0.1:5000/v2/'), false, 'scheme not learnt yet: nothing absolute is owned');
    assert.equal(loopback.owns('/v2/'), true);
  });
});

describe('deadlines', () => {
  it('twice the timeout, plus the expected bytes at the floor rate', () => {
    assert.equal(deadlineMs(60, 0), 120_000);
    assert.equal(deadlineMs(1, DEADLINE_FLOOR_RATE), 3000);
    assert.equal(deadlineMs(60, 1024 ** 3), 120_000 + 4096_000);
    const stream = () => Readable.from([]);
    const table: Array<[Parameters<typeof expectedBytes>[0], number]> = [
      [{ method: 'GET', url: '/' }, 0],
      [{ method: 'GET', url: '/', expectedBytes: 5 }, 5],
      [{ method: 'PUT', url: '/', body: Buffer.alloc(7) }, 7],
      [{ method: 'PUT', url: '/', body: stream, headers: { 'content-length': '9' } }, 9],
      [{ method: 'PUT', url: '/', body: stream, headers: { 'content-length': 'nine' } }, 0],
      [{ method: 'PUT', url: '/', body: stream, headers: { 'content-length': '-3' } }, 0],
    ];
    for (const [req, want] of table) assert.equal(expectedBytes(req), want, JSON.stringify(req.headers ?? req.expectedBytes ?? null));
  });
});

describe('base layer: redirects and deadlines', () => {
  let server: Server;
  let port = 0;
  const seen: string[] = [];
  const trickle = (res: ServerResponse, total: number, everyMs: number) => {
    res.writeHead(200, { 'content-length': String(total) });
    let sent = 0;
    const timer = setInterval(() => {
      if (res.destroyed || sent >= total) return clearInterval(timer);
      res.write('x');
      sent++;
    }, everyMs);
    res.on('close', () => clearInterval(timer));
  };
  before(async () => {
    server = createServer((req, res) => {
      seen.push(`${req.url} ${req.headers.authorization ?? '-'}`);
      if (req.url === '/to-plain') return res.writeHead(302, { location: `http://127.0.0.1:${port}/landed` }).end();
      if (req.url === '/to-ftp') return res.writeHead(302, { location: 'ftp://127.0.0.1/x' }).end();
      if (req.url === '/trickle') return trickle(res, 100, 100);
      if (req.url === '/slow-steady') return trickle(res, 30, 100);
      res.writeHead(200).end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  after(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });
  const policy = (plain: boolean): OriginPolicy => ({ forOrigin: () => ({ rejectUnauthorized: true }), plainHttpAllowed: () => plain });
  const base = (plain: boolean, timeoutSeconds = 5) =>
    new BaseTransport({ connectTimeoutSeconds: 5, requestTimeoutSeconds: timeoutSeconds, concurrency: 4, policy: policy(plain), proxy: proxyEnvironment({}) } satisfies BaseOptions, { requests: 0, retries: 0 });

  it('plain HTTP where the policy forbids it is refused before anything is sent; so is a redirect to it', async () => {
    const t = base(false);
    try {
      seen.length = 0;
      await assert.rejects(t.send({ method: 'GET', url: `http://127.0.0.1:${port}/anything` }), (e: ActionError) => e.code === 'PLAIN_HTTP_REFUSED' && /insecure-registries/.test(e.line));
      assert.deepEqual(seen, []);
    } finally {
      await t.close();
    }
    const allowed = base(true);
    try {
      seen.length = 0;
      await assert.rejects(allowed.send({ method: 'GET', url: `http://127.0.0.1:${port}/to-ftp`, followRedirects: true }), (e: ActionError) => e.code === 'URL_REFUSED' && e.message.includes('ftp://127.0.0.1/x'));
      const ok = await allowed.send({ method: 'GET', url: `http://127.0.0.1:${port}/to-plain`, headers: { authorization: 'Basic c2VjcmV0' }, followRedirects: true });
      await ok.body.dump();
      assert.deepEqual(seen, ['/to-ftp -', '/to-plain Basic c2VjcmV0', '/landed Basic c2VjcmV0'], 'same origin: the header stays');
    } finally {
      await allowed.close();
    }
  });

  it('a trickling body ends with DEADLINE_EXCEEDED, read whole or streamed; the expected size lengthens the deadline', async () => {
    const t = base(true, 0.5);
    try {
      const deadlineError = (e: ActionError) => e.code === 'DEADLINE_EXCEEDED' && /no complete answer within 1(\.\d)? s \(twice the timeout of 0\.5 s\)/.test(e.message);
      await assert.rejects(t.send({ method: 'GET', url: `http://127.0.0.1:${port}/trickle`, readBody: { limit: 1000, what: 'x' } }), deadlineError);
      const streamed = await t.send({ method: 'GET', url: `http://127.0.0.1:${port}/trickle` });
      await assert.rejects(streamed.body.text(), deadlineError);
      // 30 bytes, one per 100 ms: 3 s, within 1 s + 1 MiB at the floor rate (4 s).
      const steady = await t.send({ method: 'GET', url: `http://127.0.0.1:${port}/slow-steady`, expectedBytes: 1024 * 1024 });
      assert.equal((await steady.body.text()).length, 30);
    } finally {
      await t.close();
    }
  });
});
