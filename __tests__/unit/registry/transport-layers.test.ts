/**
 * Each transport layer alone, over a scripted next layer: the point here is the layer's own logic
 * (which request it passes on, when it sends again). How the stack behaves with a real registry is
 * in __tests__/integration/.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { ActionError } from '../../../src/errors.ts';
import type { HttpRequest, Layer, Response } from '../../../src/registry/http.ts';
import { RetryTransport, backoffMs, isReplayable } from '../../../src/registry/retry.ts';
import { Ping } from '../../../src/registry/scheme.ts';
import { USER_AGENT, UserAgentTransport } from '../../../src/registry/user-agent.ts';
import { VERSION } from '../../../src/version.ts';
import { readFileSync } from 'node:fs';

type Step = number | { status: number; headers?: Record<string, string>; body?: string } | Error;

/** A next layer that answers from a script and records what it was sent. */
function scripted(steps: Step[]): Layer & { sent: HttpRequest[] } {
  const sent: HttpRequest[] = [];
  return {
    sent,
    async send(req) {
      sent.push(req);
      const step = steps.shift();
      if (step === undefined) throw new Error('script exhausted');
      if (step instanceof Error) throw step;
      const s = typeof step === 'number' ? { status: step } : step;
      const body = Object.assign(Readable.from([Buffer.from(s.body ?? '')]), { dump: async () => undefined }) as unknown as Response['body'];
      return { status: s.status, headers: s.headers ?? {}, body, url: req.url };
    },
  };
}

const coded = (code: string, message = code) => Object.assign(new Error(message), { code });
const get = (url = 'http://r.example/v2/x'): HttpRequest => ({ method: 'GET', url });

describe('retry layer', () => {
  const policy = { retries: 2, retryMaxSeconds: 60, backoffBaseMs: 1 };
  const stats = () => ({ requests: 0, retries: 0 });

  it('sends again on retryable statuses and connection failures, within the attempts', async () => {
    const next = scripted([503, coded('ECONNRESET'), 200]);
    const s = stats();
    const res = await new RetryTransport(next, policy, s).send(get());
    assert.equal(res.status, 200);
    assert.equal(next.sent.length, 3);
    assert.equal(s.retries, 2);
  });

  it('a body that broke off is retried in the same budget as failures before the headers', async () => {
    const next = scripted([502, coded('UND_ERR_RES_CONTENT_LENGTH_MISMATCH'), coded('ERR_STREAM_PREMATURE_CLOSE')]);
    await assert.rejects(new RetryTransport(next, policy, stats()).send(get()), (e: ActionError) => {
      assert.equal(e.kind, 'network');
      assert.match(e.message, /failed after 3 attempts: ERR_STREAM_PREMATURE_CLOSE/);
      return true;
    });
    assert.equal(next.sent.length, 3, 'one budget: 1 + 2 retries in all');
  });

  it('returns the last retryable answer when the attempts run out', async () => {
    const next = scripted([503, 503, 503]);
    assert.equal((await new RetryTransport(next, policy, stats()).send(get())).status, 503);
    assert.equal(next.sent.length, 3);
  });

  it('does not retry other statuses, errors of the action, single-attempt requests or unreplayable bodies', async () => {
    for (const [steps, req] of [
      [[404], get()],
      [[new ActionError('too big', { kind: 'integrity', code: 'SIZE_INVALID' })], get()],
      [[coded('ECONNRESET')], { ...get(), retry: false }],
      [[503], { method: 'PUT', url: 'http://r/x', body: () => Readable.from([]) }],
      [[503], { method: 'PATCH', url: 'http://r/x', body: Buffer.from('x') }],
    ] as Array<[Step[], HttpRequest]>) {
      const next = scripted(steps);
      await new RetryTransport(next, policy, stats()).send(req).catch(() => undefined);
      assert.equal(next.sent.length, 1, JSON.stringify(req));
    }
  });

  it('honours Retry-After, and gives up when waiting would pass the time budget', async () => {
    const next = scripted([{ status: 429, headers: { 'retry-after': '3600' } }]);
    const res = await new RetryTransport(next, { ...policy, retryMaxSeconds: 1 }, stats()).send(get());
    assert.equal(res.status, 429);
    assert.equal(next.sent.length, 1);
  });

  it('backoff doubles from the base, jittered between half and all, capped at 30 s', () => {
    const p = { retries: 5, retryMaxSeconds: 60, backoffBaseMs: 100 };
    assert.deepEqual([1, 2, 3].map((a) => [backoffMs(p, a, 0), backoffMs(p, a, 1)]), [[50, 100], [100, 200], [200, 400]]);
    assert.equal(backoffMs(p, 20, 1), 30_000);
  });

  it('replayable: idempotent methods and POST, with a buffer or a replayable stream factory', () => {
    const s = () => Readable.from([]);
    const table: Array<[HttpRequest, boolean]> = [
      [{ method: 'GET', url: '/' }, true],
      [{ method: 'POST', url: '/', body: Buffer.alloc(0) }, true],
      [{ method: 'PUT', url: '/', body: s }, false],
      [{ method: 'PUT', url: '/', body: s, replayable: true }, true],
      [{ method: 'PATCH', url: '/', body: Buffer.alloc(1) }, false],
    ];
    for (const [req, want] of table) assert.equal(isReplayable(req), want, `${req.method} ${String(req.replayable)}`);
  });
});

describe('ping (scheme.ts)', () => {
  const label = 'test';
  const options = (host: string, preferred: 'http' | 'https', negotiate: boolean) => ({ preferred, negotiate, label, host });
  const ping = (next: Layer, o: ReturnType<typeof options>, stats = { requests: 0, retries: 0 }) =>
    new Ping(next, new RetryTransport(next, { retries: 2, retryMaxSeconds: 60, backoffBaseMs: 1 }, stats), o.host, o);

  it('one GET /v2/ at the fixed scheme, shared by concurrent callers; its 401 challenge parsed; paths completed', async () => {
    const next = scripted([{ status: 401, headers: { 'www-authenticate': 'Bearer realm="https://auth.example/token",service="r.example"' } }]);
    const p = ping(next, options('r.example', 'https', false));
    const [a, b] = await Promise.all([p.run(), p.run()]);
    assert.equal(a, b);
    assert.deepEqual(next.sent.map((r) => [r.method, r.url, r.headers?.authorization]), [['GET', 'https://r.example/v2/', undefined]], 'one anonymous ping');
    assert.equal(a.status, 401);
    assert.deepEqual(a.challenges, [{ scheme: 'bearer', parameters: { realm: 'https://auth.example/token', service: 'r.example' } }]);
    assert.equal(p.origin(), 'https://r.example');
    assert.equal(p.url('/v2/x/manifests/1'), 'https://r.example/v2/x/manifests/1');
  });

  it('loopback: plain HTTP first, HTTPS when a TLS server cuts the plain request off; then settled', async () => {
    const next = scripted([coded('ECONNRESET'), 200]);
    const p = ping(next, options('127.0.0.1:5000', 'http', true));
    assert.equal(p.origin(), undefined);
    assert.equal((await p.run()).status, 200);
    assert.deepEqual(next.sent.map((r) => r.url), ['http://127.0.0.1:5000/v2/', 'https://127.0.0.1:5000/v2/']);
    assert.equal(p.origin(), 'https://127.0.0.1:5000');
  });

  it('loopback: a 400 that says HTTPS switches; listed insecure: HTTPS first, HTTP when the server speaks no TLS', async () => {
    const a = scripted([{ status: 400, body: 'Client sent an HTTP request to an HTTPS server.' }, 200]);
    const pa = ping(a, options('127.0.0.1:5000', 'http', true));
    await pa.run();
    assert.deepEqual(a.sent.map((r) => r.url), ['http://127.0.0.1:5000/v2/', 'https://127.0.0.1:5000/v2/']);
    assert.equal(pa.origin(), 'https://127.0.0.1:5000');
    const plain400 = scripted([{ status: 400, body: 'bad request' }]);
    const pp = ping(plain400, options('127.0.0.1:5000', 'http', true));
    assert.equal((await pp.run()).status, 400);
    assert.equal(pp.origin(), 'http://127.0.0.1:5000', 'a 400 that says nothing of TLS keeps plain HTTP');
    const b = scripted([coded('ERR_SSL_WRONG_VERSION_NUMBER'), 200]);
    const pb = ping(b, options('reg.local:5000', 'https', true));
    await pb.run();
    assert.deepEqual(b.sent.map((r) => r.url), ['https://reg.local:5000/v2/', 'http://reg.local:5000/v2/']);
    assert.equal(pb.origin(), 'http://reg.local:5000');
  });

  it('a certificate error never downgrades to plain HTTP: the ping fails, and the next caller asks again', async () => {
    const next = scripted([coded('DEPTH_ZERO_SELF_SIGNED_CERT'), 200]);
    const p = ping(next, options('reg.local', 'https', true));
    await assert.rejects(p.run(), (e: ActionError) => e.code === 'DEPTH_ZERO_SELF_SIGNED_CERT');
    assert.equal(p.origin(), undefined);
    assert.equal((await p.run()).status, 200);
    assert.deepEqual(next.sent.map((r) => r.url), ['https://reg.local/v2/', 'https://reg.local/v2/']);
  });

  it('is retried like any request (counted), and a reset on loopback that is no TLS server is retried over plain HTTP', async () => {
    const stats = { requests: 0, retries: 0 };
    const next = scripted([503, 200]);
    assert.equal((await ping(next, options('r.example', 'https', false), stats).run()).status, 200);
    assert.equal(stats.retries, 1);
    const reset = scripted([coded('ECONNRESET'), coded('ERR_SSL_WRONG_VERSION_NUMBER'), 200]);
    const p = ping(reset, options('127.0.0.1:5000', 'http', true), stats);
    assert.equal((await p.run()).status, 200);
    assert.deepEqual(reset.sent.map((r) => r.url), ['http://127.0.0.1:5000/v2/', 'https://127.0.0.1:5000/v2/', 'http://127.0.0.1:5000/v2/']);
    assert.equal(p.origin(), 'http://127.0.0.1:5000');
    assert.equal(stats.retries, 2);
  });
});

describe('user-agent layer', () => {
  it('names the action, its version from package.json, its home and Node, on every request', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'));
    assert.equal(VERSION, pkg.version);
    assert.equal(USER_AGENT, `multiarch-manifest-action/${pkg.version} (+${pkg.repository.url.replace(/^git\+/, '').replace(/\.git$/, '')}) node/${process.version}`);
    const next = scripted([200]);
    await new UserAgentTransport(next).send({ method: 'GET', url: 'http://r/v2/', headers: { accept: 'x' } });
    assert.deepEqual(next.sent[0]?.headers, { accept: 'x', 'user-agent': USER_AGENT });
  });
});
