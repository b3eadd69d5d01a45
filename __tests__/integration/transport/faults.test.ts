import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runAction } from '../../helpers/action.ts';
import { runInProcess } from '../../helpers/in-process.ts';
import { type FaultProxy, type Rule, startFaultProxy } from '../../helpers/fault-proxy.ts';
import { type Pushed, getManifestBytes, pushImage, sha256 } from '../../helpers/images.ts';
import { BLOB_PATH, startCountingListener, startRewritingProxy } from '../../helpers/hostile-servers.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';
import { errorLines } from '../../helpers/runner-text.ts';

const THREE = [
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64', variant: 'v8' },
  { os: 'linux', architecture: 'ppc64le' },
];

describe('faults injected by a proxy in front of a real registry', () => {
  let reg: RunningRegistry;
  let proxy: FaultProxy;
  const pushed: Pushed[] = [];
  let tagCounter = 0;
  before(async () => {
    reg = await startRegistry();
    for (const p of THREE) pushed.push(await pushImage({ url: reg.url }, 'app', p.architecture, p));
    proxy = await startFaultProxy(reg.url);
  });
  after(async () => {
    await proxy?.stop();
    await reg?.stop();
  });

  /** Runs a three-arch publish through the proxy under `rule`, to a fresh tag. */
  async function publishThrough(rule: Rule, extra: Record<string, string> = {}) {
    const tag = `t${++tagCounter}`;
    proxy.setRule(rule);
    const from = proxy.log.length;
    const run = await runInProcess({
      sources: THREE.map((p) => `${proxy.host}/app:${p.architecture}`).join('\n'),
      tags: `${proxy.host}/app:${tag}`,
      ...extra,
    });
    proxy.setRule(() => undefined);
    const seen = proxy.log.slice(from);
    return { run, tag, seen, writes: seen.filter((r) => r.method !== 'GET' && r.method !== 'HEAD') };
  }

  async function assertPublished(run: { outputs: Record<string, string> }, tag: string) {
    const got = await getManifestBytes({ url: reg.url }, 'app', tag);
    assert.equal(got.status, 200);
    assert.equal(sha256(got.bytes), run.outputs.digest);
    assert.deepEqual(JSON.parse(got.bytes.toString()).manifests.map((m: any) => m.digest), pushed.map((p) => p.digest));
  }

  it('every third request 503 and the first index PUT 429 with Retry-After: 1: succeeds, and waits', async () => {
    let indexPuts = 0;
    const started = Date.now();
    const { run, tag, seen } = await publishThrough((r) => {
      if (r.method === 'PUT' && /\/manifests\/t\d+$/.test(r.url) && indexPuts++ === 0) {
        return { kind: 'status', status: 429, headers: { 'retry-after': '1' } };
      }
      return r.n % 3 === 0 ? { kind: 'status', status: 503 } : undefined;
    });
    const elapsed = Date.now() - started;
    assert.equal(run.code, 0, run.stdout + run.stderr);
    await assertPublished(run, tag);
    assert.ok(elapsed >= 1000, `took ${elapsed} ms, less than the Retry-After second`);
    assert.ok(seen.some((r) => r.status === 503));
    assert.match(run.stdout, /429 from 127\.0\.0\.1:\d+, waiting 1 s as it asked: retry 1\/5 of PUT /);
    assert.match(run.stdout, /503 from 127\.0\.0\.1:\d+, waiting [\d.]+ s \(backoff\)/);
  });

  it('connection resets, truncated bodies and a stalled response are retried', async () => {
    let resets = 0;
    let truncated = 0;
    let stalled = 0;
    const { run, tag } = await publishThrough(
      (r) => {
        if (r.method === 'GET' && r.url.includes('/manifests/amd64') && resets++ < 2) return { kind: 'reset' };
        if (r.method === 'GET' && r.url.includes('/manifests/arm64') && truncated++ < 1) return { kind: 'truncate' };
        if (r.method === 'GET' && r.url.includes('/blobs/') && stalled++ < 1) return { kind: 'delay', ms: 2500 };
        return undefined;
      },
      { timeout: '1' },
    );
    assert.equal(run.code, 0, run.stdout + run.stderr);
    await assertPublished(run, tag);
    assert.match(run.stdout, /ECONNRESET|UND_ERR_SOCKET/);
    assert.match(run.stdout, /body broke off|UND_ERR_SOCKET/);
    assert.match(run.stdout, /UND_ERR_HEADERS_TIMEOUT/);
  });

  const permanent: Array<[string, Rule, RegExp]> = [
    ['a manifest whose body does not match Docker-Content-Digest', (r) => (r.method === 'GET' && r.url.includes('/manifests/arm64') ? { kind: 'corrupt' } : undefined), /DIGEST_INVALID|does not match/],
    ['a config blob that does not match its digest', (r) => (r.method === 'GET' && r.url.includes('/blobs/') ? { kind: 'corrupt' } : undefined), /does not match its digest/],
    [
      'a Content-Type contradicting the body mediaType',
      (r) => (r.method === 'GET' && r.url.includes('/manifests/amd64') ? { kind: 'header', name: 'content-type', value: 'application/vnd.oci.image.index.v1+json' } : undefined),
      /contradicts the body's mediaType/,
    ],
    ['a manifest body over 4 MiB', (r) => (r.method === 'GET' && r.url.includes('/manifests/amd64') ? { kind: 'oversize', bytes: 5 * 1024 * 1024 } : undefined), /over the limit of 4194304/],
    ['a registry that keeps failing', (r) => (r.method === 'GET' ? { kind: 'status', status: 500 } : undefined), /500 from 127\.0\.0\.1/],
  ];
  for (const [name, rule, message] of permanent) {
    it(`fails without writing on ${name}`, async () => {
      const { run, tag, writes } = await publishThrough(rule, { retries: '2' });
      assert.notEqual(run.code, 0, run.stdout);
      assert.match(run.stdout, message);
      assert.deepEqual(writes, []);
      assert.equal((await getManifestBytes({ url: reg.url }, 'app', tag)).status, 404);
    });
  }

  it('a missing source is not retried', async () => {
    proxy.setRule(() => undefined);
    const from = proxy.log.length;
    const run = await runInProcess({ sources: `${proxy.host}/app:does-not-exist`, tags: `${proxy.host}/app:never` });
    assert.notEqual(run.code, 0);
    const gets = proxy.log.slice(from).filter((r) => r.method === 'GET' && r.url.includes('does-not-exist'));
    assert.equal(gets.length, 1, 'one GET: a 404 is permanent');
  });
});

describe('bad input fails before any request', () => {
  let proxy: FaultProxy;
  before(async () => {
    proxy = await startFaultProxy('http://127.0.0.1:9');
  });
  after(async () => proxy?.stop());
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['malformed reference', { sources: 'PROXY/app:amd64 ,PROXY/App:x', tags: 'PROXY/app:1' }, /Invalid source reference 'PROXY\/App:x'/],
    ['unknown platform string', { sources: 'PROXY/app:amd64 platform=linux/amd65', tags: 'PROXY/app:1' }, /Invalid platform 'linux\/amd65'/],
    ['empty list', { sources: '', tags: 'PROXY/app:1' }, /Invalid sources ''/],
    ['invalid digest', { sources: `PROXY/app@sha256:${'z'.repeat(64)}`, tags: 'PROXY/app:1' }, /Invalid source reference 'PROXY\/app@sha256:z+'/],
    ['unknown option key', { sources: 'PROXY/app:amd64 arch=arm64', tags: 'PROXY/app:1' }, /Invalid source option 'arch=arm64'/],
    ['malformed tag', { sources: 'PROXY/app:amd64', tags: 'PROXY/app:-bad' }, /Invalid tag 'PROXY\/app:-bad'/],
  ];
  for (const [name, inputs, message] of cases) {
    it(`${name}: names the value, no request made`, async () => {
      const from = proxy.log.length;
      const resolved = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, v.replaceAll('PROXY', proxy.host)]));
      const run = await runInProcess(resolved);
      assert.notEqual(run.code, 0);
      assert.match(run.stdout.replaceAll(proxy.host, 'PROXY'), message);
      assert.match(run.stdout, /::error title=Invalid input::/);
      assert.equal(proxy.log.length, from, 'no request reached the registry');
    });
  }
});

describe('start-up connections', () => {
  it('open only to hosts named in references that parse', async () => {
    const listener = await startCountingListener();
    try {
      const host = `127.0.0.1:${listener.port}`;
      // Each run names the listener only in an invalid reference; the valid ones name a port
      // where nothing listens.
      const closed = '127.0.0.1:9';
      const runs = [
        { sources: `${host}/App:amd64`, tags: `${closed}/app:1` },
        { sources: `${closed}/app:amd64 , ${host}/app@sha256:${'z'.repeat(64)}`, tags: `${closed}/app:1` },
        { sources: `${closed}/app:amd64`, tags: `${host}/app:-bad` },
        { sources: `${host}:x/app:amd64`, tags: `${closed}/app:1` },
      ];
      for (const inputs of runs) {
        const run = await runAction(inputs, { MULTIARCH_NO_PRECONNECT: undefined });
        assert.notEqual(run.code, 0, 'invalid input');
        assert.match(errorLines(run).join('\n'), /Invalid input/);
      }
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(listener.accepted(), 0, 'no connection to a host named only by an invalid reference');
    } finally {
      await listener.stop();
    }
  });
});

describe('deadlines', () => {
  let registry: RunningRegistry;
  let target: RunningRegistry;
  let proxy: Awaited<ReturnType<typeof startRewritingProxy>>;
  const LAYER = 3 * 1024 * 1024;
  before(async () => {
    registry = await startRegistry();
    target = await startRegistry();
    await pushImage({ url: registry.url }, 'app', 'amd64', { os: 'linux', architecture: 'amd64' });
    const { randomBytes } = await import('node:crypto');
    await pushImage({ url: registry.url }, 'app', 'big', { os: 'linux', architecture: 'arm64', layers: [randomBytes(LAYER)] });
    proxy = await startRewritingProxy(registry.url);
  });
  after(async () => {
    await proxy?.stop();
    await registry?.stop();
    await target?.stop();
  });

  it('a response trickling a byte every 0.4 s ends with a timeout error', async () => {
    // Each byte comes within the 1 s timeout; the request's deadline (twice the timeout) ends it.
    proxy.setRule((r) => (r.status === 200 && r.method === 'GET' && r.url === '/v2/app/manifests/amd64' ? { trickle: { intervalMs: 400, giveUpMs: 20_000 } } : undefined));
    const run = await runInProcess({ sources: `${proxy.host}/app:amd64`, tags: `${proxy.host}/app:trickle`, timeout: '1', retries: '0' });
    // The proxy sees the connection close a moment after the action has given up.
    const closed = () => proxy.log.filter((r) => r.url === '/v2/app/manifests/amd64' && r.clientClosedEarly !== undefined);
    for (const until = Date.now() + 2000; closed().length === 0 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 10));
    const trickled = closed();
    assert.ok(trickled.length > 0, 'the manifest was trickled');
    assert.equal(trickled.at(-1)?.clientClosedEarly, true, 'the action gave up before the trickling server did');
    assert.notEqual(run.code, 0);
    assert.match(errorLines(run).join('\n'), /deadline|timed out|timeout/i);
  });

  it('a large blob slower than the timeout but steady still copies (the deadline scales with its size)', async () => {
    // 3 MiB at 1 MiB/s: three seconds, past twice the 1-second timeout. Guards the deadline.
    proxy.setRule((r) => (r.status === 200 && r.method === 'GET' && BLOB_PATH.test(r.url) ? { bytesPerSecond: 1024 * 1024 } : undefined));
    const run = await runInProcess({ sources: `${proxy.host}/app:big`, tags: `${target.host}/app:big`, timeout: '1' });
    assert.equal(run.code, 0, run.stdout);
    assert.match(run.stdout, /[1-9]\d* copied \(3\.\d MiB\)/);
    assert.equal((await getManifestBytes({ url: target.url }, 'app', 'big')).status, 200);
  });
});
