import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ActionError } from '../../src/errors.ts';
import { type Platform, formatPlatform, formatPlatformAll, hostPlatform, normalize, parsePlatform } from '../../src/oci/platform.ts';
import { loadVectors } from '../helpers/conformance.ts';

const vectors = loadVectors<any[]>('platform-vectors.json');
const host = hostPlatform();

/** Substitutes the host placeholders; an empty HOST_VARIANT drops the key and its path segment. */
// biome-ignore-start lint/suspicious/noTemplateCurlyInString: the vectors' placeholders are literal text
function hostify<T>(value: T): T {
  const text = JSON.stringify(value)
    .replaceAll('/${HOST_VARIANT}', host.variant ? `/${host.variant}` : '')
    .replaceAll('${HOST_OS}', host.os)
    .replaceAll('${HOST_ARCH}', host.architecture)
    .replaceAll('${HOST_VARIANT}', host.variant);
  // biome-ignore-end lint/suspicious/noTemplateCurlyInString: -
  const parsed = JSON.parse(text);
  if (parsed && typeof parsed === 'object' && parsed.variant === '') delete parsed.variant;
  return parsed as T;
}

const asPlatform = (o: any): Platform => ({ ...o });

describe('platform vectors (containerd/platforms)', () => {
  for (const v of vectors.filter((x) => x.kind === 'parse')) {
    it(`parse ${JSON.stringify(v.input)}`, (t) => {
      if (v.skipped) {
        // Upstream skips wildcard selectors; like upstream Parse, we reject them.
        assert.throws(() => parsePlatform(v.input), ActionError);
        return;
      }
      if (v.valid === false) {
        assert.throws(() => parsePlatform(v.input), ActionError);
        return;
      }
      const got = parsePlatform(v.input);
      assert.deepEqual(got, hostify(v.expected));
      const format = v.formatFn === 'FormatAll' ? formatPlatformAll : formatPlatform;
      assert.equal(format(got), hostify(v.formatted));
      void t;
    });
  }
  for (const v of vectors.filter((x) => x.kind === 'format')) {
    it(`formatAll ${JSON.stringify(v.input)}`, () => {
      assert.equal(formatPlatformAll(asPlatform(v.input)), v.formatted);
      const round = parsePlatform(v.formatted);
      assert.equal(round['os.version'], v.input['os.version']);
      const features = (v.input['os.features'] ?? []).filter((f: string) => f !== '');
      assert.deepEqual(round['os.features'] ?? [], features);
    });
  }
  for (const v of vectors.filter((x) => x.kind === 'normalize')) {
    it(`normalize ${JSON.stringify(v.input)}`, () => assert.deepEqual(normalize(asPlatform(v.input)), v.expected));
  }
  it('has the parse, format and normalize vectors', () => {
    assert.equal(vectors.filter((x) => x.kind === 'parse').length, 35);
    assert.equal(vectors.filter((x) => x.kind === 'format').length, 10);
    assert.equal(vectors.filter((x) => x.kind === 'normalize').length, 38);
  });
});
