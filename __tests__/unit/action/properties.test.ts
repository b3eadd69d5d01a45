import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ActionError } from '../../../src/errors.ts';
import { formatPlatformAll, parsePlatform } from '../../../src/oci/platform.ts';
import { parse, parseNormalizedNamed, parseDockerRef } from '../../../src/oci/reference.ts';
import { parseChallenges } from '../../../src/registry/challenge.ts';

const runs = { numRuns: 2000 };

/** Only the project's own error type may escape a parser. */
function onlyActionErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof ActionError)) throw e;
  }
}

const lower = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'.split(''));
const component = fc
  .array(fc.stringMatching(/^[a-z0-9]{1,6}$/), { minLength: 1, maxLength: 3 })
  .chain((parts) => fc.array(fc.constantFrom('.', '_', '__', '-', '--'), { minLength: parts.length - 1, maxLength: parts.length - 1 }).map((seps) => parts.map((p, i) => (i ? (seps[i - 1] as string) : '') + p).join('')));
const domain = fc.oneof(
  fc.constant(''),
  fc.constantFrom('localhost', 'ghcr.io', 'registry.example.com', '127.0.0.1', '[::1]'),
  fc.tuple(fc.stringMatching(/^[a-z][a-z0-9-]{0,8}[a-z0-9]$/), fc.constantFrom('.io', '.com', '.internal')).map(([a, b]) => a + b),
);
const port = fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined });
const tag = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}$/);
const digest = fc.stringMatching(/^[a-f0-9]{64}$/).map((h) => `sha256:${h}`);
const reference = fc
  .record({ domain, port, path: fc.array(component, { minLength: 1, maxLength: 3 }), tag: fc.option(tag, { nil: undefined }), digest: fc.option(digest, { nil: undefined }) })
  .filter((r) => !(r.domain === '' && r.port !== undefined));

describe('property: reference parser', () => {
  it('throws nothing but ActionError on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        onlyActionErrors(() => parse(s));
        onlyActionErrors(() => parseNormalizedNamed(s));
        onlyActionErrors(() => parseDockerRef(s));
      }),
      runs,
    );
  });
  it('throws nothing but ActionError on reference-like strings', () => {
    const referenceish = fc.array(fc.constantFrom(...'aZ0:/@._-[]'.split(''), 'sha256:', 'localhost', lower), { maxLength: 40 }).map((a) => a.join(''));
    fc.assert(fc.property(referenceish, (s) => onlyActionErrors(() => parseNormalizedNamed(s))), runs);
  });
  it('formatting a parsed reference and parsing it again gives the same reference', () => {
    fc.assert(
      fc.property(reference, (r) => {
        const host = r.domain ? `${r.domain}${r.port !== undefined ? `:${r.port}` : ''}/` : '';
        const text = `${host}${r.path.join('/')}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
        const parsed = parseNormalizedNamed(text);
        const again = parseNormalizedNamed(parsed.toString());
        assert.deepEqual({ ...again }, { ...parsed });
        assert.equal(again.toString(), parsed.toString());
      }),
      runs,
    );
  });
});

describe('property: platform parser', () => {
  it('throws nothing but ActionError on arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ maxLength: 80 }), (s) => onlyActionErrors(() => parsePlatform(s))), runs);
  });
  it('FormatAll then Parse gives the same platform', () => {
    const os = fc.constantFrom('linux', 'windows', 'darwin', 'freebsd');
    const arch = fc.constantFrom('amd64', 'arm64', 'arm', '386', 'ppc64le', 's390x', 'riscv64');
    const variant = fc.constantFrom(undefined, 'v5', 'v6', 'v7', 'v8', 'v2', 'v3');
    // '*' is refused anywhere in a specifier (containerd: wildcards not supported), so not generated.
    const text = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !s.includes('*'));
    fc.assert(
      fc.property(os, arch, variant, fc.option(text, { nil: undefined }), fc.array(text, { maxLength: 3 }), (o, a, v, version, features) => {
        const parsed = parsePlatform(`${o}/${a}${v ? `/${v}` : ''}`);
        const withOptions = { ...parsed, ...(version ? { 'os.version': version } : {}), ...(features.length ? { 'os.features': [...features].sort() } : {}) };
        const round = parsePlatform(formatPlatformAll(withOptions));
        assert.deepEqual(round, withOptions);
      }),
      runs,
    );
  });
});

describe('property: challenge parser', () => {
  it('never throws, and every challenge has a lower-case scheme', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        for (const c of parseChallenges(s)) assert.equal(c.scheme, c.scheme.toLowerCase());
      }),
      runs,
    );
  });
  it('formatting parameters as quoted strings and parsing them again gives them back', () => {
    const key = fc.stringMatching(/^[a-z][a-z_]{0,8}$/);
    const value = fc.string({ maxLength: 30 });
    fc.assert(
      fc.property(fc.constantFrom('Bearer', 'Basic', 'bearer'), fc.dictionary(key, value, { maxKeys: 5 }), (scheme, params) => {
        const header = `${scheme} ${Object.entries(params).map(([k, v]) => `${k}="${v.replace(/["\\]/g, (c) => `\\${c}`)}"`).join(',')}`;
        const [c] = parseChallenges(header);
        assert.equal(c?.scheme, scheme.toLowerCase());
        assert.deepEqual(Object.entries(c?.parameters ?? {}), Object.entries(params));
      }),
      runs,
    );
  });
});
