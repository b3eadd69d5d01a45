import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ActionError } from '../../../src/errors.ts';
import { getInputs } from '../../../src/inputs.ts';
import { parsePlatform } from '../../../src/oci/platform.ts';
import { parseNormalizedNamed } from '../../../src/oci/reference.ts';
import { MAX_RESULT_ENTRIES } from '../../../src/budgets.ts';
import { MAX_FILE_BYTES, MAX_FILE_LINES } from '../../../src/files.ts';
import { RepositoryRule, expandTemplates, sourceLinesOfFile } from '../../../src/sources.ts';

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
  it('platforms without a template line leaves the lines alone (it selects what they contribute)', () => {
    const got = expandTemplates([{ line: 'app:1', origin: 'sources' }], [parsePlatform('linux/amd64')]);
    assert.deepEqual(got, [{ line: 'app:1', origin: 'sources' }]);
    const i = getInputs(reader({ sources: 'r.io/app:1', platforms: 'linux/amd64,linux/arm64', tags: 'r.io/app:2' }));
    assert.deepEqual(i.platforms, [parsePlatform('linux/amd64'), parsePlatform('linux/arm64')]);
    assert.deepEqual(i.sources[0]?.overrides, {});
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
    ['an uppercase hex name is not a digest file (read as an empty list)', 'A'.repeat(64), '', []],
  ];
  for (const [name, base, content, want] of cases) {
    it(name, () => assert.deepEqual(sourceLinesOfFile(base, content, tag, base).map((l) => l.line), want));
  }
  const bad: Array<[string, string, RegExp]> = [
    ['metadata that is not JSON', '{ "containerimage.digest": ', /not JSON/],
    ['metadata without a digest', JSON.stringify({ 'image.name': 'a/b' }), /Expected docker\/build-push-action's metadata with "containerimage.digest"/],
    ['metadata with a malformed digest', JSON.stringify({ 'containerimage.digest': 'sha256:abc', 'image.name': 'a/b' }), /containerimage.digest/],
  ];
  for (const [name, content, message] of bad) {
    it(`refuses ${name}`, () => assert.throws(() => sourceLinesOfFile('m.json', content, tag, 'm.json'), message));
  }
  // Finding 3 of issue 23: a digest-named artifact with content chose what was published.
  it('refuses a digest-named file that is not empty, naming it', () => {
    assert.throws(() => sourceLinesOfFile(hex('e'), 'r.io/c:1\n', tag, `digests/${hex('e')}`), (e: unknown) => e instanceof ActionError && e.message.includes(`digests/${hex('e')}`) && /named by a digest but is not empty/.test(e.message) && !e.message.includes('r.io/c'));
  });
  it('numbers the lines of a list file', () => {
    assert.deepEqual(sourceLinesOfFile('l.txt', '# c\n\nr.io/a:1\nr.io/b:1\n', tag, 'l.txt'), [
      { line: 'r.io/a:1', lineNumber: 3 },
      { line: 'r.io/b:1', lineNumber: 4 },
    ]);
  });
});

describe('source-files input', () => {
  const workspace = mkdtempSync(join(tmpdir(), 'source-files-'));
  after(() => rmSync(workspace, { recursive: true, force: true }));
  mkdirSync(join(workspace, 'digests'));
  writeFileSync(join(workspace, 'digests', hex('2')), '');
  writeFileSync(join(workspace, 'digests', hex('1')), '');
  writeFileSync(join(workspace, 'extra.txt'), 'r.io/x:1 variant=v8\n');

  it('reads globs and paths in sorted order after the sources input, naming each file', () => {
    const i = getInputs(reader({ sources: 'r.io/first:1', 'source-files': 'digests/*\nextra.txt', tags: 'r.io/app:1.0', 'source-files-repositories': 'r.io/x' }), { workspace });
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

// Findings 3 and 4 of issue 23: files are read as files, from the job's folders, bounded; and an
// artifact cannot name repositories the workflow did not.
describe('source-files: the file rules', () => {
  const workspace = mkdtempSync(join(tmpdir(), 'source-rules-'));
  const outside = mkdtempSync(join(tmpdir(), 'source-outside-'));
  after(() => {
    rmSync(workspace, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });
  writeFileSync(join(outside, 'secret.txt'), 'TOKEN-abc123-very-secret\n');
  writeFileSync(join(workspace, 'ok.txt'), 'r.io/app:amd64\n');
  symlinkSync(join(outside, 'secret.txt'), join(workspace, 'link.txt'));
  symlinkSync('/proc/self/environ', join(workspace, 'environ'));
  symlinkSync(outside, join(workspace, 'outdir'));
  execFileSync('mkfifo', [join(workspace, 'fifo')]);
  writeFileSync(join(workspace, 'big.txt'), `${'r.io/app:1 '.repeat(Math.ceil(MAX_FILE_BYTES / 11))}\n`);
  writeFileSync(join(workspace, 'long.txt'), 'r.io/app:1\n'.repeat(MAX_FILE_LINES + 1));
  writeFileSync(join(workspace, 'bad.txt'), 'r.io/app:1\nNOT/A:VALID:REF this-is-private-text\n');
  writeFileSync(join(workspace, 'badopt.txt'), 'r.io/app:1 flavour=private-text\n');
  writeFileSync(join(workspace, 'other.txt'), 'r.io/app:1\nprivate.io/secret/image:release\n');
  const tags = 'r.io/app:1.0';
  const read = (files: string, extra: Record<string, string> = {}) => () => getInputs(reader({ 'source-files': files, tags, ...extra }), { workspace });
  const refused = (files: string, message: RegExp, absent: string[] = []) => (e: unknown) =>
    e instanceof ActionError && e.kind === 'input' && message.test(e.message) && absent.every((a) => !e.line.includes(a));

  it('reads a regular file under the workspace', () => assert.equal(read('ok.txt')().sources[0]?.ref.toString(), 'r.io/app:amd64'));
  const cases: Array<[string, string, RegExp]> = [
    ['a symlink to a file outside the workspace', 'link.txt', /Invalid file 'link\.txt': it is a symbolic link/],
    ['a symlink to procfs', 'environ', /Invalid file 'environ': it is a symbolic link/],
    ['a symlink matched by a glob', 'l*.txt', /Invalid file 'link\.txt': it is a symbolic link/],
    ['a FIFO (read without waiting)', 'fifo', /Invalid file 'fifo': it is not a regular file/],
    ['a file whose real path is outside (through a symlinked folder)', 'outdir/secret.txt', /Invalid file 'outdir\/secret\.txt': it lies outside the workspace/],
    ['an absolute path outside the roots', '/proc/self/environ', /Invalid file '\/proc\/self\/environ': it lies outside the workspace/],
    ['a file over the size bound', 'big.txt', /Invalid file 'big\.txt': it has \d+ bytes, more than the 1048576 read/],
    ['a file over the line bound', 'long.txt', /Invalid file 'long\.txt': it has more than the 1000 lines read/],
  ];
  for (const [name, files, message] of cases) {
    it(`refuses ${name}, quoting none of its content`, () => assert.throws(read(files), refused(files, message, ['TOKEN-abc123', 'PATH='])));
  }
  it('names the file and line of a bad reference and quotes only the reference', () => {
    assert.throws(read('bad.txt'), refused('bad.txt', /^Invalid source reference "NOT\/A:VALID:REF" in bad\.txt line 2\./, ['private-text']));
    assert.throws(read('badopt.txt'), refused('badopt.txt', /^Invalid source option after "r\.io\/app:1" in badopt\.txt line 1\./, ['private-text']));
  });
  it('refuses a reference to a repository the inputs do not name, naming file and line', () => {
    assert.throws(read('other.txt'), refused('other.txt', /^Invalid source "private\.io\/secret\/image:release" in other\.txt line 2: repository private\.io\/secret\/image is named by neither the tags nor the sources input/));
  });
  it('allows the repositories of the sources input and of source-files-repositories patterns', () => {
    assert.equal(read('other.txt', { sources: 'private.io/secret/image:x' })().sources.length, 3);
    assert.equal(read('other.txt', { 'source-files-repositories': 'private.io/secret/*' })().sources.length, 2);
    assert.equal(read('other.txt', { 'source-files-repositories': 'private.io/**' })().sources.length, 2);
    assert.throws(read('other.txt', { 'source-files-repositories': 'private.io/*' }), /named by neither/);
    assert.throws(read('other.txt', { 'source-files-repositories': 'Private.io/[x]' }), /Invalid source-files-repositories/);
  });
});

describe('repository patterns', () => {
  const cases: Array<[string, string, boolean]> = [
    ['ghcr.io/acme/*', 'ghcr.io/acme/app:1', true],
    ['ghcr.io/acme/*', 'ghcr.io/acme/team/app:1', false],
    ['ghcr.io/acme/**', 'ghcr.io/acme/team/app:1', true],
    ['ghcr.io/acme/ap?', 'ghcr.io/acme/app:1', true],
    ['ghcr.io/acme/app', 'ghcr.io/acme/app2:1', false],
    ['alpine', 'alpine:3', true],
    ['acme/*', 'docker.io/acme/app:1', true],
    ['localhost:5000/*', 'localhost:5000/app:1', true],
    ['r.io/a.b', 'r.io/axb:1', false],
  ];
  for (const [pattern, ref, allowed] of cases) {
    it(`${pattern} ${allowed ? 'allows' : 'does not allow'} ${ref}`, () => assert.equal(new RepositoryRule([], [pattern]).allows(parseNormalizedNamed(ref)), allowed));
  }
});

// Finding 1 of issue 23 (the per-result cap, before any request): source lines are bounded too.
describe('source lines are bounded', () => {
  const workspace = mkdtempSync(join(tmpdir(), 'source-cap-'));
  after(() => rmSync(workspace, { recursive: true, force: true }));
  writeFileSync(join(workspace, 'many.txt'), Array.from({ length: MAX_RESULT_ENTRIES + 1 }, (_, i) => `r.io/app:v${i}`).join('\n'));
  it(`refuses more than ${MAX_RESULT_ENTRIES} lines from files, naming where the count was passed`, () => {
    assert.throws(() => getInputs(reader({ 'source-files': 'many.txt', tags: 'r.io/app:1' }), { workspace }), new RegExp(`too many source lines: more than ${MAX_RESULT_ENTRIES} \\(at many\\.txt line ${MAX_RESULT_ENTRIES + 1}\\), more than the ${MAX_RESULT_ENTRIES}`));
  });
  it('refuses too many template expansions', () => {
    const sources = Array.from({ length: MAX_RESULT_ENTRIES / 2 + 1 }, (_, i) => `r.io/app:v${i}-{arch}`).join('\n');
    assert.throws(() => getInputs(reader({ sources, platforms: 'linux/amd64,linux/arm64', tags: 'r.io/app:1' })), new RegExp(`too many source lines: ${MAX_RESULT_ENTRIES + 2}, more than the ${MAX_RESULT_ENTRIES}`));
  });
});
