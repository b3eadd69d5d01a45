import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ActionError } from '../../src/errors.ts';
import { any, only, onlyOS, onlyStrict, ordered, parseWindowsVersion, sortPlatforms, windowsHostMatcher, windowsHostRunsContainer } from '../../src/oci/match.ts';
import { type Platform, formatPlatform, formatPlatformAll, hostPlatform, normalize, parsePlatform } from '../../src/oci/platform.ts';
import { loadVectors } from '../helpers/conformance.ts';

const vectors = loadVectors<any[]>('platform-vectors.json');
const host = hostPlatform();

/** Substitutes the host placeholders; an empty HOST_VARIANT drops the key and its path segment. */
function hostify<T>(value: T): T {
  const text = JSON.stringify(value)
    .replaceAll('/${HOST_VARIANT}', host.variant ? `/${host.variant}` : '')
    .replaceAll('${HOST_OS}', host.os)
    .replaceAll('${HOST_ARCH}', host.architecture)
    .replaceAll('${HOST_VARIANT}', host.variant);
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
  const comparers: Record<string, (p: Platform) => ReturnType<typeof only>> = { Only: only, OnlyStrict: onlyStrict, OnlyOS: onlyOS };
  for (const v of vectors.filter((x) => x.kind === 'match')) {
    it(`match ${v.fn}(${v.input})`, () => {
      const m = (comparers[v.fn] as (p: Platform) => ReturnType<typeof only>)(parsePlatform(v.input));
      for (const c of v.matches) assert.equal(m.match(parsePlatform(c)), true, `${v.input} should match ${c}`);
      for (const c of v.doesNotMatch) assert.equal(m.match(parsePlatform(c)), false, `${v.input} should not match ${c}`);
    });
  }
  for (const v of vectors.filter((x) => x.kind === 'sort')) {
    it(`sort ${v.fn} ${v.input}`, () => {
      const input = parsePlatform(v.input);
      const fns: Array<(p: Platform) => ReturnType<typeof only>> = v.fn.startsWith('OnlyOS') ? [onlyOS] : [only, onlyStrict, (p) => ordered(p), (p) => any(p)];
      for (const fn of fns) {
        const sorted = sortPlatforms(v.platforms.map((s: string) => parsePlatform(s)) as Platform[], fn(input));
        assert.deepEqual(sorted.map(formatPlatformAll), v.expectedOrder);
      }
    });
  }
  for (const v of vectors.filter((x) => x.kind === 'windows-compat')) {
    it(`windows host ${v.hostBuildName} runs ${v.containerBuildName}: ${v.shouldRun}`, () => {
      const host = parseWindowsVersion(v.hostOsVersion);
      const ctr = parseWindowsVersion(v.containerOsVersion);
      assert.ok(host && ctr);
      assert.equal(windowsHostRunsContainer(host, ctr), v.shouldRun);
    });
  }
  for (const v of vectors.filter((x) => x.kind === 'windows-match')) {
    it(`windows matcher ${JSON.stringify(v.host)} ~ ${JSON.stringify(v.candidate)}`, () => {
      assert.equal(windowsHostMatcher(v.host).match(v.candidate), v.match);
    });
  }
  for (const v of vectors.filter((x) => x.kind === 'windows-order')) {
    it(`windows order ${v.description ?? JSON.stringify(v.host)}`, () => {
      const sorted = sortPlatforms(v.platforms as Platform[], windowsHostMatcher(v.host));
      if (v.expectedFirst) {
        assert.equal(sorted[0]?.os, v.expectedFirst.os);
        assert.equal(sorted[0]?.['os.version'], v.expectedFirst['os.version']);
      }
      if (v.expectedOrder) assert.deepEqual(sorted, v.expectedOrder);
    });
  }
  it('runs every platform vector', () => {
    const kinds = ['parse', 'format', 'normalize', 'match', 'sort', 'windows-compat', 'windows-match', 'windows-order'];
    assert.equal(vectors.filter((x) => kinds.includes(x.kind)).length, vectors.length);
    assert.equal(vectors.length, 147);
  });
});
