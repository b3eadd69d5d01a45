import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ActionError } from '../../src/errors.ts';
import { getInputs } from '../../src/inputs.ts';
import { parsePlatform } from '../../src/oci/platform.ts';
import { parseNormalizedNamed } from '../../src/oci/reference.ts';
import { expandTemplates, sourceLinesOfFile } from '../../src/sources.ts';

const reader = (values: Record<string, string>) => (name: string) => values[name] ?? '';
const hex = (c: string) => c.repeat(64);

describe('platform templates', () => {
  const cases: Array<[string, string, string[], string[]]> = [
    ['os, arch and an empty or present variant', 'app:1.0-{os}-{arch}{variant}', ['linux/amd64', 'linux/arm/v7'], ['app:1.0-linux-amd64', 'app:1.0-linux-armv7']],
    ['every placeholder more than once', 'r.io/{os}/app:{arch}-{arch}', ['linux/arm64'], ['r.io/linux/app:arm64-arm64']],
    ['options after the reference are kept', 'app:{arch} os.version=10.0.1', ['windows/amd64'], ['app:amd64 os.version=10.0.1']],
  ];
  for (const [name, line, platforms, want] of cases) {
    it(name, () => {
      const got = expandTemplates([{ line, origin: 'sources' }], platforms.map(parsePlatform));
      assert.deepEqual(got.map((l) => l.line), want);
      assert.deepEqual(got.map((l) => l.templatePlatform), platforms.map(parsePlatform));
    });
  }
  it('leaves lines without placeholders alone, in order', () => {
    const got = expandTemplates([{ line: 'a:1', origin: 'sources' }, { line: 'b:{arch}', origin: 'sources' }, { line: 'c:1', origin: 'f' }], [parsePlatform('linux/s390x')]);
    assert.deepEqual(got.map((l) => [l.line, l.origin, l.templatePlatform?.architecture]), [['a:1', 'sources', undefined], ['b:s390x', 'sources', 's390x'], ['c:1', 'f', undefined]]);
  });
  const bad: Array<[string, string[], string[], RegExp]> = [
    ['a template without platforms', ['app:{arch}'], [], /Invalid source 'app:\{arch\}'\. Expected the platforms input/],
    ['platforms without a template', ['app:1'], ['linux/amd64'], /Invalid platforms 'linux\/amd64'\. Expected a sources line with \{os\}/],
    ['platform= on a template line', ['app:{arch} platform=linux/arm64'], ['linux/amd64'], /Expected no platform= option on a template line/],
  ];
  for (const [name, lines, platforms, message] of bad) {
    it(`refuses ${name}`, () => {
      assert.throws(() => expandTemplates(lines.map((line) => ({ line, origin: 'sources' })), platforms.map(parsePlatform)), (e: unknown) => e instanceof ActionError && e.kind === 'input' && message.test(e.message));
    });
  }
  it('template sources carry their platform as an override that still reads the config', () => {
    const i = getInputs(reader({ sources: 'r.io/app:1.0-{os}-{arch}{variant}', platforms: 'linux/amd64, linux/arm64\nlinux/arm/v7', tags: 'r.io/app:1.0' }));
    assert.deepEqual(i.sources.map((s) => s.ref.toString()), ['r.io/app:1.0-linux-amd64', 'r.io/app:1.0-linux-arm64', 'r.io/app:1.0-linux-armv7']);
    assert.deepEqual(i.sources[2]?.overrides, { platform: { os: 'linux', architecture: 'arm', variant: 'v7' }, platformFromTemplate: true });
  });
  it('refuses an unknown platform in platforms', () => {
    assert.throws(() => getInputs(reader({ sources: 'r.io/app:{arch}', platforms: 'linux/amd46', tags: 'r.io/app:1' })), /Invalid platforms 'linux\/amd46'/);
  });
});

describe('source files: what one file adds', () => {
  const tag = parseNormalizedNamed('ghcr.io/acme/app:1.0');
  const cases: Array<[string, string, string, string[]]> = [
    ['an empty digest-named file', hex('a'), '', [`ghcr.io/acme/app@sha256:${hex('a')}`]],
    ['a digest-named file holding only a newline', hex('b'), '\n', [`ghcr.io/acme/app@sha256:${hex('b')}`]],
    [
      'build-push-action metadata: the name on the first tag’s registry, tag dropped',
      'metadata.json',
      JSON.stringify({ 'containerimage.digest': `sha256:${hex('c')}`, 'image.name': 'docker.io/acme/app:1.0,ghcr.io/acme/app:1.0' }),
      [`ghcr.io/acme/app@sha256:${hex('c')}`],
    ],
    [
      'build-push-action metadata: else the first name',
      'meta',
      JSON.stringify({ 'containerimage.digest': `sha256:${hex('d')}`, 'image.name': 'acme/app, quay.io/acme/app' }),
      [`acme/app@sha256:${hex('d')}`],
    ],
    ['a list file: every non-empty line, overrides kept, comments dropped', 'refs.txt', '# built\nr.io/a:1 platform=linux/arm/v6\n\n  r.io/b:1  \n', ['r.io/a:1 platform=linux/arm/v6', 'r.io/b:1']],
    ['a digest-named file that is not empty is a list', hex('e'), 'r.io/c:1\n', ['r.io/c:1']],
    ['an uppercase hex name is not a digest file (read as an empty list)', 'A'.repeat(64), '', []],
  ];
  for (const [name, base, content, want] of cases) {
    it(name, () => assert.deepEqual(sourceLinesOfFile(base, content, tag, base), want));
  }
  const bad: Array<[string, string, RegExp]> = [
    ['metadata that is not JSON', '{ "containerimage.digest": ', /not JSON/],
    ['metadata without a digest', JSON.stringify({ 'image.name': 'a/b' }), /Expected docker\/build-push-action's metadata with "containerimage.digest"/],
    ['metadata with a malformed digest', JSON.stringify({ 'containerimage.digest': 'sha256:abc', 'image.name': 'a/b' }), /containerimage.digest/],
  ];
  for (const [name, content, message] of bad) {
    it(`refuses ${name}`, () => assert.throws(() => sourceLinesOfFile('m.json', content, tag, 'm.json'), message));
  }
});

describe('source-files input', () => {
  const workspace = mkdtempSync(join(tmpdir(), 'source-files-'));
  after(() => rmSync(workspace, { recursive: true, force: true }));
  mkdirSync(join(workspace, 'digests'));
  writeFileSync(join(workspace, 'digests', hex('2')), '');
  writeFileSync(join(workspace, 'digests', hex('1')), '');
  writeFileSync(join(workspace, 'extra.txt'), 'r.io/x:1 variant=v8\n');

  it('reads globs and paths in sorted order after the sources input, naming each file', () => {
    const i = getInputs(reader({ sources: 'r.io/first:1', 'source-files': 'digests/*\nextra.txt', tags: 'r.io/app:1.0' }), { workspace });
    assert.deepEqual(
      i.sources.map((s) => [s.ref.toString(), s.origin]),
      [
        ['r.io/first:1', 'sources'],
        [`r.io/app@sha256:${hex('1')}`, join('digests', hex('1'))],
        [`r.io/app@sha256:${hex('2')}`, join('digests', hex('2'))],
        ['r.io/x:1', 'extra.txt'],
      ],
    );
    assert.deepEqual(i.sources[3]?.overrides, { variant: 'v8' });
  });
  it('makes sources optional', () => {
    const i = getInputs(reader({ 'source-files': 'digests/*', tags: 'r.io/app:1.0' }), { workspace });
    assert.equal(i.sources.length, 2);
  });
  it('fails when a pattern matches nothing', () => {
    assert.throws(() => getInputs(reader({ 'source-files': 'missing/*', tags: 'r.io/app:1.0' }), { workspace }), /Invalid source-files 'missing\/\*'\. Expected it to match at least one file/);
  });
  it('still wants one source in all', () => {
    writeFileSync(join(workspace, 'empty.txt'), '\n# nothing\n');
    assert.throws(() => getInputs(reader({ 'source-files': 'empty.txt', tags: 'r.io/app:1.0' }), { workspace }), /Expected at least one image reference in sources or the source-files/);
  });
});
