/**
 * Round trips a copy does not wait for (issue 26): whether the target holds an image is asked
 * while its config is read; the blob HEADs in the target are asked during the plan, beside the
 * referrer lookups; each blob's upload session is opened while its GET from the source is on its
 * way; a blob as small as an image config does not wait for a copy slot behind the large layers. Real registries; proxies in front of them hold one kind of request
 * until the other has arrived (or give up after a few seconds): without the overlap it never
 * arrives in time, and the test says which request waited for which.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { runInProcess } from '../../helpers/in-process.ts';
import { type FaultProxy, type ProxiedRequest, startFaultProxy } from '../../helpers/fault-proxy.ts';
import { type Pushed, pushImage } from '../../helpers/images.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';

/** Holds a request until `seen()` holds (true), or gives up after `ms` (false). */
async function holdUntil(seen: () => boolean, ms = 4000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(10)) if (seen()) return true;
  return false;
}

const blobGet = (r: ProxiedRequest, digest?: string) => r.method === 'GET' && /\/blobs\/sha256:/.test(r.url) && (!digest || r.url.endsWith(digest));
const blobHead = (r: ProxiedRequest) => r.method === 'HEAD' && /\/blobs\/sha256:/.test(r.url);
const uploadStart = (r: ProxiedRequest) => r.method === 'POST' && /\/blobs\/uploads\/$/.test(r.url);
const uploadOf = (r: ProxiedRequest, digest: string) => r.method === 'PUT' && /\/blobs\/uploads\//.test(r.url) && r.url.includes(`digest=${encodeURIComponent(digest)}`);

describe('copy: round trips that overlap (proxies hold one request until the other arrives)', () => {
  let a: RunningRegistry;
  let b: RunningRegistry;
  let image: Pushed;
  let wide: Pushed;
  before(async () => {
    a = await startRegistry();
    b = await startRegistry();
    image = await pushImage({ url: a.url }, 'build/app', 'amd64', { os: 'linux', architecture: 'amd64', layers: [randomBytes(300_000), randomBytes(300_000)] });
    // Eight layers larger than a stream buffer: they take every copy slot.
    wide = await pushImage({ url: a.url }, 'build/wide', 'amd64', { os: 'linux', architecture: 'amd64', layers: Array.from({ length: 8 }, () => randomBytes(300_000)) });
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
  });

  const proxies = async (source: (p: { log: FaultProxy['log'] }) => Parameters<FaultProxy['setRule']>[0], target: (p: { log: FaultProxy['log'] }) => Parameters<FaultProxy['setRule']>[0]) => {
    const src = await startFaultProxy(a.url);
    const dst = await startFaultProxy(b.url);
    src.setRule(source(dst));
    dst.setRule(target(src));
    return { src, dst, stop: () => Promise.all([src.stop(), dst.stop()]) };
  };

  it("whether the target holds an image is asked while the image's config is read", async () => {
    const held: boolean[] = [];
    const { src, dst, stop } = await proxies(
      // The config GET (the only blob read before the plan) waits for the image's HEAD in the target.
      (target) => (r) => (blobGet(r) ? { kind: 'hook', run: async () => void held.push(await holdUntil(() => target.log.some((x) => x.method === 'HEAD' && x.url.endsWith(`/manifests/${image.digest}`)))) } : undefined),
      // The tag's state answers late: the dry run lasts past its plan, long enough for a blob HEAD to show.
      () => (r) => (r.method === 'HEAD' && r.url.endsWith('/manifests/1') ? { kind: 'delay', ms: 300 } : undefined),
    );
    try {
      const run = await runInProcess({ sources: `${src.host}/build/app:amd64`, tags: `${dst.host}/overlap/presence:1`, push: 'false' });
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.deepEqual(held, [true], `the config GET was answered only once the image's HEAD reached the target (${held.join(', ')})`);
      assert.equal(dst.log.filter((x) => x.method === 'HEAD' && x.url.endsWith(`/manifests/${image.digest}`)).length, 1, 'asked once');
      assert.deepEqual(dst.log.filter(blobHead), [], 'a dry run asks the target for no blob');
    } finally {
      await stop();
    }
  });

  it('the blob HEADs in the target go out while the source is asked for referrers (not after)', async () => {
    const held: boolean[] = [];
    const { src, dst, stop } = await proxies(
      (target) => (r) => (r.method === 'GET' && /\/referrers\//.test(r.url) ? { kind: 'hook', run: async () => void held.push(await holdUntil(() => target.log.some(blobHead))) } : undefined),
      () => () => undefined,
    );
    try {
      const run = await runInProcess({ sources: `${src.host}/build/app:amd64`, tags: `${dst.host}/overlap/heads:1` });
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.deepEqual(held, [true], `the referrers GET was answered only once a blob HEAD reached the target (${held.join(', ')})`);
      assert.equal(dst.log.filter(blobHead).length, 3, 'a HEAD per blob (config and two layers)');
    } finally {
      await stop();
    }
  });

  it("each blob's upload session is opened while its GET from the source is on its way", async () => {
    const held: boolean[] = [];
    const { src, dst, stop } = await proxies(
      () => () => undefined,
      (source) => (r) =>
        // Answered once the source has had as many blob GETs as the target has had sessions asked for.
        uploadStart(r) ? { kind: 'hook', run: async () => void held.push(await holdUntil(() => source.log.filter((x) => blobGet(x)).length >= dst.log.filter(uploadStart).length)) } : undefined,
    );
    try {
      const run = await runInProcess({ sources: `${src.host}/build/app:amd64`, tags: `${dst.host}/overlap/sessions:1` });
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.equal(held.length, 3, 'an upload session per blob');
      assert.ok(held.every(Boolean), `every session was answered once its GET had reached the source (${held.join(', ')})`);
    } finally {
      await stop();
    }
  });

  it('an upload session refused: the GET opened beside it is dropped, and the run ends at once', async () => {
    const { src, dst, stop } = await proxies(
      () => () => undefined,
      () => (r) => (uploadStart(r) ? { kind: 'status', status: 403, body: JSON.stringify({ errors: [{ code: 'DENIED', message: 'injected: no pushes here' }] }) } : undefined),
    );
    try {
      const started = Date.now();
      const run = await runInProcess({ sources: `${src.host}/build/app:amd64`, tags: `${dst.host}/overlap/refused:1`, timeout: '5' });
      assert.equal(run.code, 1, run.stdout + run.stderr);
      assert.match(run.stdout + run.stderr, /DENIED/);
      assert.ok(src.log.some((x) => blobGet(x)), 'a blob GET went out beside the session');
      assert.ok(Date.now() - started < 4000, `the run ended in ${Date.now() - started} ms, not held by a GET nobody reads`);
    } finally {
      await stop();
    }
  });

  it('an image config is copied while the large layers hold every copy slot', async () => {
    const config = (JSON.parse(wide.bytes.toString()) as { config: { digest: string } }).config.digest;
    const held: boolean[] = [];
    const { src, dst, stop } = await proxies(
      // The layers' GETs (not the config's) wait until the config's upload has reached the target.
      (target) => (r) => (blobGet(r) && !blobGet(r, config) ? { kind: 'hook', run: async () => void held.push(await holdUntil(() => target.log.some((x) => uploadOf(x, config)))) } : undefined),
      // The config's HEAD answers late: by then the layers hold every slot.
      () => (r) => (r.method === 'HEAD' && r.url.endsWith(config) ? { kind: 'delay', ms: 500 } : undefined),
    );
    try {
      // 16 requests at once: the eight held GETs leave room for the config's requests; copy slots are 8.
      const run = await runInProcess({ sources: `${src.host}/build/wide:amd64`, tags: `${dst.host}/overlap/config:1`, concurrency: '16' });
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.equal(held.length, 8, 'a GET per layer');
      assert.ok(held.every(Boolean), `every layer's GET was answered once the config's upload had arrived (${held.join(', ')})`);
    } finally {
      await stop();
    }
  });
});
