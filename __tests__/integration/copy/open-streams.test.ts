/**
 * What a hostile source can make a copy hold at once (the attack review). A blob answered by the
 * source is held (up to its size, or the 256 KiB stream buffer) until its upload to the target
 * takes it: the blobs fetched and not yet uploaded must stay bounded by the copy's own limits, not
 * by how many blobs the source's manifests list or how many hosts it spreads them over. The source
 * is scripted (its manifests are generated: 4 images of 8 small layers), and redirects each blob
 * GET to one of 4 storage hosts on loopback, as registries redirect to their storage (each host is
 * its own connection pool); the target is the real registry behind a proxy that slows its uploads.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { BLOB_STREAM_BUFFER } from '../../../src/registry/client.ts';
import { type FaultProxy, startFaultProxy } from '../../helpers/fault-proxy.ts';
import { type Answer, type ScriptedServer, startScriptedServer } from '../../helpers/hostile-servers.ts';
import { runInProcess } from '../../helpers/in-process.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const IMAGES = 4;
const LAYERS = 8;
const STORAGE_HOSTS = 4;
const CONCURRENCY = 4;

/** The source's blobs by digest: per image a config and LAYERS layers of exactly the stream buffer's size. */
function hostileSource() {
  const blobs = new Map<string, Buffer>();
  const add = (b: Buffer) => {
    const d = sha(b);
    blobs.set(d, b);
    return { digest: d, size: b.length };
  };
  const children = Array.from({ length: IMAGES }, (_, i) => {
    const config = add(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'windows', 'os.version': `10.0.20348.${i}`, rootfs: { type: 'layers', diff_ids: [] } })));
    const layers = Array.from({ length: LAYERS }, (_, j) => {
      const b = Buffer.alloc(BLOB_STREAM_BUFFER, (i * LAYERS + j) % 251);
      b.writeUInt32BE(i * LAYERS + j, 0);
      return { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...add(b) };
    });
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers }));
    return { bytes, digest: sha(bytes), i };
  });
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: children.map((c) => ({ mediaType: OCI_MANIFEST, digest: c.digest, size: c.bytes.length, platform: { os: 'windows', architecture: 'amd64', 'os.version': `10.0.20348.${c.i}` } })),
    }),
  );
  return { blobs, children, index };
}

describe('attack: blobs a copy holds fetched and not yet uploaded', () => {
  const { blobs, children, index } = hostileSource();
  let registry: RunningRegistry;
  let target: FaultProxy;
  let source: ScriptedServer;
  const storage: ScriptedServer[] = [];
  /** Blob GETs the storage hosts answered. */
  let answered = 0;
  before(async () => {
    registry = await startRegistry();
    // Each blob upload to the target is slowed (a target slower than the source).
    target = await startFaultProxy(registry.url, (r) => (r.method === 'PUT' && r.url.includes('/blobs/uploads/') ? { kind: 'delay', ms: 100 } : undefined));
    for (let k = 0; k < STORAGE_HOSTS; k++) {
      storage.push(
        await startScriptedServer((req) => {
          const blob = blobs.get(decodeURIComponent(req.url.slice('/b/'.length)));
          if (!blob) return { status: 404 };
          answered++;
          return { status: 200, headers: { 'content-type': 'application/octet-stream' }, body: blob };
        }),
      );
    }
    let n = 0;
    source = await startScriptedServer((req): Answer => {
      if (req.url === '/v2/') return { status: 200 };
      if (req.url === '/v2/app/manifests/t') return { status: 200, headers: { 'content-type': OCI_INDEX, 'docker-content-digest': sha(index) }, body: req.method === 'HEAD' ? undefined : index };
      const child = children.find((c) => req.url === `/v2/app/manifests/${c.digest}`);
      if (child) return { status: 200, headers: { 'content-type': OCI_MANIFEST, 'docker-content-digest': child.digest }, body: req.method === 'HEAD' ? undefined : child.bytes };
      const m = /^\/v2\/app\/blobs\/(sha256:[a-f0-9]{64})$/.exec(req.url);
      if (m && blobs.has(m[1] as string)) return { status: 307, headers: { location: `${(storage[n++ % STORAGE_HOSTS] as ScriptedServer).url}/b/${m[1]}` } };
      return { status: 404, headers: { 'content-type': 'application/json' }, body: '{"errors":[{"code":"NOT_FOUND"}]}' };
    });
  });
  after(async () => {
    await source?.stop();
    for (const s of storage) await s.stop();
    await target?.stop();
    await registry?.stop();
  });

  it(`holds at most twice the concurrency (${CONCURRENCY}) of blobs fetched and not yet uploaded, however many hosts serve them`, async () => {
    const uploaded = () => target.log.filter((r) => r.method === 'PUT' && r.url.includes('/blobs/uploads/') && r.status === 201).length;
    let held = 0;
    const sampler = setInterval(() => (held = Math.max(held, answered - uploaded())), 2);
    let run;
    try {
      run = await runInProcess({ sources: `${source.host}/app:t`, tags: `${target.host}/app:1`, concurrency: String(CONCURRENCY) });
    } finally {
      clearInterval(sampler);
    }
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.equal(answered, blobs.size, 'every blob was copied once');
    // Each of them is up to 256 KiB held in memory; with the default concurrency (64) and a source
    // spreading its blobs over enough hosts, the bound was 64 × 64 of them (1 GiB), not 128.
    assert.ok(held <= 2 * CONCURRENCY, `${held} blobs fetched from the source were held at once, waiting for their upload`);
  });
});
