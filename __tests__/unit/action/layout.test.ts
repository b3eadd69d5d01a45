/** `oci-layout://DIR[:TAG|@DIGEST]` source lines (the reading itself: __tests__/integration/surgery.test.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ActionError } from '../../../src/errors.ts';
import { isLayoutLine, parseLayoutLine } from '../../../src/layout.ts';

const roots = { roots: ['/ws'] };
const hex = 'a'.repeat(64);

describe('oci-layout:// source lines', () => {
  const cases: Array<[string, { dir: string; path: string; tag?: string; digest?: string }]> = [
    ['oci-layout://out', { dir: 'out', path: '/ws/out' }],
    ['oci-layout://out:v1.0', { dir: 'out', path: '/ws/out', tag: 'v1.0' }],
    [`oci-layout://out@sha256:${hex}`, { dir: 'out', path: '/ws/out', digest: `sha256:${hex}` }],
    ['oci-layout:///tmp/runner/layouts/amd64:latest', { dir: '/tmp/runner/layouts/amd64', path: '/tmp/runner/layouts/amd64', tag: 'latest' }],
    ['oci-layout://a:b/c', { dir: 'a:b/c', path: '/ws/a:b/c' }],
    ['oci-layout://../up:x', { dir: '../up', path: '/up', tag: 'x' }],
  ];
  for (const [line, want] of cases) {
    it(line, () => {
      assert.ok(isLayoutLine(line));
      const got = parseLayoutLine(line, 'sources', '/ws', roots);
      assert.deepEqual({ dir: got.dir, path: got.path, tag: got.tag, digest: got.digest }, { tag: undefined, digest: undefined, ...want });
    });
  }
  const bad: Array<[string, RegExp]> = [
    ['oci-layout://', /no directory/],
    ['oci-layout://:tag', /no directory/],
    ['oci-layout://out@sha256:abc', /a digest must be sha256:<64 lowercase hex>/],
    ['oci-layout://out:-bad', /'-bad' is not a tag/],
    ['oci-layout://out platform=linux/arm64', /options such as platform= do not apply/],
  ];
  for (const [line, why] of bad) {
    it(`refuses ${line}`, () => {
      assert.throws(
        () => parseLayoutLine(line, 'sources', '/ws', roots),
        (e: unknown) => e instanceof ActionError && e.kind === 'input' && e.message.startsWith(`Invalid source '${line}'`) && why.test(e.message) && /Expected oci-layout:\/\/DIR/.test(e.message),
      );
    });
  }
  it('is not a registry reference', () => {
    assert.equal(isLayoutLine('ghcr.io/acme/app:1'), false);
    assert.equal(isLayoutLine('oci:out'), false);
  });
});
