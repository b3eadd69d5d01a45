/**
 * Sources the way pipelines produce them, against a real registry: platform templates, Docker's
 * digest-artifact folder, docker/build-push-action's metadata JSON, a list file with overrides,
 * ignore-missing; and the platform-digests / tags outputs checked against what was pushed.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { getInputs } from '../../../src/inputs.ts';
import { publishInputs } from '../../../src/publish/index.ts';
import type { PublishResult } from '../../../src/publish/result.ts';
import { runAction } from '../../helpers/action.ts';
import { type Pushed, getManifestBytes, pushImage, sha256 } from '../../helpers/images.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';
import { withoutMachineCredentials } from '../../helpers/docker-config.ts';
import { logsPerTest } from '../../helpers/logs.ts';

const hexOf = (digest: string) => digest.slice('sha256:'.length);

describe('sources from templates and files (real registry)', () => {
  let reg: RunningRegistry;
  let workspace: string;
  const logs = logsPerTest();
  const t = () => ({ url: reg.url });
  withoutMachineCredentials();
  const built: Record<string, Pushed> = {};
  before(async () => {
    reg = await startRegistry();
    workspace = mkdtempSync(join(tmpdir(), 'sources-ws-'));
    built.amd64 = await pushImage(t(), 'tpl/app', '1.0-linux-amd64', { os: 'linux', architecture: 'amd64' });
    built.arm64 = await pushImage(t(), 'tpl/app', '1.0-linux-arm64', { os: 'linux', architecture: 'arm64', variant: 'v8' });
    built.armv7 = await pushImage(t(), 'tpl/app', '1.0-linux-armv7', { os: 'linux', architecture: 'arm', variant: 'v7' });
  });
  after(async () => {
    rmSync(workspace, { recursive: true, force: true });
    await reg?.stop();
  });

  const run = (inputs: Record<string, string>): Promise<PublishResult> => publishInputs(getInputs((name) => inputs[name] ?? '', { workspace }));
  const indexAt = async (repo: string, tag: string) => {
    const got = await getManifestBytes(t(), repo, tag);
    assert.equal(got.status, 200, `${repo}:${tag} exists`);
    return { digest: sha256(got.bytes), index: JSON.parse(got.bytes.toString()) };
  };

  it('a template over three platforms (one with a variant) publishes the three expansions with their platforms', async () => {
    const result = await run({ sources: `${reg.host}/tpl/app:1.0-{os}-{arch}{variant}`, platforms: 'linux/amd64,linux/arm64,linux/arm/v7', tags: `${reg.host}/tpl/app:1.0` });
    const { digest, index } = await indexAt('tpl/app', '1.0');
    assert.equal(result.digest, digest);
    assert.deepEqual(index.manifests.map((m: any) => m.digest), [built.amd64?.digest, built.arm64?.digest, built.armv7?.digest]);
    // linux/arm64 in platforms, arm64/v8 in the config: the config fills the variant.
    assert.deepEqual(result.platforms, ['linux/amd64', 'linux/arm64/v8', 'linux/arm/v7']);
    assert.deepEqual(result.platformDigests, { 'linux/amd64': built.amd64?.digest, 'linux/arm64/v8': built.arm64?.digest, 'linux/arm/v7': built.armv7?.digest });
  });

  it('warns when a template platform contradicts the config, and keeps the template platform (as an override would)', async () => {
    await pushImage(t(), 'tpl/app', 'mislabelled-s390x', { os: 'linux', architecture: 'amd64' });
    const result = await run({ sources: `${reg.host}/tpl/app:mislabelled-{arch}`, platforms: 'linux/s390x', tags: `${reg.host}/tpl/app:x`, push: 'false' });
    assert.deepEqual(result.platforms, ['linux/s390x']);
    assert.match(logs.text, /warning: source '.*mislabelled-s390x': the template platform linux\/s390x contradicts the image config \(linux\/amd64\)/);
  });

  it('a folder of digest-named empty files (Docker’s artifact pattern) gives <first tag’s repository>@sha256:<name>', async () => {
    const dir = join(workspace, 'digests');
    mkdirSync(dir);
    for (const p of [built.armv7, built.amd64]) writeFileSync(join(dir, hexOf((p as Pushed).digest)), '');
    const result = await run({ 'source-files': 'digests/*', tags: `${reg.host}/tpl/app:from-digests` });
    const { index } = await indexAt('tpl/app', 'from-digests');
    // Files are read in sorted order of their names (the digests).
    const want = [built.armv7, built.amd64].map((p) => (p as Pushed).digest).sort();
    assert.deepEqual(index.manifests.map((m: any) => m.digest), want);
    assert.equal(result.pushed.length, 1);
    assert.match(logs.text, new RegExp(`from digests/${hexOf(want[0] as string)}`), 'the log names the file each source came from');
  });

  it('docker/build-push-action metadata JSON: image.name (comma-separated) and containerimage.digest', async () => {
    const dir = join(workspace, 'meta');
    mkdirSync(dir);
    writeFileSync(join(dir, 'amd64.json'), JSON.stringify({ 'buildx.build.ref': 'b/x', 'containerimage.digest': built.amd64?.digest, 'image.name': `docker.io/acme/app:1.0,${reg.host}/tpl/app:1.0-linux-amd64` }));
    writeFileSync(join(dir, 'arm64.json'), JSON.stringify({ 'containerimage.digest': built.arm64?.digest, 'image.name': `${reg.host}/tpl/app` }));
    const result = await run({ 'source-files': 'meta/*.json', tags: `${reg.host}/tpl/app:from-metadata` });
    const { index } = await indexAt('tpl/app', 'from-metadata');
    assert.deepEqual(index.manifests.map((m: any) => m.digest), [built.amd64?.digest, built.arm64?.digest]);
    assert.deepEqual(result.platforms, ['linux/amd64', 'linux/arm64/v8']);
  });

  it('a text file of source lines keeps its overrides', async () => {
    writeFileSync(join(workspace, 'refs.txt'), `# per-arch images\n${reg.host}/tpl/app:1.0-linux-armv7 platform=linux/arm/v6\n\n${reg.host}/tpl/app:1.0-linux-amd64\n`);
    const result = await run({ 'source-files': 'refs.txt', tags: `${reg.host}/tpl/app:from-text` });
    const { index } = await indexAt('tpl/app', 'from-text');
    assert.deepEqual(index.manifests.map((m: any) => [m.digest, m.platform.architecture, m.platform.variant]), [
      [built.armv7?.digest, 'arm', 'v6'],
      [built.amd64?.digest, 'amd64', undefined],
    ]);
    assert.deepEqual(result.platforms, ['linux/arm/v6', 'linux/amd64']);
  });

  it('without ignore-missing a missing source fails the run as before, and nothing is tagged', async () => {
    await assert.rejects(
      run({ sources: `${reg.host}/tpl/app:1.0-linux-amd64\n${reg.host}/tpl/app:1.0-linux-ppc64le`, tags: `${reg.host}/tpl/app:partial-strict` }),
      /1 of 2 source\(s\) could not be read; nothing was written: .*1\.0-linux-ppc64le: MANIFEST_UNKNOWN/,
    );
    assert.equal((await getManifestBytes(t(), 'tpl/app', 'partial-strict')).status, 404);
  });

  it('ignore-missing leaves a missing source out with a warning; require-platforms still applies; none at all still fails', async () => {
    const sources = `${reg.host}/tpl/app:1.0-{os}-{arch}{variant}`;
    const result = await run({ sources, platforms: 'linux/amd64,linux/ppc64le', tags: `${reg.host}/tpl/app:partial`, 'ignore-missing': 'true' });
    assert.deepEqual(result.platforms, ['linux/amd64']);
    assert.match(logs.text, /warning: source .*tpl\/app:1\.0-linux-ppc64le does not exist; left out \(ignore-missing\)/);
    assert.equal((await indexAt('tpl/app', 'partial')).digest, result.digest);

    await assert.rejects(
      run({ sources, platforms: 'linux/amd64,linux/ppc64le', tags: `${reg.host}/tpl/app:partial-required`, 'ignore-missing': 'true', 'require-platforms': 'linux/ppc64le' }),
      /linux\/ppc64le/,
    );
    assert.equal((await getManifestBytes(t(), 'tpl/app', 'partial-required')).status, 404);
    await assert.rejects(
      run({ sources: `${reg.host}/tpl/app:nope-1\n${reg.host}/tpl/nothing:1`, tags: `${reg.host}/tpl/app:none`, 'ignore-missing': 'true' }),
      /none of the 2 source\(s\) exists/,
    );
  });

  it('the bundled action: digest artifacts + ignore-missing as the runner runs it; platform-digests and tags outputs match the pushed index', async () => {
    const dir = join(workspace, 'artifacts');
    mkdirSync(dir);
    for (const p of [built.amd64, built.arm64]) writeFileSync(join(dir, hexOf((p as Pushed).digest)), '');
    writeFileSync(join(dir, 'f'.repeat(64)), ''); // a leg whose push never happened
    const run = await runAction(
      { 'source-files': 'artifacts/*', tags: `${reg.host}/tpl/app:2.0\n${reg.host}/tpl/app:latest`, 'ignore-missing': 'true' },
      { GITHUB_WORKSPACE: workspace },
    );
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, new RegExp(`::warning::source ${reg.host}/tpl/app@sha256:f{64} does not exist; left out \\(ignore-missing\\)`));
    const { digest, index } = await indexAt('tpl/app', '2.0');
    assert.equal(run.outputs.digest, digest);
    const platformDigests = JSON.parse(run.outputs['platform-digests'] as string);
    const fromIndex = Object.fromEntries(index.manifests.map((m: any) => [[m.platform.os, m.platform.architecture, m.platform.variant].filter(Boolean).join('/'), m.digest]));
    assert.deepEqual(platformDigests, fromIndex);
    assert.equal(Object.keys(platformDigests).length, 2);
    assert.equal(run.outputs.tags, `${reg.host}/tpl/app:2.0\n${reg.host}/tpl/app:latest`);
  });
});
