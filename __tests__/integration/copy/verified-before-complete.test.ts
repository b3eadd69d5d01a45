/**
 * A copied blob is verified before its upload can complete (the attack review): the source, a real
 * registry behind a proxy that flips one byte of a layer's body (a hostile or broken source
 * registry), serves a layer whose bytes do not match its digest; the target is a real registry
 * behind a proxy that counts the upload bytes reaching it. The target's own digest check would
 * refuse the blob, but the action must not rely on it (a registry that stores first and checks
 * later, or a hash computed behind the stream): the last bytes of a monolithic upload are held
 * back until the whole blob has hashed to its digest, so the target never receives a complete
 * body of wrong bytes.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { runInProcess } from '../../helpers/in-process.ts';
import { type FaultProxy, startFaultProxy } from '../../helpers/fault-proxy.ts';
import { type Pushed, pushImage } from '../../helpers/images.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';

/** Upload requests (PATCH and PUT under /blobs/uploads/) that carried a body, with what reached the registry. */
function uploads(proxy: FaultProxy) {
  return proxy.log.filter((r) => (r.method === 'PUT' || r.method === 'PATCH') && r.url.includes('/blobs/uploads/') && r.length > 0);
}

describe('attack: a copied blob is verified before its upload completes', () => {
  let a: RunningRegistry;
  let b: RunningRegistry;
  let source: FaultProxy;
  let image: Pushed;
  const layer = randomBytes(3 * 1024 * 1024 + 12345);
  let layerDigest: string;
  before(async () => {
    a = await startRegistry();
    b = await startRegistry();
    image = await pushImage({ url: a.url }, 'src/app', 'amd64', { os: 'linux', architecture: 'amd64', layers: [layer] });
    layerDigest = (JSON.parse(image.bytes.toString('utf8')) as { layers: Array<{ digest: string }> }).layers[0]!.digest;
    // Only the layer's GET is corrupted (its second-last byte): the config reads as it is.
    source = await startFaultProxy(a.url, (r) => (r.method === 'GET' && r.url.endsWith(`/blobs/${layerDigest}`) ? { kind: 'corrupt' } : undefined));
  });
  after(async () => {
    await source?.stop();
    await a?.stop();
    await b?.stop();
  });

  it('a monolithic upload of a layer that does not match its digest never reaches the target whole', async () => {
    const target = await startFaultProxy(b.url);
    try {
      const run = await runInProcess({ sources: `${source.host}/src/app:amd64`, tags: `${target.host}/dst/app:1`, retries: '0' });
      assert.notEqual(run.code, 0, run.stdout);
      assert.match(run.stdout, /a blob being copied does not match its digest/, run.stdout);
      const layerPuts = uploads(target).filter((r) => r.method === 'PUT' && r.url.includes(`digest=${encodeURIComponent(layerDigest)}`));
      assert.ok(layerPuts.length > 0, 'the layer upload was started');
      for (const put of layerPuts) {
        assert.equal(put.length, layer.length, 'the PUT declares the layer size');
        assert.ok((put.received ?? 0) < put.length, `the target received ${put.received} of ${put.length} bytes of a body that does not match its digest: the upload was complete before the check`);
      }
    } finally {
      await target.stop();
    }
  });

  it('in chunks: no chunk ends the upload, and the completing PUT is never sent', async () => {
    // The target refuses a monolithic PUT (as registries that want chunks do).
    const target = await startFaultProxy(b.url, (r) =>
      r.method === 'PUT' && r.url.includes('/blobs/uploads/') && r.length > 0 ? { kind: 'status', status: 413, body: '{"errors":[{"code":"SIZE_INVALID","message":"use chunks"}]}' } : undefined,
    );
    try {
      const started = Date.now();
      const run = await runInProcess({ sources: `${source.host}/src/app:amd64`, tags: `${target.host}/chunks/app:1`, retries: '0' });
      // Not a performance bound: a source GET left unread when the check fails holds its connection,
      // and the run's end, until the GET's deadline (2 × 60 s and the size's worth): 122 s, seen.
      assert.ok(Date.now() - started < 60_000, `the run took ${Date.now() - started} ms: the failed copy's source GET was left open until its deadline`);
      assert.notEqual(run.code, 0, run.stdout);
      assert.match(run.stdout, /trying again in chunks/, run.stdout);
      assert.match(run.stdout, /a blob being copied does not match its digest/, run.stdout);
      const patched = uploads(target)
        .filter((r) => r.method === 'PATCH')
        .reduce((n, r) => n + (r.received ?? 0), 0);
      assert.ok(patched < layer.length, `${patched} of ${layer.length} bytes were PATCHed`);
      const completing = target.log.filter((r) => r.method === 'PUT' && r.url.includes('/blobs/uploads/') && r.length === 0 && r.url.includes(encodeURIComponent(layerDigest)));
      assert.deepEqual(completing, [], 'no upload of the layer was completed');
    } finally {
      await target.stop();
    }
  });
});
