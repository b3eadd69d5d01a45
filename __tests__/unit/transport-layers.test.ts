/**
 * Each transport layer alone, over a scripted next layer: the point here is the layer's own logic
 * (which request it passes on, when it sends again). How the stack behaves with a real registry is
 * in __tests__/integration/.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { ActionError } from '../../src/errors.ts';
import type { HttpRequest, Layer, Response } from '../../src/registry/http.ts';
import { RetryTransport, backoffMs, isReplayable } from '../../src/registry/retry.ts';
import { SchemeTransport } from '../../src/registry/scheme.ts';
import { USER_AGENT, UserAgentTransport } from '../../src/registry/user-agent.ts';
import { VERSION } from '../../src/version.ts';
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

describe('scheme layer', () => {
  const label = 'test';
  it('completes paths with the fixed scheme and passes absolute URLs through', async () => {
    const next = scripted([200, 200]);
    const t = new SchemeTransport(next, 'r.example', { preferred: 'https', negotiate: false, label });
    await t.send({ method: 'GET', url: '/v2/' });
    await t.send({ method: 'GET', url: 'http://elsewhere.example/upload?x=1' });
    assert.deepEqual(next.sent.map((r) => r.url), ['https://r.example/v2/', 'http://elsewhere.example/upload?x=1']);
    assert.equal(t.origin(), 'https://r.example');
  });

  it('loopback: plain HTTP first, HTTPS when a TLS server cuts the plain request off; then settled', async () => {
    const next = scripted([coded('ECONNRESET'), 200, 200]);
    const t = new SchemeTransport(next, '127.0.0.1:5000', { preferred: 'http', negotiate: true, label });
    assert.equal(t.origin(), undefined);
    await t.send({ method: 'GET', url: '/v2/' });
    await t.send({ method: 'GET', url: '/v2/x' });
    assert.deepEqual(next.sent.map((r) => r.url), ['http://127.0.0.1:5000/v2/', 'https://127.0.0.1:5000/v2/', 'https://127.0.0.1:5000/v2/x']);
    assert.deepEqual(next.sent.slice(0, 2).map((r) => r.retry), [false, false], 'the probes are single attempts');
    assert.equal(t.origin(), 'https://127.0.0.1:5000');
  });

  it('loopback: a 400 that says HTTPS switches; listed insecure: HTTPS first, HTTP when the server speaks no TLS', async () => {
    const a = scripted([{ status: 400, body: 'Client sent an HTTP request to an HTTPS server.' }, 200]);
    await new SchemeTransport(a, '127.0.0.1:5000', { preferred: 'http', negotiate: true, label }).send({ method: 'GET', url: '/v2/' });
    assert.deepEqual(a.sent.map((r) => r.url), ['http://127.0.0.1:5000/v2/', 'https://127.0.0.1:5000/v2/']);
    const b = scripted([coded('ERR_SSL_WRONG_VERSION_NUMBER'), 200]);
    const t = new SchemeTransport(b, 'reg.local:5000', { preferred: 'https', negotiate: true, label });
    await t.send({ method: 'GET', url: '/v2/' });
    assert.deepEqual(b.sent.map((r) => r.url), ['https://reg.local:5000/v2/', 'http://reg.local:5000/v2/']);
    assert.equal(t.origin(), 'http://reg.local:5000');
  });

  it('a certificate error never downgrades to plain HTTP', async () => {
    const next = scripted([coded('DEPTH_ZERO_SELF_SIGNED_CERT'), 200]);
    const t = new SchemeTransport(next, 'reg.local', { preferred: 'https', negotiate: true, label });
    await t.send({ method: 'GET', url: '/v2/' });
    assert.deepEqual(next.sent.map((r) => r.url), ['https://reg.local/v2/', 'https://reg.local/v2/']);
  });
});

describe('user-agent layer', () => {
  it('names the action, its version from package.json, its home and Node, on every request', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    assert.equal(VERSION, pkg.version);
    assert.equal(USER_AGENT, `multiarch-manifest-action/${pkg.version} (+${pkg.repository.url.replace(/^git\+/, '').replace(/\.git$/, '')}) node/${process.version}`);
    const next = scripted([200]);
    await new UserAgentTransport(next).send({ method: 'GET', url: 'http://r/v2/', headers: { accept: 'x' } });
    assert.deepEqual(next.sent[0]?.headers, { accept: 'x', 'user-agent': USER_AGENT });
  });
});
