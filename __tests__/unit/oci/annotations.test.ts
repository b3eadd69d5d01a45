/**
 * Annotation lines as docker/buildx parses them (util/buildflags ParseAnnotations: cut at the first
 * `=`, the key at its first `:`, comma-separated types each with an optional `[platform]`), and the
 * platform filter that selects the entries a `manifest-descriptor[platform]` line annotates.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ActionError } from '../../../src/errors.ts';
import { descriptorAnnotationsFor, parseAnnotations } from '../../../src/oci/annotations.ts';
import { matchesFilter } from '../../../src/oci/match.ts';
import { parsePlatform } from '../../../src/oci/platform.ts';

const arm64 = { os: 'linux', architecture: 'arm64', variant: 'v8' };
const amd64 = { os: 'linux', architecture: 'amd64' };

describe('annotation lines (buildx syntax)', () => {
  const cases: Array<{ line: string; index?: Record<string, string>; descriptors?: Array<[string, string, string?]>; skipped?: string[] }> = [
    { line: 'a=b', index: { a: 'b' } },
    { line: 'index:org.opencontainers.image.version=1.0', index: { 'org.opencontainers.image.version': '1.0' } },
    { line: 'manifest-descriptor:k=v', descriptors: [['k', 'v']] },
    { line: 'manifest-descriptor[linux/arm64]:a=b', descriptors: [['a', 'b', 'linux/arm64']] },
    { line: 'index,manifest-descriptor:k=v', index: { k: 'v' }, descriptors: [['k', 'v']] },
    { line: 'manifest,index:k=v', index: { k: 'v' }, skipped: ['manifest:k=v'] },
    { line: 'index,manifest-descriptor[linux/amd64],manifest-descriptor[linux/arm/v7]:k=v', index: { k: 'v' }, descriptors: [['k', 'v', 'linux/amd64'], ['k', 'v', 'linux/arm/v7']] },
    { line: 'index[linux/amd64]:k=v', index: { k: 'v' } },
    { line: 'manifest:k=v', skipped: ['manifest:k=v'] },
    { line: 'index-descriptor:k=v', skipped: ['index-descriptor:k=v'] },
    { line: 'index:url=https://example.com/a?b=c', index: { url: 'https://example.com/a?b=c' } },
    { line: 'index:empty=', index: { empty: '' } },
    // docker/metadata-action's lines, as its annotations output writes them.
    { line: 'manifest:org.opencontainers.image.created=2026-12-05T22:00:00.000Z', skipped: ['manifest:org.opencontainers.image.created=2026-12-05T22:00:00.000Z'] },
    { line: 'index:org.opencontainers.image.description=An app, with commas: and colons', index: { 'org.opencontainers.image.description': 'An app, with commas: and colons' } },
  ];
  for (const c of cases) {
    it(c.line, () => {
      const got = parseAnnotations(c.line);
      assert.deepEqual(got.indexAnnotations, c.index ?? {});
      assert.deepEqual(
        got.descriptorAnnotations.map((d) => [d.key, d.value, ...(d.filter ? [d.filter] : [])]),
        c.descriptors ?? [],
      );
      for (const d of got.descriptorAnnotations) if (d.filter) assert.deepEqual(d.platform, parsePlatform(d.filter));
      assert.deepEqual(got.skippedAnnotations, c.skipped ?? []);
    });
  }

  const invalid: Array<[string, RegExp]> = [
    ['k', /no =/],
    ['=v', /empty key/],
    ['index:=v', /empty key/],
    ['foo:k=v', /unknown type 'foo'/],
    ['Index:k=v', /'Index' is not a type/],
    ['index:a b=c', /holds whitespace/],
    ['index:a,b=c', /holds whitespace, ','/],
    ['index:a:b=c', /the key 'a:b'/],
    ['a[x]=1', /the key 'a\[x\]'/],
    ['manifest-descriptor[]:k=v', /not a type with an optional \[platform\]/],
    ['manifest-descriptor[linux/arm64/v8/x]:k=v', /platform 'linux\/arm64\/v8\/x'/],
    ['index,,manifest-descriptor:k=v', /'' is not a type/],
  ];
  for (const [line, why] of invalid) {
    it(`refuses ${line}`, () => {
      assert.throws(
        () => parseAnnotations(line),
        (e: unknown) => e instanceof ActionError && e.kind === 'input' && e.message.startsWith(`Invalid annotation '${line}'`) && why.test(e.message) && /Expected \[type/.test(e.message),
      );
    });
  }

  it('a filtered descriptor annotation goes on the matching entries only; a later line wins', () => {
    const { descriptorAnnotations } = parseAnnotations('manifest-descriptor:k=all\nmanifest-descriptor[linux/arm64]:a=b\nmanifest-descriptor[linux/arm64]:k=arm');
    assert.deepEqual(descriptorAnnotationsFor(descriptorAnnotations, arm64), { k: 'arm', a: 'b' });
    assert.deepEqual(descriptorAnnotationsFor(descriptorAnnotations, amd64), { k: 'all' });
    assert.deepEqual(descriptorAnnotationsFor(descriptorAnnotations, { os: 'unknown', architecture: 'unknown' }), { k: 'all' });
  });
});

describe('platform filter (matchesFilter)', () => {
  const table: Array<[string, { os: string; architecture: string; variant?: string; 'os.version'?: string; 'os.features'?: string[] }, boolean]> = [
    ['linux/arm64', arm64, true],
    ['linux/arm64/v8', { os: 'linux', architecture: 'arm64' }, true],
    ['linux/arm64', { os: 'linux', architecture: 'arm64', variant: 'v9' }, false],
    ['linux/arm/v7', { os: 'linux', architecture: 'arm' }, true],
    ['linux/arm', { os: 'linux', architecture: 'arm', variant: 'v7' }, true],
    ['linux/arm/v6', { os: 'linux', architecture: 'arm', variant: 'v7' }, false],
    ['linux/amd64', amd64, true],
    ['linux/amd64', { os: 'linux', architecture: '386' }, false],
    ['linux/amd64', { os: 'linux', architecture: 'amd64', variant: 'v2' }, false],
    ['linux/amd64/v2', { os: 'linux', architecture: 'amd64', variant: 'v2' }, true],
    ['linux/amd64', { os: 'windows', architecture: 'amd64' }, false],
    ['windows/amd64', { os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.2655' }, true],
    ['windows(10.0.20348)/amd64', { os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.2655' }, true],
    ['windows(10.0.20348.2655)/amd64', { os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.2655' }, true],
    ['windows(10.0.17763)/amd64', { os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.2655' }, false],
    ['windows(10.0.2)/amd64', { os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.2655' }, false],
    ['windows(+win32k)/amd64', { os: 'windows', architecture: 'amd64', 'os.features': ['win32k'] }, true],
    ['windows(+win32k)/amd64', { os: 'windows', architecture: 'amd64' }, false],
    ['windows/amd64', { os: 'windows', architecture: 'amd64', 'os.features': ['win32k'] }, true],
  ];
  for (const [filter, entry, expected] of table) {
    it(`${filter} ${expected ? 'selects' : 'does not select'} ${JSON.stringify(entry)}`, () => {
      assert.equal(matchesFilter(parsePlatform(filter), entry), expected);
    });
  }
});
