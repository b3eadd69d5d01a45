import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ActionError } from '../../../src/errors.ts';
import { type IndexEntry, assembleIndex } from '../../../src/oci/assemble.ts';
import { MediaType } from '../../../src/oci/manifest.ts';

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
const opts = { mediaType: 'auto' as const, attestations: 'keep' as const, requirePlatforms: [], indexAnnotations: {}, descriptorAnnotations: [] };

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
    const annotated = assembleIndex([image(1, 'linux', 'amd64')], { ...opts, indexAnnotations: { 'org.opencontainers.image.version': '1' }, descriptorAnnotations: [{ key: 'k', value: 'v' }] });
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
    assert.deepEqual(kept.detached, []);
    assert.deepEqual(dropped.detached, []);
  });
  it('attestations: referrers leaves them out of the index and detaches those whose image is in it', () => {
    const entries = [image(1, 'linux', 'amd64'), attestation(11, 1), image(2, 'linux', 'arm64'), attestation(12, 2), attestation(13, 3)];
    const r = assembleIndex(entries, { ...opts, attestations: 'referrers' });
    assert.deepEqual(JSON.parse(r.bytes.toString()).manifests.map((m: any) => m.digest), [d(1), d(2)]);
    assert.deepEqual(r.entries.map((e) => e.descriptor.digest), [d(1), d(2)]);
    assert.deepEqual(r.detached.map((e) => e.descriptor.digest), [d(11), d(12)], 'the attestation of an image not in the index is not attached');
    assert.equal(r.bytes.toString(), assembleIndex(entries, { ...opts, attestations: 'drop' }).bytes.toString(), 'the same index as drop');
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
    assert.deepEqual(assembleIndex([w1, w2], opts).platforms, ['windows(10.0.17763.1)/amd64', 'windows(10.0.20348.1)/amd64']);
  });
  it('fails when a required platform is missing', () => {
    assert.throws(
      () => assembleIndex([image(1, 'linux', 'amd64')], { ...opts, requirePlatforms: [{ os: 'linux', architecture: 'arm64' }] }),
      /required platform linux\/arm64 is not among the sources \(linux\/amd64\)/,
    );
    assert.doesNotThrow(() => assembleIndex([image(1, 'linux', 'arm64', 'v8')], { ...opts, requirePlatforms: [{ os: 'linux', architecture: 'arm64' }] }));
  });
});

describe('assembleIndex refuses, before any write, what the registry or a Docker client would not take', () => {
  // Issue 16 item 4: media-type docker with buildx-style sources wrote OCI children into a Docker
  // list and left the attestation an anonymous unknown/unknown entry.
  it('media-type docker with an OCI child fails with a hint', () => {
    assert.throws(() => assembleIndex([image(1, 'linux', 'amd64'), image(2, 'linux', 'arm64', undefined, MediaType.OciManifest)], { ...opts, mediaType: 'docker' }), (e: unknown) => {
      assert.ok(e instanceof ActionError);
      assert.match(e.line, /media-type is docker, but 'src2' is a application\/vnd\.oci\.image\.manifest\.v1\+json \(sha256:0+2\), not a Docker image manifest\. Use media-type 'auto' or 'oci'/);
      return true;
    });
  });
  it('media-type docker with attestation entries fails unless attestations: drop leaves Docker manifests only', () => {
    const children = [image(1, 'linux', 'amd64'), attestation(11, 1)];
    assert.throws(() => assembleIndex(children, { ...opts, mediaType: 'docker' }), (e: unknown) => e instanceof ActionError && /media-type is docker, but 'src1' brings an attestation manifest \(sha256:0+11\).*set attestations: drop/.test(e.line));
    const dropped = assembleIndex(children, { ...opts, mediaType: 'docker', attestations: 'drop' });
    assert.equal(dropped.mediaType, MediaType.DockerList);
    assert.deepEqual(JSON.parse(dropped.bytes.toString()).manifests.map((m: any) => m.digest), [d(1)]);
    assert.throws(() => assembleIndex([...children, image(2, 'linux', 'arm64', undefined, MediaType.OciManifest)], { ...opts, mediaType: 'docker', attestations: 'drop' }), /'src2' is a application\/vnd\.oci/);
  });
  // Issue 12: a large source index was refused only at the final tag PUT, after every child was written.
  it('an index over 4 MiB fails, saying how many entries it has and why', () => {
    const annotations = Object.fromEntries(Array.from({ length: 200_000 }, (_, i) => [`k${i}`, 'v']));
    const big = { ...image(1, 'linux', 'amd64', undefined, MediaType.OciManifest), descriptor: { ...image(1, 'linux', 'amd64', undefined, MediaType.OciManifest).descriptor, annotations } };
    assert.throws(() => assembleIndex([big, image(2, 'linux', 'arm64', undefined, MediaType.OciManifest), attestation(11, 1)], opts), (e: unknown) => {
      assert.ok(e instanceof ActionError);
      assert.equal(e.code, 'SIZE_INVALID');
      assert.match(e.line, /^the index would be \d+ bytes, over the 4194304 bytes \(4 MiB\) a registry accepts for a manifest: it has 3 entries \(1 attestations\) and \d+ bytes of descriptor annotations; nothing was written\. Publish fewer entries/);
      return true;
    });
    const justUnder = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, 'v']));
    assert.ok(assembleIndex([{ ...big, descriptor: { ...big.descriptor, annotations: justUnder } }], opts).bytes.length < 4 * 1024 * 1024);
  });
});
