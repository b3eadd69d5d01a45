import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ActionError } from '../../src/errors.ts';
import { type IndexEntry, assembleIndex } from '../../src/oci/assemble.ts';
import { MediaType } from '../../src/oci/manifest.ts';

const d = (n: number) => `sha256:${String(n).padStart(64, '0')}` as const;
const image = (n: number, os: string, architecture: string, variant?: string, mediaType: string = MediaType.DockerManifest): IndexEntry => ({
  descriptor: { mediaType, digest: d(n), size: 100 + n, platform: { os, architecture, ...(variant ? { variant } : {}) } },
  line: `src${n}`,
  registry: 'r.io',
  repository: 'app',
  attestation: false,
});
const attestation = (n: number, of: number): IndexEntry => ({
  descriptor: {
    mediaType: MediaType.OciManifest,
    digest: d(n),
    size: 50,
    platform: { os: 'unknown', architecture: 'unknown' },
    annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': d(of) },
  },
  line: `src${of}`,
  registry: 'r.io',
  repository: 'app',
  attestation: true,
});
const opts = { mediaType: 'auto' as const, attestations: 'keep' as const, requirePlatforms: [], indexAnnotations: {}, descriptorAnnotations: {} };

describe('assembleIndex', () => {
  it('gives a Docker list for Docker entries, byte-identical every time', () => {
    const a = assembleIndex([image(1, 'linux', 'amd64'), image(2, 'linux', 'arm64', 'v8')], opts);
    const b = assembleIndex([image(1, 'linux', 'amd64'), image(2, 'linux', 'arm64', 'v8')], opts);
    assert.equal(a.mediaType, MediaType.DockerList);
    assert.ok(a.bytes.equals(b.bytes));
    assert.deepEqual(a.platforms, ['linux/amd64', 'linux/arm64/v8']);
    const doc = JSON.parse(a.bytes.toString());
    assert.deepEqual(Object.keys(doc), ['schemaVersion', 'mediaType', 'manifests']);
    assert.deepEqual(Object.keys(doc.manifests[1]), ['mediaType', 'digest', 'size', 'platform']);
    assert.deepEqual(Object.keys(doc.manifests[1].platform), ['architecture', 'os', 'variant']);
  });
  it('gives OCI when any entry is OCI, when forced, or with annotations', () => {
    assert.equal(assembleIndex([image(1, 'linux', 'amd64'), image(2, 'linux', 'arm64', undefined, MediaType.OciManifest)], opts).mediaType, MediaType.OciIndex);
    assert.equal(assembleIndex([image(1, 'linux', 'amd64')], { ...opts, mediaType: 'oci' }).mediaType, MediaType.OciIndex);
    const annotated = assembleIndex([image(1, 'linux', 'amd64')], { ...opts, indexAnnotations: { 'org.opencontainers.image.version': '1' }, descriptorAnnotations: { k: 'v' } });
    assert.equal(annotated.mediaType, MediaType.OciIndex);
    const doc = JSON.parse(annotated.bytes.toString());
    assert.deepEqual(doc.annotations, { 'org.opencontainers.image.version': '1' });
    assert.deepEqual(doc.manifests[0].annotations, { k: 'v' });
  });
  it('refuses annotations on a forced Docker list', () => {
    assert.throws(() => assembleIndex([image(1, 'linux', 'amd64')], { ...opts, mediaType: 'docker', indexAnnotations: { a: 'b' } }), /media-type is docker/);
  });
  it('orders images first, then attestations, and drops them on request', () => {
    const entries = [image(1, 'linux', 'amd64'), attestation(11, 1), image(2, 'linux', 'arm64'), attestation(12, 2)];
    const kept = assembleIndex(entries, opts);
    assert.deepEqual(JSON.parse(kept.bytes.toString()).manifests.map((m: any) => m.digest), [d(1), d(2), d(11), d(12)]);
    assert.deepEqual(kept.platforms, ['linux/amd64', 'linux/arm64']);
    const dropped = assembleIndex(entries, { ...opts, attestations: 'drop' });
    assert.deepEqual(JSON.parse(dropped.bytes.toString()).manifests.map((m: any) => m.digest), [d(1), d(2)]);
  });
  it('refuses duplicate platforms naming both sources', () => {
    assert.throws(
      () => assembleIndex([image(1, 'linux', 'amd64'), image(2, 'linux', 'amd64')], opts),
      (e: unknown) => e instanceof ActionError && /linux\/amd64.*'src1' and 'src2'/.test(e.message),
    );
    // Windows images that differ in os.version are distinct platforms.
    const w1 = image(1, 'windows', 'amd64');
    const w2 = image(2, 'windows', 'amd64');
    (w1.descriptor.platform as any)['os.version'] = '10.0.17763.1';
    (w2.descriptor.platform as any)['os.version'] = '10.0.20348.1';
    assert.equal(assembleIndex([w1, w2], opts).platforms.length, 2);
  });
  it('fails when a required platform is missing', () => {
    assert.throws(
      () => assembleIndex([image(1, 'linux', 'amd64')], { ...opts, requirePlatforms: [{ os: 'linux', architecture: 'arm64' }] }),
      /required platform linux\/arm64 is not among the sources \(linux\/amd64\)/,
    );
    assert.doesNotThrow(() => assembleIndex([image(1, 'linux', 'arm64', 'v8')], { ...opts, requirePlatforms: [{ os: 'linux', architecture: 'arm64' }] }));
  });
});
