import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ActionError } from '../../../src/errors.ts';
import { getInputs, splitSources } from '../../../src/inputs.ts';
import { parseAnnotations } from '../../../src/oci/annotations.ts';
import { splitList } from '../../../src/list.ts';

const reader = (values: Record<string, string>) => (name: string) => values[name] ?? '';

describe('list inputs', () => {
  it('splits on newlines and commas, drops blanks and comments', () => {
    assert.deepEqual(splitList(' a\n\nb, c \n# note\n'), ['a', 'b', 'c']);
  });
  it('keeps commas that belong to os.features', () => {
    assert.deepEqual(splitSources('r/a:1 os.features=win32k,foo, r/b:1\nr/c:1'), ['r/a:1 os.features=win32k,foo', 'r/b:1', 'r/c:1']);
  });
});

describe('getInputs', () => {
  it('normalizes references and defaults', () => {
    const i = getInputs(reader({ sources: 'alpine:3\nghcr.io/o/app@sha256:' + 'a'.repeat(64), tags: 'ghcr.io/o/app:1, ghcr.io/o/app' }));
    assert.equal(i.sources[0]?.ref.toString(), 'docker.io/library/alpine:3');
    assert.equal(i.sources[1]?.ref.digest, `sha256:${'a'.repeat(64)}`);
    assert.deepEqual(i.tags.map(String), ['ghcr.io/o/app:1', 'ghcr.io/o/app:latest']);
    assert.equal(i.push, true);
    assert.equal(i.mediaType, 'auto');
    assert.equal(i.attestations, 'keep');
    assert.equal(i.referrers, 'copy');
    assert.equal(i.append, false);
    assert.equal(i.overwrite, true);
    assert.equal(getInputs(reader({ sources: 'r/a:1', tags: 'r/a:1', overwrite: 'false' })).overwrite, false);
  });
  it('reads per-source overrides', () => {
    const i = getInputs(reader({ sources: 'r.io/a:arm platform=linux/arm/v6\nr.io/w:1 os.version=10.0.17763.1 os.features=win32k variant=v8', tags: 'r.io/a:1' }));
    assert.deepEqual(i.sources[0]?.overrides.platform, { os: 'linux', architecture: 'arm', variant: 'v6' });
    assert.deepEqual(i.sources[1]?.overrides, { osVersion: '10.0.17763.1', osFeatures: ['win32k'], variant: 'v8' });
  });

  const bad: Array<[string, Record<string, string>, RegExp]> = [
    ['empty sources', { sources: ' \n', tags: 'r/a:1' }, /Invalid sources ' \n'. Expected at least one/],
    ['empty tags', { sources: 'r/a:1', tags: '' }, /Invalid tags ''/],
    ['malformed source', { sources: 'r/A b:1', tags: 'r/a:1' }, /Invalid source reference 'r\/A'/],
    ['uppercase repository', { sources: 'Foo/Bar:1', tags: 'r/a:1' }, /Invalid source reference 'Foo\/Bar:1'/],
    ['malformed digest', { sources: 'r/a@sha256:abc', tags: 'r/a:1' }, /Invalid source reference 'r\/a@sha256:abc'/],
    ['short digest', { sources: `r/a@sha256:${'c'.repeat(40)}`, tags: 'r/a:1' }, /Invalid source reference .*invalid checksum digest length/],
    ['digest as tag', { sources: 'r/a:1', tags: `r/a@sha256:${'b'.repeat(64)}` }, /Invalid tag .* not a digest/],
    ['unknown option key', { sources: 'r/a:1 platfrom=linux/amd64', tags: 'r/a:1' }, /Invalid source option 'platfrom=linux\/amd64'. Expected one of platform=…/],
    ['unknown platform', { sources: 'r/a:1 platform=linux/amd46', tags: 'r/a:1' }, /Invalid platform 'linux\/amd46'.*not 'amd46'/],
    ['unknown os', { sources: 'r/a:1 platform=lnux/amd64', tags: 'r/a:1' }, /Invalid platform 'lnux\/amd64'/],
    ['bad media-type', { sources: 'r/a:1', tags: 'r/a:1', 'media-type': 'v1' }, /Invalid media-type 'v1'. Expected one of auto, oci, docker/],
    ['bad attestations', { sources: 'r/a:1', tags: 'r/a:1', attestations: 'referrer' }, /Invalid attestations 'referrer'. Expected one of keep, drop, referrers$/],
    ['bad referrers', { sources: 'r/a:1', tags: 'r/a:1', referrers: 'yes' }, /Invalid referrers 'yes'. Expected one of copy, skip$/],
    ['bad push', { sources: 'r/a:1', tags: 'r/a:1', push: 'maybe' }, /Invalid push 'maybe'. Expected true or false/],
    ['bad overwrite', { sources: 'r/a:1', tags: 'r/a:1', overwrite: 'never' }, /Invalid overwrite 'never'. Expected true or false/],
    ['username without password', { sources: 'r/a:1', tags: 'r/a:1', username: 'u' }, /Invalid password/],
    ['bad require-platforms', { sources: 'r/a:1', tags: 'r/a:1', 'require-platforms': 'linux/*' }, /Invalid require-platforms 'linux\/\*'/],
    ['bad annotation', { sources: 'r/a:1', tags: 'r/a:1', annotations: 'novalue' }, /Invalid annotation 'novalue'/],
  ];
  it('reads every attestations and referrers choice, in any case', () => {
    for (const choice of ['keep', 'drop', 'referrers', 'Referrers']) assert.equal(getInputs(reader({ sources: 'r/a:1', tags: 'r/a:1', attestations: choice })).attestations, choice.toLowerCase());
    for (const choice of ['copy', 'skip', 'SKIP']) assert.equal(getInputs(reader({ sources: 'r/a:1', tags: 'r/a:1', referrers: choice })).referrers, choice.toLowerCase());
  });
  for (const [name, values, message] of bad) {
    it(`fails on ${name}, quoting the value`, () => {
      assert.throws(() => getInputs(reader(values)), (e: unknown) => e instanceof ActionError && e.kind === 'input' && message.test(e.message));
    });
  }
});

describe('annotations (docker/metadata-action format)', () => {
  it('sorts lines by level', () => {
    const a = parseAnnotations('org.opencontainers.image.title=app\nindex:org.opencontainers.image.version=1\nmanifest:org.x=skip\nmanifest-descriptor:org.y=d\nindex[linux/amd64]:org.z=z');
    assert.deepEqual(a.indexAnnotations, { 'org.opencontainers.image.title': 'app', 'org.opencontainers.image.version': '1', 'org.z': 'z' });
    assert.deepEqual(a.descriptorAnnotations, [{ key: 'org.y', value: 'd' }]);
    assert.deepEqual(a.skippedAnnotations, ['manifest:org.x=skip']);
  });
});

// Finding 8 of issue 23: tags named like the referrers fallback or a cosign tag overwrote another
// image's signatures and referrers index.
describe('reserved tags', () => {
  const h = 'ab'.repeat(32);
  const refused = [`sha256-${h}`, `sha512-${h}`, `sha256-${h}.sig`, `sha256-${h}.att`, `sha256-${h}.sbom`];
  for (const tag of refused) {
    it(`refuses ${tag.slice(0, 14)}…${tag.slice(70)}, naming it`, () => {
      assert.throws(
        () => getInputs(reader({ sources: 'r.io/a:1', tags: `r.io/app:ok,r.io/app:${tag}` })),
        (e: unknown) => e instanceof ActionError && e.kind === 'input' && e.message.startsWith(`Invalid tag 'r.io/app:${tag}'`),
      );
    });
  }
  it('names every reserved tag at once', () => {
    assert.throws(() => getInputs(reader({ sources: 'r.io/a:1', tags: `r.io/app:sha256-${h}, r.io/b:sha256-${h}.sig` })), new RegExp(`Invalid tags 'r\\.io/app:sha256-${h}, r\\.io/b:sha256-${h}\\.sig'`));
  });
  const allowed = [`sha256-${h.slice(0, 12)}`, `sha256-${h}x`, `sha256-${h}.sig2`, `sha384-${h}`, `sha256-${h.toUpperCase()}`, 'sha256-latest'];
  for (const tag of allowed) {
    it(`allows ${tag.slice(0, 24)}`, () => assert.equal(getInputs(reader({ sources: 'r.io/a:1', tags: `r.io/app:${tag}` })).tags[0]?.tag, tag));
  }
});

// Finding 4 of issue 23: /proc/self/environ printed the password input before it was masked.
describe('the password input', () => {
  it('is masked before any other input is read', async () => {
    const { setLogger, actionsLogger, consoleLogger } = await import('../../../src/log.ts');
    const events: string[] = [];
    const base = consoleLogger({ stream: { write: () => true } as unknown as NodeJS.WritableStream });
    setLogger({ ...base, setSecret: (s: string) => events.push(`mask ${s}`) });
    try {
      const values: Record<string, string> = { sources: 'r.io/a:1', tags: 'r.io/app:1', username: 'u', password: 'hunter2-secret-value' };
      getInputs((name) => {
        events.push(`read ${name}`);
        return values[name] ?? '';
      });
    } finally {
      setLogger(actionsLogger);
    }
    assert.deepEqual(events.slice(0, 2), ['read password', 'mask hunter2-secret-value']);
  });
});
