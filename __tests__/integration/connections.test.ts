import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Agent } from 'undici';
import { MANIFEST_ACCEPT } from '../../src/oci/manifest.ts';
import { header } from '../../src/registry/http.ts';
import { DEFAULT_TRANSPORT_OPTIONS, HostTransport } from '../../src/registry/transport.ts';
import { runAction } from '../helpers/action.ts';
import { type CertSet, makeServerCerts } from '../helpers/certs.ts';
import { pushImage } from '../helpers/images.ts';
import { type LatencyProxy, startLatencyProxy } from '../helpers/latency-proxy.ts';
import { type LocalName, localName } from '../helpers/local-name.ts';
import { type RunningRegistry, startRegistry } from '../helpers/registry.ts';

/** Waits until `count()` reaches `n` (at most `ms`), then a little longer for stragglers. */
async function settled(count: () => number, n: number, ms = 2000): Promise<number> {
  const until = Date.now() + ms;
  while (count() < n && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 50));
  return count();
}

describe('connections the registry closes are replaced ahead of need', () => {
  let reg: RunningRegistry;
  // A TCP proxy in front of the real registry only to count the connections it accepts.
  let proxy: LatencyProxy;
  before(async () => {
    reg = await startRegistry();
    await pushImage({ url: reg.url }, 'conn/app', 'v1', { os: 'linux', architecture: 'amd64' });
    proxy = await startLatencyProxy(reg.port, 0);
  });
  after(async () => {
    await proxy.stop();
    await reg.stop();
  });

  it('opens a replacement when a HEAD answer closes the connection, and the next request uses it', async () => {
    const endpoint = new HostTransport(proxy.host, { ...DEFAULT_TRANSPORT_OPTIONS, concurrency: 1 }, { requests: 0, retries: 0 });
    try {
      const before = proxy.connections();
      const first = await endpoint.send({ method: 'GET', url: '/v2/' });
      await first.body.dump();
      assert.equal(await settled(proxy.connections, before + 1), before + 1);

      // distribution answers every HEAD with Connection: close.
      const head = await endpoint.send({ method: 'HEAD', url: '/v2/conn/app/manifests/v1', headers: { accept: MANIFEST_ACCEPT } });
      await head.body.dump();
      assert.equal(head.status, 200);
      assert.match(header(head, 'connection') ?? '', /close/i);
      // The replacement is connected before anything asks for it.
      assert.equal(await settled(proxy.connections, before + 2), before + 2);

      // Only one connection slot (concurrency 1): the next request must go on the replacement.
      const next = await endpoint.send({ method: 'GET', url: '/v2/conn/app/manifests/v1', headers: { accept: MANIFEST_ACCEPT } });
      await next.body.dump();
      assert.equal(next.status, 200);
      assert.equal(await settled(proxy.connections, before + 3, 200), before + 2, 'no connection was opened for the request itself');
    } finally {
      await endpoint.close();
    }
  });

  it('opens nothing while the registry keeps its connections', async () => {
    const endpoint = new HostTransport(proxy.host, { ...DEFAULT_TRANSPORT_OPTIONS, concurrency: 1 }, { requests: 0, retries: 0 });
    try {
      const before = proxy.connections();
      for (let i = 0; i < 3; i++) {
        const res = await endpoint.send({ method: 'GET', url: '/v2/conn/app/manifests/v1', headers: { accept: MANIFEST_ACCEPT } });
        await res.body.dump();
        assert.equal(res.status, 200);
        assert.equal(header(res, 'connection'), undefined);
      }
      assert.equal(await settled(proxy.connections, before + 2, 200), before + 1);
    } finally {
      await endpoint.close();
    }
  });
});

describe('a publish to a TLS registry reuses its connections', { skip: !(await localName()) && 'this machine has no host name that resolves to loopback' }, () => {
  const n = 16;
  let reg: RunningRegistry;
  let certs: CertSet;
  let proxy: LatencyProxy;
  let host: string;
  let dispatcher: Agent;
  before(async () => {
    // The machine's own name, not 127.0.0.1: the action reaches it as it reaches a remote registry
    // (HTTPS only; loopback addresses are tried over plain HTTP first).
    const local = (await localName()) as LocalName;
    certs = makeServerCerts([local.name]);
    reg = await startRegistry({ tls: { certificate: certs.cert, key: certs.key } });
    dispatcher = new Agent({ connect: { ca: readFileSync(certs.caCert) } });
    for (let i = 0; i < n; i++) await pushImage({ url: reg.url, dispatcher }, 'tls/app', `a${i}`, { os: 'linux', architecture: `arch${i}` });
    // Only to count the connections the registry accepts (and a small round trip, so that requests overlap as they do on a network).
    proxy = await startLatencyProxy(reg.port, 4, { upstreamTls: true, listenHost: local.address });
    host = `${local.name}:${proxy.port}`;
  });
  after(async () => {
    await proxy?.stop();
    await dispatcher?.close();
    await reg?.stop();
  });

  const publish = async (tag: string, env: Record<string, string> = {}) => {
    const before = proxy.connections();
    const sources = Array.from({ length: n }, (_, i) => `${host}/tls/app:a${i}`).join('\n');
    const run = await runAction({ sources, tags: `${host}/tls/app:${tag}` }, { NODE_EXTRA_CA_CERTS: certs.caCert, ...env });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const requests = Number(/(\d+) requests, 0 retries/.exec(run.stdout)?.[1]);
    assert.ok(requests > 2 * n && requests <= 2 * n + 4, run.stdout);
    await new Promise((r) => setTimeout(r, 50));
    return proxy.connections() - before;
  };

  it(`HTTP/2 (the registry offers it): the ${n} sources' requests over at most 2 connections`, async () => {
    // distribution answers a HEAD with Connection: close, which Go's HTTP/2 server turns into a
    // GOAWAY: the requests after it may need a second connection.
    const connections = await publish('h2');
    assert.ok(connections >= 1 && connections <= 2, `${connections} connections`);
  });

  it(`HTTP/1.1 only (MULTIARCH_HTTP1_ONLY): no more connections than the first burst of ${n + 1} requests needs, plus one replacement`, async () => {
    // The first burst (N manifests and the tag's HEAD) needs a connection each; everything after
    // reuses them. Without keep-alive reuse this would be about one per request (over ${2 * n}).
    const connections = await publish('h1', { MULTIARCH_HTTP1_ONLY: '1' });
    assert.ok(connections <= n + 2, `${connections} connections`);
  });
});
