/**
 * The base layer over a small HTTP server on 127.0.0.1: the point is the layer's own handling
 * (redirects, whole-body reads, the connections it is handed, the TLS policy it asks), not a
 * registry's behaviour, which the integration tests cover with the real one.
 */
import assert from 'node:assert/strict';
import { type IncomingMessage, type Server, createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { ActionError } from '../../../src/errors.ts';
import { BaseTransport, type BaseOptions, type TransportStats, redirectHeaders } from '../../../src/registry/base.ts';
import { proxyEnvironment } from '../../../src/hosts.ts';

describe('base layer', () => {
  let server: Server;
  let port = 0;
  const seen: IncomingMessage[] = [];
  before(async () => {
    server = createServer((req, res) => {
      seen.push(req);
      if (req.url === '/redirect-other') return res.writeHead(307, { location: `http://localhost:${port}/landed` }).end();
      if (req.url === '/redirect-same') return res.writeHead(302, { location: '/landed' }).end();
      if (req.url === '/big') return res.writeHead(200, { 'content-length': '10' }).end('0123456789');
      if (req.url === '/missing') return res.writeHead(404).end('{"errors":[]}');
      res.writeHead(200).end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const origins: string[] = [];
  const options = (extra: Partial<BaseOptions> = {}): BaseOptions => ({
    connectTimeoutSeconds: 5,
    requestTimeoutSeconds: 5,
    concurrency: 4,
    policy: { forOrigin: (o: string) => (origins.push(o), { rejectUnauthorized: true }), plainHttpAllowed: () => true },
    proxy: proxyEnvironment({}),
    ...extra,
  });

  it('follows redirects when asked; Authorization stays with the host it was sent to', async () => {
    const stats: TransportStats = { requests: 0, retries: 0 };
    const base = new BaseTransport(options(), stats);
    try {
      seen.length = 0;
      const res = await base.send({ method: 'GET', url: `http://127.0.0.1:${port}/redirect-other`, headers: { authorization: 'Basic c2VjcmV0' }, followRedirects: true });
      assert.equal(res.status, 200);
      assert.equal(res.url, `http://localhost:${port}/landed`);
      assert.deepEqual(seen.map((r) => [r.url, r.headers.authorization]), [['/redirect-other', 'Basic c2VjcmV0'], ['/landed', undefined]]);
      await res.body.dump();
      seen.length = 0;
      const same = await base.send({ method: 'GET', url: `http://127.0.0.1:${port}/redirect-same`, headers: { authorization: 'Basic c2VjcmV0' }, followRedirects: true });
      await same.body.dump();
      assert.deepEqual(seen.map((r) => r.headers.authorization), ['Basic c2VjcmV0', 'Basic c2VjcmV0']);
      const unfollowed = await base.send({ method: 'GET', url: `http://127.0.0.1:${port}/redirect-same` });
      await unfollowed.body.dump();
      assert.equal(unfollowed.status, 302);
      assert.equal(stats.requests, 5, 'every hop counts as a request');
      assert.ok(stats.firstRequestAt);
    } finally {
      await base.close();
    }
  });

  it('reads a 2xx body whole when asked, within its limit; other answers keep their stream', async () => {
    const base = new BaseTransport(options(), { requests: 0, retries: 0 });
    try {
      const ok = await base.send({ method: 'GET', url: `http://127.0.0.1:${port}/big`, readBody: { limit: 10, what: 'x' } });
      assert.equal(ok.bytes?.toString(), '0123456789');
      await assert.rejects(base.send({ method: 'GET', url: `http://127.0.0.1:${port}/big`, readBody: { limit: 9, what: 'the thing' } }), (e: ActionError) => {
        assert.equal(e.code, 'SIZE_INVALID');
        assert.match(e.message, /the thing is 10 bytes, over the limit of 9/);
        return true;
      });
      const missing = await base.send({ method: 'GET', url: `http://127.0.0.1:${port}/missing`, readBody: { limit: 10, what: 'x' } });
      assert.equal(missing.bytes, undefined);
      assert.equal((await missing.body.text()), '{"errors":[]}');
    } finally {
      await base.close();
    }
  });

  it('asks the TLS policy for each origin it connects to, once per connection', async () => {
    origins.length = 0;
    const base = new BaseTransport(options({ concurrency: 1 }), { requests: 0, retries: 0 });
    try {
      for (const url of [`http://127.0.0.1:${port}/`, `http://127.0.0.1:${port}/`, `http://localhost:${port}/`]) {
        const res = await base.send({ method: 'GET', url });
        await res.body.dump();
      }
      assert.deepEqual(origins, [`http://127.0.0.1:${port}`, `http://localhost:${port}`], 'the kept-alive connection is reused');
    } finally {
      await base.close();
    }
  });

  it('redirectHeaders drops credentials across origins only', () => {
    const h = { authorization: 'x', accept: 'y' };
    assert.deepEqual(redirectHeaders(new URL('https://a/x'), new URL('https://a/y'), h), h);
    assert.deepEqual(redirectHeaders(new URL('https://a/x'), new URL('https://b/y'), h), { accept: 'y' });
    assert.deepEqual(redirectHeaders(new URL('https://a/x'), new URL('http://a/y'), h), { accept: 'y' });
  });
});
