import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { projectRoot } from '../../helpers/action.ts';
import { skopeo } from '../../helpers/clients.ts';
import { getManifestBytes, pushBuildxStyle, pushImage, putManifest, sha256 } from '../../helpers/images.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';

const exec = promisify(execFile);
const cli = (args: string[], env: Record<string, string> = {}) => exec(process.execPath, [join(projectRoot, 'dist/cli/index.js'), ...args], { env: { ...process.env, DOCKER_CONFIG: '/nonexistent', ...env } });
/** Exit code, stdout and stderr of a run, whatever the exit code. */
const run = (args: string[]) =>
  cli(args).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
const keys = (o: object) => Object.keys(o).sort();
const PUBLISH_KEYS = ['digest', 'images', 'manifest', 'mediaType', 'platforms', 'pushed', 'status', 'tags', 'unchanged'];
const INSPECT_KEYS = ['digest', 'entries', 'kind', 'layers', 'manifest', 'mediaType', 'name', 'platform', 'selected'];
const ENTRY_KEYS = ['annotations', 'digest', 'layers', 'mediaType', 'platform', 'size'];

describe('command-line usage (dist/cli, no registry)', () => {
  const help: Array<[string[], RegExp]> = [
    [['--help'], /^multiarch-manifest: publish and inspect/],
    [['-h'], /^multiarch-manifest: publish and inspect/],
    [['help'], /^multiarch-manifest: publish and inspect/],
    [['publish', '--help'], /^Usage: multiarch-manifest publish --source REF/],
    [['publish', '-h', '--source', 'x'], /^Usage: multiarch-manifest publish/],
    [['help', 'publish'], /^Usage: multiarch-manifest publish/],
    [['inspect', '--help'], /^Usage: multiarch-manifest inspect REF/],
    [['help', 'inspect'], /^Usage: multiarch-manifest inspect/],
  ];
  for (const [args, usage] of help) {
    it(`${args.join(' ')} prints that help on stdout and exits 0`, async () => {
      const r = await run(args);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, usage);
      assert.equal(r.stderr, '');
    });
  }
  it('publish --help documents --dry-run, --json and the three outcomes', async () => {
    const { stdout } = await run(['publish', '--help']);
    for (const want of ['--dry-run', '--json', '"unchanged DIGEST"', '"would publish DIGEST"', '-h, --help']) assert.ok(stdout.includes(want), want);
  });
  it('inspect --help says what --platform does on a single image', async () => {
    assert.match((await run(['inspect', '--help'])).stdout, /a single image: check that it runs on P, exit 1 when it does not/);
  });
  it('--version prints package.json version and exits 0', async () => {
    const { version } = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8'));
    for (const args of [['--version'], ['version']]) assert.deepEqual(await run(args), { code: 0, stdout: `${version}\n`, stderr: '' });
  });
  const usageErrors: Array<[string[], RegExp]> = [
    [[], /^multiarch-manifest: publish and inspect/],
    [['frobnicate'], /^error: unknown command 'frobnicate'\nRun 'multiarch-manifest --help' for usage\.\n$/],
    [['--dry-run'], /^error: unknown option '--dry-run' \(options follow the command\)/],
    [['publish', '--bogus'], /^error: Unknown option '--bogus'.*\nRun 'multiarch-manifest publish --help' for usage\.\n$/],
    [['publish', '--source'], /^error: Option '--source <value>' argument missing/],
    [['publish', '--tag', 'r.io/a:1'], /^error: publish needs at least one --source or --source-file\n/],
    [['publish', '--source', 'r.io/a:1'], /^error: publish needs at least one --tag\n/],
    [['publish', '--source', 'r.io/a:1', '--tag', 'r.io/a:2', 'stray'], /^error: Unexpected argument 'stray'/],
    [['publish', '--source', 'r.io/a:1', '--tag', 'r.io/a:2', '--dry-run', '--push=true'], /^error: --dry-run contradicts --push=true/],
    [['publish', '--source', 'r.io/a:1', '--tag', 'r.io/a:2', '--password-stdin'], /^error: --password-stdin needs --username/],
    [['inspect'], /^error: inspect needs an image reference\nRun 'multiarch-manifest inspect --help' for usage\.\n$/],
    [['inspect', 'a', 'b'], /^error: inspect takes one image reference, got 2/],
    [['inspect', '--platform'], /^error: Option '--platform <value>' argument missing/],
    [['help', 'nope'], /^error: no help for 'nope'/],
  ];
  for (const [args, message] of usageErrors) {
    it(`usage error exits 2: ${args.join(' ') || '(no arguments)'}`, async () => {
      const r = await run(args);
      assert.equal(r.code, 2);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, message);
    });
  }
});

describe('command-line entry (dist/cli)', () => {
  let reg: RunningRegistry;
  before(async () => {
    reg = await startRegistry();
    await pushImage({ url: reg.url }, 'cli/app', 'amd64', { os: 'linux', architecture: 'amd64' });
    await pushImage({ url: reg.url }, 'cli/app', 'arm', { os: 'linux', architecture: 'arm', variant: 'v7' });
    await pushBuildxStyle({ url: reg.url }, 'cli/bx', 'arm64', { os: 'linux', architecture: 'arm64' });
  });
  after(async () => reg?.stop());

  it('publish runs the same code as the action', async () => {
    const { stdout } = await cli(['publish', '--source', `${reg.host}/cli/app:amd64`, '--source', `${reg.host}/cli/app:arm`, '--tag', `${reg.host}/cli/app:1`, '--json']);
    const result = JSON.parse(stdout);
    assert.deepEqual(result.platforms, ['linux/amd64', 'linux/arm/v7']);
    assert.equal(sha256((await getManifestBytes({ url: reg.url }, 'cli/app', '1')).bytes), result.digest);
    assert.equal(result.manifest.manifests.length, 2);
  });

  it('publish --source-file, --platforms templates and --ignore-missing mirror the action inputs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-sources-'));
    try {
      writeFileSync(join(dir, 'refs.txt'), `${reg.host}/cli/bx:arm64\n`);
      const { stdout, stderr } = await cli(['publish', '--source-file', join(dir, 'refs.txt'), '--source', `${reg.host}/cli/app:{arch}`, '--source-file-repository', `${reg.host}/cli/bx`, '--platforms', 'linux/arm/v7,linux/ppc64le,linux/arm64', '--ignore-missing', '--tag', `${reg.host}/cli/app:files`, '--json'], { RUNNER_TEMP: dir });
      assert.deepEqual(JSON.parse(stdout).platforms, ['linux/arm/v7', 'linux/arm64']);
      assert.match(stderr, /warning: source .*cli\/app:ppc64le does not exist; left out \(ignore-missing\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('publish --platforms keeps those platforms of an index source, and refuses an image of another', async () => {
    await cli(['publish', '--source', `${reg.host}/cli/app:amd64`, '--source', `${reg.host}/cli/app:arm`, '--tag', `${reg.host}/cli/app:both`]);
    const { stdout } = await cli(['publish', '--source', `${reg.host}/cli/app:both`, '--platforms', 'linux/arm/v7', '--tag', `${reg.host}/cli/app:arm-only`, '--json']);
    assert.deepEqual(JSON.parse(stdout).platforms, ['linux/arm/v7']);
    const refused = await run(['publish', '--source', `${reg.host}/cli/app:amd64`, '--platforms', 'linux/arm64', '--tag', `${reg.host}/cli/app:refused`]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /is an image of linux\/amd64, which platforms does not list \(linux\/arm64\)/);
  });

  it('publish --metadata-file writes the action\'s metadata output', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-metadata-'));
    try {
      const file = join(dir, 'metadata.json');
      const { stdout } = await cli(['publish', '--source', `${reg.host}/cli/app:amd64`, '--tag', `${reg.host}/cli/app:meta`, '--metadata-file', file, '--json']);
      const result = JSON.parse(stdout);
      const metadata = JSON.parse(readFileSync(file, 'utf8'));
      assert.equal(metadata['containerimage.digest'], result.digest);
      assert.deepEqual(metadata['containerimage.descriptor'], { mediaType: result.mediaType, digest: result.digest, size: (await getManifestBytes({ url: reg.url }, 'cli/app', 'meta')).bytes.length });
      assert.equal(metadata['image.name'], `${reg.host}/cli/app:meta`);
      assert.deepEqual(metadata.tags, [`${reg.host}/cli/app:meta`]);
      assert.deepEqual(Object.keys(metadata['platform-digests']), ['linux/amd64']);
      assert.deepEqual(metadata.referrers, []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('publish takes an oci-layout:// source as the action does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-layout-'));
    try {
      await skopeo(['copy', '--src-tls-verify=false', `docker://${reg.host}/cli/app:arm`, `oci:${join(dir, 'arm')}:arm`]);
      const { stdout } = await cli(['publish', '--source', `oci-layout://${join(dir, 'arm')}:arm`, '--tag', `${reg.host}/cli/from-layout:1`, '--json'], { RUNNER_TEMP: dir });
      const result = JSON.parse(stdout);
      assert.deepEqual(result.platforms, ['linux/arm/v7']);
      assert.equal(sha256((await getManifestBytes({ url: reg.url }, 'cli/from-layout', '1')).bytes), result.digest);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('publish --referrers takes the input values and refuses others with the action’s message', async () => {
    const r = await run(['publish', '--source', `${reg.host}/cli/app:amd64`, '--tag', `${reg.host}/cli/app:refs`, '--referrers', 'maybe', '--dry-run']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Invalid referrers 'maybe'\. Expected one of copy, skip/);
    const ok = await run(['publish', '--source', `${reg.host}/cli/app:amd64`, '--tag', `${reg.host}/cli/app:refs`, '--referrers', 'skip', '--dry-run']);
    assert.equal(ok.code, 0, ok.stderr);
  });

  it('publish --push=false and --dry-run write nothing and say so', async () => {
    for (const flag of ['--push=false', '--dry-run']) {
      const before = await reg.mark();
      const { stdout } = await cli(['publish', '--source', `${reg.host}/cli/app:amd64`, '--tag', `${reg.host}/cli/app:dry`, flag]);
      assert.match(stdout, /^would publish sha256:[a-f0-9]{64}\n/);
      assert.match(stdout, new RegExp(`tag: +${reg.host}/cli/app:dry \\(not written: dry run\\)`));
      assert.deepEqual(await reg.writesSince(before), [], flag);
      assert.equal((await getManifestBytes({ url: reg.url }, 'cli/app', 'dry')).status, 404);
    }
  });

  it('publish --json: one shape for published, unchanged and dry runs; unchanged when nothing was written', async () => {
    const args = ['publish', '--source', `${reg.host}/cli/app:amd64`, '--source', `${reg.host}/cli/app:arm`, '--tag', `${reg.host}/cli/app:json`, '--json'];
    const dry = JSON.parse((await cli([...args, '--dry-run'])).stdout);
    const first = JSON.parse((await cli(args)).stdout);
    const before = await reg.mark();
    const again = JSON.parse((await cli(args)).stdout);
    assert.deepEqual(await reg.writesSince(before), [], 'the second run writes nothing');
    assert.deepEqual([dry.status, first.status, again.status], ['dry-run', 'published', 'unchanged']);
    for (const out of [dry, first, again]) {
      assert.deepEqual(keys(out), PUBLISH_KEYS);
      assert.equal(out.digest, first.digest);
      assert.deepEqual(out.tags, [`${reg.host}/cli/app:json`]);
      assert.deepEqual(out.platforms, ['linux/amd64', 'linux/arm/v7']);
    }
    assert.deepEqual([dry.pushed, first.pushed, again.pushed], [[], [`${reg.host}/cli/app:json`], []]);
    assert.deepEqual(again.unchanged, [`${reg.host}/cli/app:json`]);
    const text = (await cli(args.filter((a) => a !== '--json'))).stdout;
    assert.match(text, new RegExp(`^unchanged ${first.digest}\n`));
    assert.match(text, /\(already at the digest\)/);
  });

  it('inspect prints platforms and digests as a table, or the manifest as JSON', async () => {
    const { stdout: table } = await cli(['inspect', `${reg.host}/cli/app:1`]);
    assert.match(table, /PLATFORM\s+DIGEST\s+SIZE\s+MEDIA TYPE/);
    assert.match(table, /linux\/arm\/v7\s+sha256:[a-f0-9]{64}/);
    const { stdout: json } = await cli(['inspect', '--json', `${reg.host}/cli/app:1`]);
    assert.equal(JSON.parse(json).manifest.manifests.length, 2);
    const { stdout: verbose } = await cli(['inspect', '--verbose', `${reg.host}/cli/bx:arm64`]);
    assert.match(verbose, /attestation \(unknown\/unknown\)/);
    assert.match(verbose, /linux\/arm64 sha256:[a-f0-9]{64}\n {2}sha256:[a-f0-9]{64} {2}\d+ {2}application\/vnd\.oci\.image\.layer/);
  });

  it('inspect --platform shows the entry a client on that platform pulls', async () => {
    const { stdout: arm } = await cli(['inspect', '--platform', 'linux/arm/v7', `${reg.host}/cli/app:1`]);
    assert.match(arm, /^linux\/arm\/v7 {2}sha256:[a-f0-9]{64}\n$/);
    // An amd64 host also runs 386 images, but not arm ones: linux/386 finds nothing here.
    await assert.rejects(cli(['inspect', '--platform', 'linux/386', `${reg.host}/cli/app:1`]), /no entry of .* runs on linux\/386/);
  });

  it('inspect --json keeps one shape with --verbose and --platform, for an index and a single image', async () => {
    const shapes = [];
    for (const ref of [`${reg.host}/cli/app:1`, `${reg.host}/cli/bx:arm64`, `${reg.host}/cli/app:amd64`]) {
      for (const extra of [[], ['--verbose'], ['--platform', ref.endsWith(':amd64') || ref.endsWith(':1') ? 'linux/amd64' : 'linux/arm64']]) {
        const out = JSON.parse((await cli(['inspect', '--json', ...extra, ref])).stdout);
        assert.deepEqual(keys(out), INSPECT_KEYS, `${ref} ${extra.join(' ')}`);
        for (const e of [...out.entries, ...(out.selected ? [out.selected] : [])]) assert.deepEqual(keys(e), ENTRY_KEYS);
        shapes.push(out);
      }
    }
    const [index, indexVerbose, indexPlatform] = shapes;
    assert.equal(index.kind, 'index');
    assert.equal(index.platform, null);
    assert.equal(index.selected, null);
    assert.deepEqual(index.entries.map((e: { layers: unknown }) => e.layers), [null, null]);
    assert.ok(indexVerbose.entries.every((e: { layers: unknown[] }) => Array.isArray(e.layers) && e.layers.length > 0));
    assert.equal(indexPlatform.selected.platform, 'linux/amd64');
    const image = shapes[6];
    assert.deepEqual([image.kind, image.platform, image.entries, image.selected], ['image', 'linux/amd64', [], null]);
    assert.ok(image.layers.length > 0);
    assert.equal(shapes[8].selected.digest, image.digest);
  });

  it('inspect --platform on a single image checks it: the platform and digest when it runs there, exit 1 and one line when not', async () => {
    const ok = await run(['inspect', '--platform', 'linux/amd64', `${reg.host}/cli/app:amd64`]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^linux\/amd64 {2}sha256:[a-f0-9]{64}\n$/);
    const text = await run(['inspect', `${reg.host}/cli/app:arm`]);
    assert.match(text.stdout, /Platform: +linux\/arm\/v7\n/);
    const wrong = await run(['inspect', '--platform', 'linux/arm64', `${reg.host}/cli/app:amd64`]);
    assert.equal(wrong.code, 1);
    assert.equal(wrong.stdout, '');
    assert.equal(wrong.stderr, `error: ${reg.host}/cli/app:amd64 is a single image for linux/amd64, which does not run on linux/arm64\n`);
  });

  it('fails with one line and a non-zero exit on bad input', async () => {
    await assert.rejects(cli(['publish', '--source', 'Bad Ref', '--tag', `${reg.host}/x:1`]), (e: any) => e.code === 1 && /^error: Invalid source reference 'Bad'/.test(e.stderr));
  });
});

describe('attack: inspect --verbose on a hostile index is bounded (real registry)', () => {
  let reg: RunningRegistry;
  let big: { digest: string; size: number; mediaType: string };
  let small: { digest: string; size: number; mediaType: string };
  before(async () => {
    reg = await startRegistry();
    const t = { url: reg.url };
    const img = await pushImage(t, 'hostile/app', 'base', { os: 'linux', architecture: 'amd64' });
    small = img;
    // A child of nearly 4 MiB (one layer listed ~25,000 times): the registry accepts it, and
    // inspect --verbose kept every layer of every entry (100 entries: 1.3 GiB peak RSS, 104 s, then
    // "Invalid string length" printing them).
    const base = JSON.parse(img.bytes.toString('utf8'));
    const layer = base.layers[0];
    const one = JSON.stringify(layer).length + 1;
    const layers = Array.from({ length: Math.floor((4 * 1024 * 1024 - 4096) / one) }, () => layer);
    big = await putManifest(t, 'hostile/app', 'big', Buffer.from(JSON.stringify({ ...base, layers })), base.mediaType);
  });
  after(async () => reg?.stop());

  const pushIndex = async (tag: string, child: { digest: string; size: number; mediaType: string }, n: number) => {
    const mediaType = 'application/vnd.docker.distribution.manifest.list.v2+json';
    const manifests = Array.from({ length: n }, (_, i) => ({ mediaType: child.mediaType, digest: child.digest, size: child.size, platform: { os: 'linux', architecture: `arch${i}` } }));
    await putManifest({ url: reg.url }, 'hostile/app', tag, Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, manifests })), mediaType);
  };

  it('an index of more entries than a source index may have: refused before any child is read, naming the count and the limit', async () => {
    await pushIndex('many', small, 129);
    const r = await run(['inspect', '--verbose', `${reg.host}/hostile/app:many`]);
    assert.equal(r.code, 1, r.stdout.slice(0, 200));
    assert.match(r.stderr, /^error: .*hostile\/app:many is an index of too many entries to read with --verbose: 129, more than the 128 this action reads/);
    // Without --verbose no child is read: the listing is bounded by the index document itself.
    assert.equal((await run(['inspect', `${reg.host}/hostile/app:many`])).code, 0);
  });

  it('entries whose manifests exceed the byte budget: refused once it is passed, not after reading them all', { timeout: 120_000 }, async () => {
    await pushIndex('heavy', big, 20);
    const r = await run(['inspect', '--verbose', '--json', `${reg.host}/hostile/app:heavy`]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^error: .*hostile\/app:heavy read with --verbose hold too many manifest bytes: \d+ bytes by entry 5, more than the 16777216 bytes this action reads/);
  });
});
