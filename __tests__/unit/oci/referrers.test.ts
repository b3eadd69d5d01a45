import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ActionError } from '../../../src/errors.ts';
import type { IndexEntry } from '../../../src/oci/assemble.ts';
import { type Digest, sha256 } from '../../../src/oci/digest.ts';
import type { Descriptor } from '../../../src/oci/descriptor.ts';
import { type ImageIndex, MediaType } from '../../../src/oci/manifest.ts';
import {
  ATTESTATION_ARTIFACT_TYPE,
  MAX_REFERRERS,
  attachSubject,
  cosignTag,
  isMediaType,
  mergeReferrers,
  readReferrer,
  readReferrersIndex,
  referrerDescriptor,
} from '../../../src/oci/referrers.ts';
import { parseNormalizedNamed } from '../../../src/oci/reference.ts';
import { targetsOf } from '../../../src/publish/plan.ts';
import { type Attached, attestationSubjects, bySubject, discoverability, isRefusal, leftAsFound, listsAll, referrerCopies } from '../../../src/publish/referrers-plan.ts';

const d = (n: number) => `sha256:${String(n).padStart(64, '0')}` as Digest;
const fetched = (doc: unknown, mediaType: string = MediaType.OciIndex) => {
  const bytes = Buffer.from(JSON.stringify(doc));
  return { bytes, digest: sha256(bytes), mediaType };
};
const index = (manifests: unknown[]) => fetched({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests });
const listed = (n: number, extra: Record<string, unknown> = {}) => ({ mediaType: MediaType.OciManifest, digest: d(n), size: 300, artifactType: 'application/spdx+json', ...extra });

describe('cosign tags and media types', () => {
  it('names cosign tags after the subject digest', () => {
    assert.equal(cosignTag(d(1), 'sig'), `sha256-${'0'.repeat(63)}1.sig`);
    assert.equal(cosignTag(d(2), 'sbom'), `sha256-${'0'.repeat(63)}2.sbom`);
  });
  const types: Array<[unknown, boolean]> = [
    ['application/spdx+json', true],
    ['application/vnd.dev.sigstore.bundle.v0.3+json', true],
    ['text/plain', true],
    ['https://slsa.dev/provenance/v0.2', false],
    ['application/x\n::error::injected', false],
    ['no-slash', false],
    ['', false],
    [42, false],
  ];
  for (const [v, ok] of types) it(`${JSON.stringify(v)} is ${ok ? '' : 'not '}a media type`, () => assert.equal(isMediaType(v), ok));
});

describe('readReferrersIndex (a registry’s answer, hostile until checked)', () => {
  it('keeps image manifests, each once, and says why others are skipped', () => {
    const r = readReferrersIndex(
      index([
        listed(1),
        listed(1),
        listed(2, { mediaType: MediaType.OciIndex }),
        listed(3, { size: 5 * 1024 * 1024 }),
        listed(5, { mediaType: MediaType.DockerManifest, artifactType: undefined }),
      ]),
      'x',
    );
    assert.deepEqual(r.descriptors, [
      { mediaType: MediaType.OciManifest, digest: d(1), size: 300 },
      { mediaType: MediaType.DockerManifest, digest: d(5), size: 300 },
    ]);
    assert.equal(r.skipped.length, 2);
    assert.match(r.skipped[0] as string, /is not an image manifest/);
    assert.match(r.skipped[1] as string, /larger than a manifest may be/);
  });
  const refused: Array<[string, ReturnType<typeof fetched>, RegExp]> = [
    [`more than ${MAX_REFERRERS} entries`, index(Array.from({ length: MAX_REFERRERS + 1 }, (_, i) => listed(i + 1))), /lists 65 referrers, more than the 64/],
    ['an image, not an index', fetched({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: listed(1), layers: [] }, MediaType.OciManifest), /are not an index/],
    ['a descriptor with a bad digest', index([{ mediaType: MediaType.OciManifest, digest: 'sha256:abc', size: 1 }]), /digest is "sha256:abc": expected a digest/],
    ['a negative size', index([{ mediaType: MediaType.OciManifest, digest: d(1), size: -1 }]), /size is -1: expected a non-negative integer/],
    ['an artifactType that is no media type', index([listed(1, { artifactType: 'not a type' })]), /artifactType is "not a type": expected a media type/],
    ['not JSON', { bytes: Buffer.from('<html>'), digest: d(1), mediaType: MediaType.OciIndex }, /not JSON/],
  ];
  for (const [name, input, message] of refused) {
    it(`refuses ${name}`, () => assert.throws(() => readReferrersIndex(input, 'x'), (e: unknown) => e instanceof ActionError && message.test(e.message)));
  }
});

const artifact = (extra: Record<string, unknown> = {}) => ({
  schemaVersion: 2,
  mediaType: MediaType.OciManifest,
  artifactType: 'application/spdx+json',
  config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: d(7), size: 2 },
  layers: [{ mediaType: 'application/spdx+json', digest: d(8), size: 10 }],
  subject: { mediaType: MediaType.OciManifest, digest: d(1), size: 500 },
  ...extra,
});

describe('readReferrer and referrerDescriptor', () => {
  it('gives the descriptor from the bytes: artifactType, else the config type, and string annotations', () => {
    const f = fetched(artifact({ annotations: { a: 'b' } }), MediaType.OciManifest);
    assert.deepEqual(referrerDescriptor(f, readReferrer(f, 'x', d(1))), { mediaType: MediaType.OciManifest, digest: f.digest, size: f.bytes.length, artifactType: 'application/spdx+json', annotations: { a: 'b' } });
    const g = fetched(artifact({ artifactType: undefined }), MediaType.OciManifest);
    assert.equal(referrerDescriptor(g, readReferrer(g, 'x')).artifactType, 'application/vnd.oci.empty.v1+json');
  });
  const refused: Array<[string, unknown, RegExp]> = [
    ['another subject', artifact({ subject: { mediaType: MediaType.OciManifest, digest: d(2), size: 1 } }), /does not name sha256:0+1 as its subject/],
    ['no subject', artifact({ subject: undefined }), /does not name/],
    ['an artifactType that is no media type', artifact({ artifactType: 'https://in-toto.io' }), /artifactType that is not a media type/],
  ];
  for (const [name, doc, message] of refused) {
    it(`refuses ${name}`, () => assert.throws(() => readReferrer(fetched(doc, MediaType.OciManifest), 'x', d(1)), message));
  }
  it('refuses annotations that are not strings (parseManifest)', () => assert.throws(() => readReferrer(fetched(artifact({ annotations: { n: 1 } }), MediaType.OciManifest), 'x'), /annotations\["n"\] is 1/));
  it('refuses an index as a referrer', () => assert.throws(() => readReferrer(index([]), 'x'), /only image manifests/));
});

describe('mergeReferrers (the fallback tag)', () => {
  const desc = (n: number): Descriptor => ({ mediaType: MediaType.OciManifest, digest: d(n), size: n, artifactType: 'text/plain' });
  const existing: ImageIndex = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [desc(1)], annotations: { kept: 'yes' } };
  const cases: Array<[string, ImageIndex | undefined, Descriptor[], number[] | undefined]> = [
    ['nothing there: a new index', undefined, [desc(2)], [2]],
    ['entries already there kept, new appended', existing, [desc(2), desc(3)], [1, 2, 3]],
    ['a descriptor already listed is skipped', existing, [desc(1), desc(2)], [1, 2]],
    ['the same descriptor twice is added once', undefined, [desc(2), desc(2)], [2]],
    ['nothing new: no write', existing, [desc(1)], undefined],
  ];
  for (const [name, before, add, want] of cases) {
    it(name, () => {
      const merged = mergeReferrers(before, add);
      if (!want) return assert.equal(merged, undefined);
      assert.ok(merged);
      const doc = JSON.parse(merged.bytes.toString());
      assert.deepEqual(doc.manifests.map((m: Descriptor) => m.digest), want.map(d));
      assert.equal(doc.mediaType, MediaType.OciIndex);
      if (before) assert.deepEqual(doc.annotations, { kept: 'yes' });
    });
  }
  it('does not change the index it was given', () => {
    mergeReferrers(existing, [desc(9)]);
    assert.equal(existing.manifests.length, 1);
  });
});

describe('attachSubject (attestations: referrers)', () => {
  const att = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: { mediaType: 'c', digest: d(5), size: 1 }, layers: [] }));
  const image: Descriptor = { mediaType: MediaType.OciManifest, digest: d(1), size: 321, platform: { os: 'linux', architecture: 'amd64' } };
  it('adds artifactType and the image as subject (no platform), keeping the rest in order', () => {
    const out = JSON.parse(attachSubject(att, image, 'x').toString());
    assert.deepEqual(Object.keys(out), ['schemaVersion', 'mediaType', 'config', 'layers', 'artifactType', 'subject']);
    assert.equal(out.artifactType, ATTESTATION_ARTIFACT_TYPE);
    assert.deepEqual(out.subject, { mediaType: MediaType.OciManifest, digest: d(1), size: 321 });
  });
  it('gives the same bytes every time, and replaces a subject already there', () => {
    const once = attachSubject(att, image, 'x');
    assert.deepEqual(attachSubject(att, image, 'x'), once);
    assert.deepEqual(attachSubject(once, image, 'x'), once);
  });
  it('refuses what is not a JSON object', () => assert.throws(() => attachSubject(Buffer.from('[1]'), image, 'x'), /is not a JSON object/));
});

const entry = (n: number, at: string, attestationOf?: number): IndexEntry => ({
  descriptor: {
    mediaType: MediaType.OciManifest,
    digest: d(n),
    size: n,
    ...(attestationOf ? { annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': d(attestationOf) } } : {}),
  },
  line: `src${n}`,
  registry: at.slice(0, at.indexOf('/')),
  repository: at.slice(at.indexOf('/') + 1),
  attestation: attestationOf !== undefined,
});

describe('referrers plan', () => {
  const targets = (...refs: string[]) => targetsOf(refs.map((r) => parseNormalizedNamed(r)));
  const cases: Array<[string, string[], IndexEntry[], string[]]> = [
    ['same repository: nothing to copy (costs nothing)', ['a.io/app:1'], [entry(1, 'a.io/app'), entry(2, 'a.io/app')], []],
    ['another repository of the same registry', ['a.io/mirror:1'], [entry(1, 'a.io/app')], ['a.io/mirror 1']],
    ['another registry, two targets, one of them the source', ['a.io/app:1', 'b.io/app:1'], [entry(1, 'a.io/app'), entry(2, 'a.io/app')], ['b.io/app 1', 'b.io/app 2']],
    ['attestation entries have no referrers of their own', ['b.io/app:1'], [entry(1, 'a.io/app'), entry(11, 'a.io/app', 1)], ['b.io/app 1']],
  ];
  for (const [name, tags, entries, want] of cases) {
    it(`referrerCopies: ${name}`, () => {
      assert.deepEqual(referrerCopies(targets(...tags), entries, new Set()).map(({ target, image }) => `${target.registry}/${target.repository} ${Number(image.descriptor.digest.slice(7))}`), want);
    });
  }
  // Finding 5 of issue 23: an image the target already holds gets nothing from a source.
  it('referrerCopies leaves out, and leftAsFound lists, the images a target already holds', () => {
    const ts = targets('b.io/app:1', 'c.io/app:1');
    const entries = [entry(1, 'a.io/app'), entry(2, 'a.io/app'), entry(11, 'a.io/app', 1)];
    const present = new Set([`b.io/app@${d(2)}`, `c.io/app@${d(11)}`]);
    assert.deepEqual(referrerCopies(ts, entries, present).map(({ target, image }) => `${target.registry} ${Number(image.descriptor.digest.slice(7))}`), ['b.io 1', 'c.io 1', 'c.io 2']);
    assert.deepEqual(leftAsFound(ts, entries, present), [{ image: d(2), target: 'b.io/app', kind: 'image', subject: d(2), digest: d(2), outcome: 'left' }]);
  });
  it('attestationSubjects pairs each attestation with its image, leaving out one whose image is absent', () => {
    const pairs = attestationSubjects([entry(11, 'a.io/app', 1), entry(13, 'a.io/app', 3)], [entry(1, 'a.io/app'), entry(2, 'a.io/app')]);
    assert.deepEqual(pairs.map((p) => [p.attestation.descriptor.digest, p.image.descriptor.digest]), [[d(11), d(1)]]);
  });
  it('bySubject groups listed items (not cosign tags) by subject, each digest once', () => {
    const item = (digest: number, subject: number, listed = true): Attached => ({
      kind: listed ? 'referrer' : 'cosign',
      subject: d(subject),
      registry: 'a.io',
      repository: 'app',
      fetched: { bytes: Buffer.alloc(0), digest: d(digest), mediaType: MediaType.OciManifest },
      ...(listed ? { descriptor: { mediaType: MediaType.OciManifest, digest: d(digest), size: 1 } } : { tag: 'sha256-x.sig' }),
    });
    const groups = bySubject([item(5, 1), item(6, 2), item(7, 1), item(5, 1), item(8, 1, false)]);
    assert.deepEqual([...groups].map(([s, items]) => [s, items.map((i) => i.fetched.digest)]), [[d(1), [d(5), d(7)]], [d(2), [d(6)]]]);
  });
  const ways: Array<[string, Array<{ subjectTracked: boolean } | undefined>, string]> = [
    // OCI-Subject alone proves nothing (ECR answered it listing nothing, sigstore-js#1183): the API is asked.
    ['every PUT answered OCI-Subject: ask the API whether it lists them', [{ subjectTracked: true }, undefined, { subjectTracked: true }], 'ask'],
    ['one PUT without it', [{ subjectTracked: true }, { subjectTracked: false }], 'fallback'],
    ['no PUT (all there already): ask the API', [undefined, undefined], 'ask'],
  ];
  for (const [name, puts, want] of ways) it(`discoverability: ${name}`, () => assert.equal(discoverability(puts), want));
  const listed = [d(5), d(7)].map((digest) => ({ mediaType: MediaType.OciManifest, digest, size: 1 }));
  const lists: Array<[string, typeof listed | undefined, string[], boolean]> = [
    ['every referrer listed', listed, [d(5), d(7)], true],
    ['one of them missing (an API that lists nothing it was sent)', listed, [d(5), d(6)], false],
    ['an empty answer', [], [d(5)], false],
    ['no API', undefined, [d(5)], false],
  ];
  for (const [name, index, digests, want] of lists) it(`listsAll: ${name}`, () => assert.equal(listsAll(index, digests as never), want));
  const refusals: Array<[number | undefined, string | undefined, boolean]> = [
    [405, 'UNSUPPORTED', true], // ECR and a manifest with subject (aws/containers-roadmap#2783)
    [415, undefined, true],
    [400, 'MANIFEST_INVALID', true], // a media type the registry does not take (sigstore-js#1058)
    [400, 'MANIFEST_BLOB_UNKNOWN', false], // a blob missing: a failure, not a refusal
    [400, 'BLOB_UNKNOWN', false],
    [403, 'DENIED', false],
    [500, 'UNKNOWN', false],
    [undefined, undefined, false],
  ];
  for (const [status, code, want] of refusals) it(`isRefusal: ${status} ${code}`, () => assert.equal(isRefusal(status, code), want));
});
