import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assembleIndex } from '../../../src/oci/assemble.ts';
import { MediaType } from '../../../src/oci/manifest.ts';
import { loadVectors } from '../../helpers/conformance.ts';
import { validateOci } from '../../helpers/oci-schema.ts';

const cases = loadVectors<any[]>('oci-schema/schema-validation-vectors.json');

describe('OCI schema validation vectors (the validator the tests use)', () => {
  for (const c of cases) {
    it(`${c.source}#${c.case}: ${c.description ?? ''}`.slice(0, 140), () => {
      const problems = validateOci(c.validator, c.document);
      assert.equal(problems.length === 0, c.valid, problems.join('; '));
    });
  }
});

describe('assembled OCI indexes validate against the image-index schema', () => {
  it('with platforms, annotations and attestations', () => {
    const d = (n: number) => `sha256:${String(n).padStart(64, '0')}` as const;
    const index = assembleIndex(
      [
        { descriptor: { mediaType: MediaType.OciManifest, digest: d(1), size: 10, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } }, line: 'a', registry: 'r', repository: 'x', attestation: false },
        { descriptor: { mediaType: MediaType.OciManifest, digest: d(2), size: 10, platform: { os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.1', 'os.features': ['win32k'] } }, line: 'b', registry: 'r', repository: 'x', attestation: false },
        { descriptor: { mediaType: MediaType.OciManifest, digest: d(3), size: 10, platform: { os: 'unknown', architecture: 'unknown' }, annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': d(1) } }, line: 'a', registry: 'r', repository: 'x', attestation: true },
      ],
      { mediaType: 'auto', attestations: 'keep', requirePlatforms: [], indexAnnotations: { 'org.opencontainers.image.version': '1.0' }, descriptorAnnotations: [{ key: 'org.opencontainers.image.title', value: 't' }] },
    );
    assert.equal(index.mediaType, MediaType.OciIndex);
    assert.deepEqual(validateOci(MediaType.OciIndex, index.bytes.toString()), []);
  });
  for (const ex of loadVectors<any[]>('docker-manifest-v2-2-examples.json')) {
    it(`Docker example validates as OCI: ${ex.title}`, () => {
      const schema = ex.mediaType.includes('list') ? MediaType.OciIndex : MediaType.OciManifest;
      // The OCI schemas constrain mediaType only when present as the OCI type; validate the shape.
      const doc = JSON.parse(ex.document);
      delete doc.mediaType;
      assert.deepEqual(validateOci(schema, doc), []);
    });
  }
});
