import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { runInProcess } from '../../helpers/in-process.ts';
import { skopeo } from '../../helpers/clients.ts';
import { startFaultProxy } from '../../helpers/fault-proxy.ts';
import { type Pushed, getManifestBytes, pushImage, sha256 } from '../../helpers/images.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';

const USER = 'publisher';
const PASSWORD = 'b-registry-password';
const basic = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;

describe('cross-registry publishing (streamed copy)', () => {
  let a: RunningRegistry;
  let b: RunningRegistry;
  const pushed: Pushed[] = [];
  const shared = randomBytes(300_000);
  before(async () => {
    a = await startRegistry();
    b = await startRegistry({ htpasswd: { username: USER, password: PASSWORD } });
    // Two images sharing one layer, plus a layer of their own each.
    pushed.push(await pushImage({ url: a.url }, 'build/app', 'amd64', { os: 'linux', architecture: 'amd64', layers: [shared, randomBytes(200_000)] }));
    pushed.push(await pushImage({ url: a.url }, 'build/app', 'arm64', { os: 'linux', architecture: 'arm64', variant: 'v8', layers: [shared, randomBytes(200_000)] }));
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
  });

  it('publishes sources on A to B (basic auth) and to A in one run, identical bytes everywhere', async () => {
    const run = await runInProcess({
      sources: `${a.host}/build/app:amd64\n${a.host}/build/app:arm64`,
      tags: `${b.host}/release/app:1.0\n${a.host}/release/app:1.0`,
      registry: b.host,
      username: USER,
      password: PASSWORD,
    });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const onB = await getManifestBytes({ url: b.url, authorization: basic }, 'release/app', '1.0');
    const onA = await getManifestBytes({ url: a.url }, 'release/app', '1.0');
    assert.equal(onB.status, 200);
    assert.ok(onB.bytes.equals(onA.bytes), 'both registries hold the identical index bytes');
    assert.equal(sha256(onB.bytes), run.outputs.digest);
    assert.deepEqual(run.outputs.images?.split('\n'), [`${b.host}/release/app@${run.outputs.digest}`, `${a.host}/release/app@${run.outputs.digest}`]);
    // B got 5 distinct blobs (2 configs, the shared layer once, 2 own layers); A mounted them.
    assert.match(run.stdout, / 5 copied \(/);
    assert.match(run.stdout, /5 blobs mounted/);
    assert.match(run.stdout, new RegExp(`${b.host}/release/app: 0 present, 0 to mount, 2 to copy`));
    assert.ok(run.summary.includes(`${b.host}/release/app:1.0`) && run.summary.includes(`${a.host}/release/app:1.0`));

    // A real client reads everything back from B.
    await skopeo([
      'copy', '--all', '--preserve-digests', '--src-tls-verify=false', '--dest-tls-verify=false',
      '--src-creds', `${USER}:${PASSWORD}`, '--dest-creds', `${USER}:${PASSWORD}`,
      `docker://${b.host}/release/app:1.0`, `docker://${b.host}/mirror/app:1.0`,
    ]);
    assert.equal(sha256((await getManifestBytes({ url: b.url, authorization: basic }, 'mirror/app', '1.0')).bytes), run.outputs.digest);
  });

  it('falls back to a chunked upload when the registry refuses a monolithic one', async () => {
    // The target refuses every PUT that carries a whole blob (as registries that want chunks do).
    const proxyB = await startFaultProxy(b.url, (r) =>
      r.method === 'PUT' && r.url.includes('/blobs/uploads/') && r.length > 0 ? { kind: 'status', status: 413, body: '{"errors":[{"code":"SIZE_INVALID","message":"use chunks"}]}' } : undefined,
    );
    try {
      const run = await runInProcess({
        sources: `${a.host}/build/app:amd64\n${a.host}/build/app:arm64`,
        tags: `${proxyB.host}/chunked/app:1`,
        registry: proxyB.host,
        username: USER,
        password: PASSWORD,
      });
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.match(run.stdout, /trying again in chunks/);
      const patches = proxyB.log.filter((r) => r.method === 'PATCH');
      assert.ok(patches.length >= 5, `chunks were PATCHed (${patches.length})`);
      const got = await getManifestBytes({ url: b.url, authorization: basic }, 'chunked/app', '1');
      assert.equal(sha256(got.bytes), run.outputs.digest);
      await skopeo(['inspect', '--tls-verify=false', '--creds', `${USER}:${PASSWORD}`, '--raw', `docker://${b.host}/chunked/app:1`]);
    } finally {
      await proxyB.stop();
    }
  });

  it('a target asking chunks larger than a chunk may hold (OCI-Chunk-Min-Length) fails the copy: the blob is not buffered whole', async () => {
    // A hostile target (no real registry asks this: the spec's minimum exists for storage backends
    // such as S3, whose multipart minimum is 5 MiB) refuses a monolithic upload and asks chunks of
    // at least 1 TiB: the chunked fallback held the whole blob in memory to send it as one PATCH.
    const big = await pushImage({ url: a.url }, 'build/big', 'amd64', { os: 'linux', architecture: 'amd64', layers: [randomBytes(20 * 1024 * 1024)] });
    const proxyB = await startFaultProxy(b.url, (r) => {
      if (r.method === 'PUT' && r.url.includes('/blobs/uploads/') && r.length > 0) return { kind: 'status', status: 413, body: '{"errors":[{"code":"SIZE_INVALID","message":"use chunks"}]}' };
      if (r.method === 'POST' && r.url.includes('/blobs/uploads/')) return { kind: 'header', name: 'OCI-Chunk-Min-Length', value: String(2 ** 40) };
      return undefined;
    });
    try {
      const run = await runInProcess({ sources: `${a.host}/build/big@${big.digest}`, tags: `${proxyB.host}/huge-chunks/app:1`, registry: proxyB.host, username: USER, password: PASSWORD });
      assert.notEqual(run.code, 0, run.stdout);
      assert.match(run.stdout, /OCI-Chunk-Min-Length/, run.stdout);
      const largest = Math.max(0, ...proxyB.log.filter((r) => r.method === 'PATCH').map((r) => r.length));
      assert.ok(largest <= 16 * 1024 * 1024, `a chunk of ${largest} bytes was held and sent`);
      assert.equal((await getManifestBytes({ url: b.url, authorization: basic }, 'huge-chunks/app', '1')).status, 404);
    } finally {
      await proxyB.stop();
    }
  });

  it('a blob that does not match its digest on the way aborts the copy and tags nothing', async () => {
    const proxy = await startFaultProxy(a.url, (r) => (r.method === 'GET' && r.url.includes('/blobs/') && !r.url.includes('uploads') ? { kind: 'corrupt' } : undefined));
    try {
      // Sources by digest, so that the configs are read... through the proxy, corrupted: use a
      // platform override to skip the config read and reach the copy.
      const run = await runInProcess({
        sources: `${proxy.host}/build/app@${pushed[0]?.digest} platform=linux/amd64\n${proxy.host}/build/app@${pushed[1]?.digest} platform=linux/arm64/v8`,
        tags: `${b.host}/broken/app:1`,
        registry: b.host,
        username: USER,
        password: PASSWORD,
      });
      assert.notEqual(run.code, 0, run.stdout);
      assert.match(run.stdout, /a blob being copied does not match its digest: expected sha256:[a-f0-9]{64}, got sha256:[a-f0-9]{64}|DIGEST_INVALID/);
      assert.equal((await getManifestBytes({ url: b.url, authorization: basic }, 'broken/app', '1')).status, 404);
    } finally {
      await proxy.stop();
    }
  });
});
