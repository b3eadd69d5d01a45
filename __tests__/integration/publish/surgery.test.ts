/**
 * Index surgery and the formats pipelines hand over (issue 25), through the bundled action against
 * the real registry, read back with skopeo: buildx's annotation syntax, `platforms` as the set the
 * result keeps, removing a platform in place, `append` keeping what the index had, the `metadata`
 * output, Windows entries in the outputs.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runAction } from '../../helpers/action.ts';
import { skopeo } from '../../helpers/clients.ts';
import { type Pushed, getManifestBytes, pushBuildxStyle, pushImage, putManifest, sha256 } from '../../helpers/images.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';

/** The manifest at a reference as a client reads it (skopeo inspect --raw). */
async function raw(ref: string): Promise<any> {
  return JSON.parse(await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${ref}`]));
}

describe('index surgery (real registry, bundled action, read back with skopeo)', () => {
  let reg: RunningRegistry;
  const t = () => ({ url: reg.url });
  const images = new Map<string, Pushed>();
  before(async () => {
    reg = await startRegistry();
    for (const [tag, p] of [
      ['amd64', { os: 'linux', architecture: 'amd64' }],
      ['arm64', { os: 'linux', architecture: 'arm64', variant: 'v8' }],
      ['armv7', { os: 'linux', architecture: 'arm', variant: 'v7' }],
    ] as const) {
      images.set(tag, await pushImage(t(), 'surgery/app', tag, p));
    }
  });
  after(async () => reg?.stop());
  const src = (...tags: string[]) => tags.map((x) => `${reg.host}/surgery/app:${x}`).join('\n');

  /** An upstream release as another tool pushed it: amd64, arm64/v8, arm/v7 and s390x with its attestation. */
  async function pushUpstream(tag: string): Promise<{ index: Pushed; s390x: Pushed; attestation: Pushed }> {
    const buildx = await pushBuildxStyle(t(), 'surgery/app', `${tag}-s390x`, { os: 'linux', architecture: 's390x' });
    const s390x = JSON.parse(buildx.index.bytes.toString()).manifests;
    const entry = (tagOf: string, platform: Record<string, string>) => {
      const p = images.get(tagOf) as Pushed;
      return { mediaType: p.mediaType, digest: p.digest, size: p.size, platform };
    };
    const manifests = [
      entry('amd64', { architecture: 'amd64', os: 'linux' }),
      entry('arm64', { architecture: 'arm64', os: 'linux', variant: 'v8' }),
      entry('armv7', { architecture: 'arm', os: 'linux', variant: 'v7' }),
      ...s390x,
    ];
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
    const index = await putManifest(t(), 'surgery/app', tag, bytes, 'application/vnd.oci.image.index.v1+json');
    return { index, s390x: buildx.image, attestation: buildx.attestation };
  }

  it('annotations in buildx syntax: a [platform] filter annotates that entry only; several types at once', async () => {
    const run = await runAction({
      sources: src('amd64', 'arm64'),
      tags: `${reg.host}/surgery/app:annotated`,
      annotations: 'manifest-descriptor[linux/arm64]:a=b\nindex,manifest-descriptor:k=v\nmanifest:org.opencontainers.image.created=2026-12-05T22:00:00Z',
    });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const index = await raw(`${reg.host}/surgery/app:annotated`);
    assert.equal(index.mediaType, 'application/vnd.oci.image.index.v1+json');
    assert.deepEqual(index.annotations, { k: 'v' });
    const byArch = Object.fromEntries(index.manifests.map((m: any) => [m.platform.architecture, m.annotations]));
    assert.deepEqual(byArch, { amd64: { k: 'v' }, arm64: { a: 'b', k: 'v' } });
  });

  it('an annotation key with a colon fails before any write, naming the line', async () => {
    const run = await runAction({ sources: src('amd64'), tags: `${reg.host}/surgery/app:badkey`, annotations: 'index:a:b=c' });
    assert.equal(run.code, 1);
    assert.match(run.stdout, /Invalid annotation 'index:a:b=c' \(the key 'a:b' holds/);
    assert.equal((await getManifestBytes(t(), 'surgery/app', 'badkey')).status, 404);
  });

  it('platforms takes a subset of an index source (mirroring a release as two platforms)', async () => {
    await pushUpstream('upstream');
    const run = await runAction({ sources: src('upstream'), platforms: 'linux/amd64,linux/arm64', tags: `${reg.host}/surgery/mirror:two` });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.equal(run.outputs.platforms, 'linux/amd64,linux/arm64/v8');
    const index = await raw(`${reg.host}/surgery/mirror:two`);
    assert.deepEqual(
      index.manifests.map((m: any) => m.digest),
      [images.get('amd64')?.digest, images.get('arm64')?.digest],
    );
  });

  it('platforms keeps an entry with its attestation (linux/arm64/v8 as linux/arm64 selects it too)', async () => {
    const upstream = await pushUpstream('upstream2');
    const run = await runAction({ sources: src('upstream2'), platforms: 'linux/s390x\nlinux/arm64/v8', tags: `${reg.host}/surgery/app:kept` });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const index = await raw(`${reg.host}/surgery/app:kept`);
    assert.deepEqual(
      index.manifests.map((m: any) => m.digest),
      [images.get('arm64')?.digest, upstream.s390x.digest, upstream.attestation.digest],
    );
  });

  it('an image source whose platform platforms does not list fails before any write, naming it', async () => {
    const run = await runAction({ sources: src('amd64', 'armv7'), platforms: 'linux/amd64,linux/arm64', tags: `${reg.host}/surgery/app:unlisted` });
    assert.equal(run.code, 1);
    assert.match(run.stdout, new RegExp(`source '${reg.host}/surgery/app:armv7' is an image of linux/arm/v7, which platforms does not list \\(linux/amd64, linux/arm64\\)`));
    assert.equal((await getManifestBytes(t(), 'surgery/app', 'unlisted')).status, 404);
  });

  it('removes a platform in place: the tag as source and target, platforms naming what stays', async () => {
    const upstream = await pushUpstream('release');
    const run = await runAction({ sources: src('release'), platforms: 'linux/amd64,linux/arm/v7,linux/s390x', tags: `${reg.host}/surgery/app:release` });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const index = await raw(`${reg.host}/surgery/app:release`);
    assert.equal(sha256(Buffer.from(run.outputs.manifest as string)), run.outputs.digest);
    assert.deepEqual(
      index.manifests.map((m: any) => m.digest),
      [images.get('amd64')?.digest, images.get('armv7')?.digest, upstream.s390x.digest, upstream.attestation.digest],
    );
    // No sparse list: every entry is in the repository; the removed child stays there by digest.
    for (const m of index.manifests) assert.equal((await getManifestBytes(t(), 'surgery/app', m.digest)).status, 200, m.digest);
    assert.equal((await getManifestBytes(t(), 'surgery/app', images.get('arm64')?.digest as string)).status, 200);
    assert.notEqual(run.outputs.digest, upstream.index.digest);
  });

  /** An OCI index at a tag, of Docker image manifests (as buildah pushes it), with the annotations given. */
  async function putOciIndex(tag: string, platforms: string[], annotations?: Record<string, string>, descriptorAnnotations?: Record<string, string>): Promise<Pushed> {
    const manifests = platforms.map((x) => {
      const p = images.get(x) as Pushed;
      const platform = JSON.parse(JSON.stringify({ amd64: { architecture: 'amd64', os: 'linux' }, arm64: { architecture: 'arm64', os: 'linux', variant: 'v8' }, armv7: { architecture: 'arm', os: 'linux', variant: 'v7' } }[x]));
      return { mediaType: p.mediaType, digest: p.digest, size: p.size, platform, ...(descriptorAnnotations ? { annotations: descriptorAnnotations } : {}) };
    });
    const doc = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests, ...(annotations ? { annotations } : {}) };
    return putManifest(t(), 'surgery/app', tag, Buffer.from(JSON.stringify(doc)), 'application/vnd.oci.image.index.v1+json');
  }

  it('append onto an OCI index of Docker manifests keeps it an OCI index (auto means keep)', async () => {
    await putOciIndex('buildah', ['amd64']);
    const run = await runAction({ sources: src('arm64'), tags: `${reg.host}/surgery/app:buildah`, append: 'true' });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const index = await raw(`${reg.host}/surgery/app:buildah`);
    assert.equal(index.mediaType, 'application/vnd.oci.image.index.v1+json');
    assert.equal(run.outputs['media-type'], 'application/vnd.oci.image.index.v1+json');
    assert.deepEqual(index.manifests.map((m: any) => m.digest), [images.get('amd64')?.digest, images.get('arm64')?.digest]);
  });

  it('append keeps the index annotations and the descriptors’ annotations; an input line of the same key replaces one', async () => {
    await putOciIndex('annotated-base', ['amd64'], { 'org.opencontainers.image.version': '1', keep: 'me' }, { 'com.example.entry': 'amd64' });
    const run = await runAction({ sources: src('arm64'), tags: `${reg.host}/surgery/app:annotated-base`, append: 'true', 'media-type': 'oci', annotations: 'index:org.opencontainers.image.version=2' });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const index = await raw(`${reg.host}/surgery/app:annotated-base`);
    assert.deepEqual(index.annotations, { keep: 'me', 'org.opencontainers.image.version': '2' });
    assert.deepEqual(index.manifests.map((m: any) => m.annotations), [{ 'com.example.entry': 'amd64' }, undefined]);

    await putOciIndex('annotated-auto', ['amd64'], { keep: 'me' });
    const auto = await runAction({ sources: src('arm64'), tags: `${reg.host}/surgery/app:annotated-auto`, append: 'true' });
    assert.equal(auto.code, 0, auto.stdout + auto.stderr);
    assert.deepEqual((await raw(`${reg.host}/surgery/app:annotated-auto`)).annotations, { keep: 'me' });
  });

  it('append with media-type docker over an annotated OCI index fails before any write', async () => {
    const base = await putOciIndex('annotated-docker', ['amd64'], { keep: 'me' });
    const run = await runAction({ sources: src('arm64'), tags: `${reg.host}/surgery/app:annotated-docker`, append: 'true', 'media-type': 'docker' });
    assert.equal(run.code, 1);
    assert.match(run.stdout, /append: media-type is docker, but .*surgery\/app:annotated-docker \(sha256:[a-f0-9]{64}\) is an OCI index with 1 index annotation\(s\) and 0 annotated entries: a Docker manifest list would lose them/);
    assert.equal(sha256((await getManifestBytes(t(), 'surgery/app', 'annotated-docker')).bytes), base.digest);
  });

  it('the metadata output: build-push-action\'s keys plus tags, platform-digests and referrers, one line', async () => {
    const tags = [`${reg.host}/surgery/app:meta`, `${reg.host}/surgery/other:meta`];
    const run = await runAction({ sources: src('amd64', 'arm64'), tags: tags.join('\n') });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const text = run.outputs.metadata as string;
    assert.doesNotMatch(text, /\n/);
    const metadata = JSON.parse(text);
    const pushed = await getManifestBytes(t(), 'surgery/other', 'meta');
    assert.deepEqual(metadata, {
      'containerimage.digest': run.outputs.digest,
      'containerimage.descriptor': { mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json', digest: sha256(pushed.bytes), size: pushed.bytes.length },
      'image.name': tags.join(','),
      tags,
      'platform-digests': { 'linux/amd64': images.get('amd64')?.digest, 'linux/arm64/v8': images.get('arm64')?.digest },
      referrers: [],
    });
    assert.equal((await raw(`${reg.host}/surgery/app@${metadata['containerimage.digest']}`)).manifests.length, 2);
  });

  it('Windows entries of two versions stay apart in platforms and platform-digests', async () => {
    const older = await pushImage(t(), 'surgery/win', 'ltsc2019', { os: 'windows', architecture: 'amd64', osVersion: '10.0.17763.5329' });
    const newer = await pushImage(t(), 'surgery/win', 'ltsc2022', { os: 'windows', architecture: 'amd64', osVersion: '10.0.20348.2655', osFeatures: ['win32k'] });
    const run = await runAction({ sources: `${reg.host}/surgery/win:ltsc2019\n${reg.host}/surgery/win:ltsc2022`, tags: `${reg.host}/surgery/win:1` });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.equal(run.outputs.platforms, 'windows(10.0.17763.5329)/amd64,windows(10.0.20348.2655+win32k)/amd64');
    assert.deepEqual(JSON.parse(run.outputs['platform-digests'] as string), {
      'windows(10.0.17763.5329)/amd64': older.digest,
      'windows(10.0.20348.2655+win32k)/amd64': newer.digest,
    });
    const index = await raw(`${reg.host}/surgery/win:1`);
    assert.deepEqual(index.manifests.map((m: any) => m.platform['os.version']), ['10.0.17763.5329', '10.0.20348.2655']);
    // A filter with a version selects that version only.
    const one = await runAction({ sources: `${reg.host}/surgery/win:1`, platforms: 'windows(10.0.20348)/amd64', tags: `${reg.host}/surgery/win:2022` });
    assert.equal(one.code, 0, one.stdout + one.stderr);
    assert.equal(one.outputs.platforms, 'windows(10.0.20348.2655+win32k)/amd64');
  });

  describe('OCI image layouts as sources (written by skopeo copy … oci:DIR:TAG)', () => {
    let workspace: string;
    before(async () => {
      workspace = mkdtempSync(join(tmpdir(), 'layout-workspace-'));
      await skopeo(['copy', '--src-tls-verify=false', `docker://${reg.host}/surgery/app:amd64`, `oci:${join(workspace, 'amd64')}:amd64`]);
      await pushUpstream('for-layout');
      await skopeo(['copy', '--all', '--preserve-digests', '--src-tls-verify=false', `docker://${reg.host}/surgery/app:for-layout`, `oci:${join(workspace, 'multi')}:release`]);
    });
    after(() => rmSync(workspace, { recursive: true, force: true }));
    const env = () => ({ GITHUB_WORKSPACE: workspace });

    it('publishes an image from a layout next to a registry source; every blob uploaded (skopeo copies it all back)', async () => {
      const run = await runAction({ sources: `${src('arm64')}\noci-layout://amd64:amd64`, tags: `${reg.host}/surgery/fromlayout:1` }, env());
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.equal(run.outputs.platforms, 'linux/arm64/v8,linux/amd64');
      const index = await raw(`${reg.host}/surgery/fromlayout:1`);
      const layoutIndex = JSON.parse(readFileSync(join(workspace, 'amd64', 'index.json'), 'utf8'));
      assert.equal(index.manifests[1].digest, layoutIndex.manifests[0].digest);
      const back = join(workspace, 'copied-back');
      await skopeo(['copy', '--all', '--src-tls-verify=false', `docker://${reg.host}/surgery/fromlayout:1`, `oci:${back}:x`]);
      assert.ok(readdirSync(join(back, 'blobs', 'sha256')).length >= 6, 'two manifests, two configs, two layers and the index');
    });

    it('a layout holding an index contributes its entries, filtered by platforms, with their attestations', async () => {
      const run = await runAction({ sources: 'oci-layout://multi:release', platforms: 'linux/s390x,linux/arm/v7', tags: `${reg.host}/surgery/fromlayout:multi` }, env());
      assert.equal(run.code, 0, run.stdout + run.stderr);
      const index = await raw(`${reg.host}/surgery/fromlayout:multi`);
      assert.deepEqual(index.manifests.map((m: any) => m.platform.architecture), ['arm', 's390x', 'unknown']);
      assert.equal(index.manifests[2].annotations['vnd.docker.reference.type'], 'attestation-manifest');
    });

    it('a layer that does not match its digest, found while streaming it up, fails the run before any tag moves', async () => {
      const dir = join(workspace, 'corrupt');
      await skopeo(['copy', '--src-tls-verify=false', `docker://${reg.host}/surgery/app:armv7`, `oci:${dir}:armv7`]);
      const blob = (digest: string) => join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length));
      const manifest = JSON.parse(readFileSync(blob(JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')).manifests[0].digest), 'utf8'));
      const layer = manifest.layers[0].digest as string;
      const bytes = readFileSync(blob(layer));
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0xff;
      writeFileSync(blob(layer), bytes);
      const run = await runAction({ sources: 'oci-layout://corrupt:armv7', tags: `${reg.host}/surgery/corrupt:1` }, env());
      assert.equal(run.code, 1);
      assert.match(run.stdout, new RegExp(`does not match its digest: expected ${layer}, got sha256:[a-f0-9]{64}`));
      assert.equal((await getManifestBytes(t(), 'surgery/corrupt', '1')).status, 404);
      assert.equal((await fetch(`${reg.url}/v2/surgery/corrupt/blobs/${layer}`, { method: 'HEAD' })).status, 404, 'the registry did not take the corrupt layer');
    });

    it('a layout outside the workspace and RUNNER_TEMP is refused before any request, naming the file', async () => {
      const outside = mkdtempSync(join(tmpdir(), 'layout-outside-'));
      try {
        await skopeo(['copy', '--src-tls-verify=false', `docker://${reg.host}/surgery/app:amd64`, `oci:${outside}:amd64`]);
        const run = await runAction({ sources: `oci-layout://${outside}:amd64`, tags: `${reg.host}/surgery/outside:1` }, env());
        assert.equal(run.code, 1);
        assert.match(run.stdout, /Invalid file '.*oci-layout': it lies outside the workspace and the runner's temp folder/);
        assert.equal((await getManifestBytes(t(), 'surgery/outside', '1')).status, 404);
      } finally {
        rmSync(outside, { recursive: true, force: true });
      }
    });
  });
});
