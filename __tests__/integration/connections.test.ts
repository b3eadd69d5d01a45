import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MANIFEST_ACCEPT } from '../../src/oci/manifest.ts';
import { header } from '../../src/registry/http.ts';
import { DEFAULT_TRANSPORT_OPTIONS, HostTransport } from '../../src/registry/transport.ts';
import { pushImage } from '../helpers/images.ts';
import { type LatencyProxy, startLatencyProxy } from '../helpers/latency-proxy.ts';
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
