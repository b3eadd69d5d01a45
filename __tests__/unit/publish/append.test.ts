/** appendBase: what an appending run keeps of the index at the first tag (pure code). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ActionError } from '../../../src/errors.ts';
import type { AssembleOptions } from '../../../src/oci/assemble.ts';
import { sha256 } from '../../../src/oci/digest.ts';
import { type FetchedManifest, MediaType } from '../../../src/oci/manifest.ts';
import { parseNormalizedNamed } from '../../../src/oci/reference.ts';
import { appendBase } from '../../../src/publish/append.ts';

const tag = parseNormalizedNamed('r.io/app:1');
const child = { mediaType: MediaType.DockerManifest, digest: `sha256:${'1'.repeat(64)}`, size: 10, platform: { architecture: 'amd64', os: 'linux' } };
const inputs: AssembleOptions = { mediaType: 'auto', attestations: 'keep', requirePlatforms: [], indexAnnotations: { given: 'yes' }, descriptorAnnotations: [] };

function state(doc: Record<string, unknown>, mediaType: string): FetchedManifest {
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, ...doc }));
  return { bytes, digest: sha256(bytes), mediaType };
}

describe('appendBase', () => {
  const cases: Array<[string, FetchedManifest | undefined, Partial<AssembleOptions>, Partial<AssembleOptions>]> = [
    ['absent: the inputs as given', undefined, {}, { mediaType: 'auto', indexAnnotations: { given: 'yes' } }],
    ['an OCI index stays one under auto', state({ manifests: [child] }, MediaType.OciIndex), {}, { mediaType: 'oci' }],
    ['a Docker list stays auto', state({ manifests: [child] }, MediaType.DockerList), {}, { mediaType: 'auto' }],
    ['index annotations kept, an input of the same key wins', state({ manifests: [child], annotations: { kept: 'a', given: 'old' } }, MediaType.OciIndex), {}, { indexAnnotations: { kept: 'a', given: 'yes' } }],
    ['docker over a plain OCI index is a change the inputs ask for', state({ manifests: [child] }, MediaType.OciIndex), { mediaType: 'docker', indexAnnotations: {} }, { mediaType: 'docker' }],
  ];
  for (const [name, base, given, want] of cases) {
    it(name, () => {
      const got = appendBase(tag, base, { ...inputs, ...given });
      for (const [k, v] of Object.entries(want)) assert.deepEqual(got.options[k as keyof AssembleOptions], v, k);
      assert.equal(got.entries.length, base ? 1 : 0);
    });
  }
  it('keeps the descriptors as they were, annotations included', () => {
    const annotated = { ...child, annotations: { 'com.example': 'x' } };
    assert.deepEqual(appendBase(tag, state({ manifests: [annotated] }, MediaType.OciIndex), inputs).entries[0]?.descriptor, annotated);
  });
  const refused: Array<[string, FetchedManifest | undefined, Partial<AssembleOptions>, RegExp]> = [
    ['an image at the tag', state({ config: child, layers: [] }, MediaType.DockerManifest), {}, /append: r\.io\/app:1 is an image, not an index/],
    ['docker over index annotations', state({ manifests: [child], annotations: { a: 'b' } }, MediaType.OciIndex), { mediaType: 'docker', indexAnnotations: {} }, /1 index annotation\(s\) and 0 annotated entries: a Docker manifest list would lose them/],
    ['docker over descriptor annotations', state({ manifests: [{ ...child, annotations: { a: 'b' } }] }, MediaType.OciIndex), { mediaType: 'docker', indexAnnotations: {} }, /0 index annotation\(s\) and 1 annotated entry/],
  ];
  for (const [name, base, given, message] of refused) {
    it(`refuses ${name}`, () => {
      assert.throws(() => appendBase(tag, base, { ...inputs, ...given }), (e: unknown) => e instanceof ActionError && e.kind === 'input' && message.test(e.message));
    });
  }
});
