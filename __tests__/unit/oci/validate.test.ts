import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ActionError } from '../../../src/errors.ts';
import { platformFromConfig } from '../../../src/oci/config.ts';
import type { Descriptor } from '../../../src/oci/descriptor.ts';
import { MediaType, parseManifest } from '../../../src/oci/manifest.ts';
import { checkDescribes, checkMediaType } from '../../../src/oci/validate.ts';

const D = `sha256:${'a'.repeat(64)}` as const;
const entry = (extra: Record<string, unknown> = {}, platform: unknown = { os: 'linux', architecture: 'amd64' }) => ({
  mediaType: MediaType.OciManifest,
  digest: D,
  size: 500,
  platform,
  ...extra,
});
const index = (...manifests: unknown[]) => ({
  bytes: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests })),
  digest: D,
  mediaType: MediaType.OciIndex,
});
const WHERE = 'r.io/app:src';

/** The error a check gave: one line naming the source and the field, the value JSON-quoted. */
function refusal(fn: () => unknown): ActionError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ActionError, String(e));
    assert.doesNotMatch(e.line, /[\r\n]/, 'one line');
    return e;
  }
  assert.fail('accepted');
}

describe('registry data is validated before use (src/oci/validate.ts)', () => {
  // Attack cases from issue 12: each was pushed (or crashed) as read before.
  const refused: Array<[string, unknown, RegExp]> = [
    ['os with a line break and commands', entry({}, { os: 'linux\n::error ::x\n::set-output name=digest::y', architecture: 'amd64' }), /manifests\[1\]\.platform\.os is "linux\\n::error ::x\\n::set-output name=digest::y": expected a lowercase token/],
    ['os with a lone \\r', entry({}, { os: 'linux\r::error::x', architecture: 'amd64' }), /platform\.os is "linux\\r::error::x"/],
    ['os as an array', entry({}, { os: ['linux'], architecture: 'amd64' }), /manifests\[1\]\.platform\.os is \["linux"\]: expected a lowercase token/],
    ['architecture as an object', entry({}, { os: 'linux', architecture: { x: 1 } }), /platform\.architecture is \{"x":1\}/],
    ['uppercase architecture', entry({}, { os: 'linux', architecture: 'AMD64' }), /platform\.architecture is "AMD64"/],
    ['variant with a blank', entry({}, { os: 'linux', architecture: 'arm', variant: 'v7 x' }), /platform\.variant is "v7 x"/],
    ['os.features as a string', entry({}, { os: 'windows', architecture: 'amd64', 'os.features': 'win32k' }), /platform\.os\.features is "win32k": expected an array of lowercase tokens/],
    ['os.features with a non-token', entry({}, { os: 'windows', architecture: 'amd64', 'os.features': ['ok', '| x'] }), /platform\.os\.features\[1\] is "\| x"/],
    ['os.version with a control character', entry({}, { os: 'windows', architecture: 'amd64', 'os.version': '10.0\u001b[31m' }), /platform\.os\.version is "10\.0\\u001b\[31m": expected printable text/],
    ['os.version with a blank', entry({}, { os: 'windows', architecture: 'amd64', 'os.version': '10 0' }), /os\.version is "10 0"/],
    ['platform not an object', entry({}, 'linux/amd64'), /manifests\[1\]\.platform is "linux\/amd64": expected a platform object/],
    ['annotations as a string', entry({ annotations: 'abc' }), /manifests\[1\]\.annotations is "abc": expected a map of strings/],
    ['an annotation value not a string', entry({ annotations: { 'org.opencontainers.image.title': 7 } }), /annotations\["org\.opencontainers\.image\.title"\] is 7: expected a string/],
    ['a bad digest', entry({ digest: 'sha256:xyz\n::error::' }), /manifests\[1\]\.digest is "sha256:xyz\\n::error::": expected a digest/],
    ['a media type with a line break', entry({ mediaType: 'application/x\n::error::y' }), /manifests\[1\]\.mediaType is "application\/x\\n::error::y": expected a media type/],
    ['a negative size', entry({ size: -1 }), /manifests\[1\]\.size is -1/],
    ['urls not strings', entry({ urls: [1] }), /manifests\[1\]\.urls is \[1\]/],
  ];
  for (const [name, bad, message] of refused) {
    it(`refuses ${name}, naming the source and the field`, () => {
      const e = refusal(() => parseManifest(index(entry(), bad), WHERE));
      assert.match(e.line, /^invalid manifest from r\.io\/app:src: /);
      assert.match(e.line, message);
      assert.equal(e.code, 'MANIFEST_INVALID');
    });
  }
  it('refuses index annotations that are not a map of strings, and a hostile body mediaType', () => {
    const withAnnotations = { ...index(entry()), bytes: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [entry()], annotations: ['x'] })) };
    assert.match(refusal(() => parseManifest(withAnnotations, WHERE)).line, /: annotations is \["x"\]/);
    const contradicting = { ...index(entry()), bytes: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'a\n::error::b', manifests: [] })) };
    assert.match(refusal(() => parseManifest(contradicting, WHERE)).line, /"a\\n::error::b"/);
  });
  it('accepts what real registries and builders write (tokens, Windows versions, null and empty optional fields)', () => {
    const good = [
      entry(),
      entry({}, { os: 'linux', architecture: 'arm64', variant: 'v8' }),
      entry({}, { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.1234', 'os.features': ['win32k'] }),
      entry({ annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } }, { os: 'unknown', architecture: 'unknown' }),
      entry({ annotations: null, urls: null }, null),
      entry({}, { os: '', architecture: '' }), // Docker's manifest list writes an unset platform so
      entry({ artifactType: 'application/vnd.example+json' }),
    ];
    const parsed = parseManifest(index(...good), WHERE);
    assert.equal(parsed.kind === 'index' && parsed.manifest.manifests.length, good.length);
  });
  it('checks image manifests too: config and layer descriptors', () => {
    const image = (layers: unknown[]) => ({
      bytes: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: { mediaType: MediaType.OciConfig, digest: D, size: 2 }, layers })),
      digest: D,
      mediaType: MediaType.OciManifest,
    });
    assert.equal(parseManifest(image([{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: D, size: 3 }]), WHERE).kind, 'image');
    assert.match(refusal(() => parseManifest(image([{ mediaType: 'x', digest: D, size: 3 }]), WHERE)).line, /layers\[0\]\.mediaType is "x"/);
    assert.match(refusal(() => parseManifest(image([{ mediaType: MediaType.OciConfig, digest: D, size: 3, annotations: 'abc' }]), WHERE)).line, /layers\[0\]\.annotations is "abc"/);
  });

  const configs: Array<[string, unknown, RegExp | Record<string, unknown>]> = [
    ['a Linux config', { os: 'linux', architecture: 'arm', variant: 'v7' }, { os: 'linux', architecture: 'arm', variant: 'v7' }],
    ['a Windows config', { os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.1', 'os.features': ['win32k'] }, { os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.1', 'os.features': ['win32k'] }],
    ['no os (left to the caller)', { architecture: 'amd64', variant: '', 'os.features': null }, { architecture: 'amd64' }],
    ['os as an array', { os: ['linux'], architecture: 'amd64' }, /invalid image config from r\.io\/app:src: os is \["linux"\]: expected a lowercase token/],
    ['os with commands', { os: 'linux\n::error::x', architecture: 'amd64' }, /os is "linux\\n::error::x"/],
    ['os.features as a string (crashed with code text before)', { os: 'linux', architecture: 'amd64', 'os.features': 'abc' }, /os\.features is "abc": expected an array/],
    ['architecture as an object', { os: 'linux', architecture: {} }, /architecture is \{\}/],
    ['a config that is not an object', null, /config is null: expected a JSON object/],
  ];
  for (const [name, config, want] of configs) {
    it(`config: ${name}`, () => {
      if (want instanceof RegExp) assert.match(refusal(() => platformFromConfig(config, WHERE)).line, want);
      else assert.deepEqual(platformFromConfig(config, WHERE), want);
    });
  }

  it("refuses a child whose declared size or media type is not what was read", () => {
    const d: Descriptor = { mediaType: MediaType.OciManifest, digest: D, size: 500 };
    checkDescribes(d, { size: 500, mediaType: MediaType.OciManifest }, WHERE);
    checkDescribes(d, { size: -1, mediaType: '' }, WHERE); // a HEAD that says neither
    assert.match(refusal(() => checkDescribes(d, { size: 501, mediaType: MediaType.OciManifest }, WHERE)).line, /invalid index from r\.io\/app:src: the entry for sha256:a+: size is 500: expected 501, the size of that manifest/);
    assert.match(refusal(() => checkDescribes(d, { size: 500, mediaType: MediaType.DockerManifest }, WHERE)).line, /mediaType is "application\/vnd\.oci\.image\.manifest\.v1\+json": expected "application\/vnd\.docker/);
  });

  it('property: any string as os or annotation is accepted only as a token / string, and a refusal is one quoted line', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => {
        let line: string | undefined;
        try {
          parseManifest(index(entry({}, { os: s, architecture: 'amd64' })), WHERE);
        } catch (e) {
          line = (e as ActionError).line;
        }
        assert.equal(line === undefined, s === '' || /^[a-z0-9_.-]{1,128}$/.test(s));
        if (line !== undefined) {
          assert.doesNotMatch(line, /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
          assert.ok(line.includes(`platform.os is ${JSON.stringify(s).replace(/[\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}`), line);
        }
        parseManifest(index(entry({ annotations: { k: s } })), WHERE);
      }),
      { numRuns: 300 },
    );
  });
});

describe('media types with parameters', () => {
  const cases: Array<[string, boolean, boolean]> = [
    // [value, as a manifest's own type, as a descriptor's or artifactType]
    ['application/vnd.oci.image.manifest.v1+json', true, true],
    ['application/vnd.dev.sigstore.bundle+json;version=0.2', false, true], // sigstore/sigstore-js#1058
    ['application/vnd.dev.sigstore.bundle+json; version=0.2', false, true],
    ['application/x;a=1;b=2;c=3;d=4', false, true],
    ['application/x;a=1;b=2;c=3;d=4;e=5', false, false], // at most four
    ['application/x; charset="utf-8"', false, false], // no quoted values
    ['application/x;  a=1', false, false],
    ['application/x;a=', false, false],
    ['application/x;=1', false, false],
    ['application/x;a=1\n::error::y', false, false],
  ];
  for (const [value, strict, withParameters] of cases) {
    it(JSON.stringify(value), () => {
      const accepts = (parameters: boolean) => {
        try {
          checkMediaType(value, 'mediaType', parameters);
          return true;
        } catch {
          return false;
        }
      };
      assert.deepEqual([accepts(false), accepts(true)], [strict, withParameters]);
    });
  }
});
