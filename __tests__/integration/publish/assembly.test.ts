import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { appendSettle } from '../../../src/publish/append-read.ts';
import { runInProcess } from '../../helpers/in-process.ts';
import { getManifestBytes, pushBuildxStyle, pushImage, sha256 } from '../../helpers/images.ts';
import { validateOci } from '../../helpers/oci-schema.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';
import { failureText } from '../../helpers/runner-text.ts';

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

describe('manifest assembly against a real registry', () => {
  let reg: RunningRegistry;
  const t = () => ({ url: reg.url });
  before(async () => {
    reg = await startRegistry();
  });
  after(async () => reg?.stop());

  it('flattens buildx-style indexes, keeping attestations that point at images in the result', async () => {
    const amd = await pushBuildxStyle(t(), 'bx', 'amd64', { os: 'linux', architecture: 'amd64' });
    const arm = await pushBuildxStyle(t(), 'bx', 'arm64', { os: 'linux', architecture: 'arm64' });
    const run = await runInProcess({ sources: `${reg.host}/bx:amd64\n${reg.host}/bx:arm64`, tags: `${reg.host}/bx:multi` });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.equal(run.outputs['media-type'], OCI_INDEX);
    assert.equal(run.outputs.platforms, 'linux/amd64,linux/arm64');
    const index = JSON.parse(run.outputs.manifest as string);
    assert.deepEqual(index.manifests.map((m: any) => m.digest), [amd.image.digest, arm.image.digest, amd.attestation.digest, arm.attestation.digest]);
    const imageDigests = new Set(index.manifests.slice(0, 2).map((m: any) => m.digest));
    for (const att of index.manifests.slice(2)) {
      assert.equal(att.annotations['vnd.docker.reference.type'], 'attestation-manifest');
      assert.ok(imageDigests.has(att.annotations['vnd.docker.reference.digest']));
    }
    assert.deepEqual(validateOci(OCI_INDEX, run.outputs.manifest), []);
    assert.equal(sha256((await getManifestBytes(t(), 'bx', 'multi')).bytes), run.outputs.digest);

    const dropped = await runInProcess({ sources: `${reg.host}/bx:amd64\n${reg.host}/bx:arm64`, tags: `${reg.host}/bx:noatt`, attestations: 'drop' });
    assert.equal(dropped.code, 0, dropped.stdout);
    assert.deepEqual(JSON.parse(dropped.outputs.manifest as string).manifests.map((m: any) => m.digest), [amd.image.digest, arm.image.digest]);
  });

  it('annotations make an OCI index; docker with annotations fails without pushing; oci forces OCI', async () => {
    await pushImage(t(), 'ann', 'amd64', { os: 'linux', architecture: 'amd64' });
    await pushImage(t(), 'ann', 'arm64', { os: 'linux', architecture: 'arm64', variant: 'v8' });
    const sources = `${reg.host}/ann:amd64\n${reg.host}/ann:arm64`;
    const annotations = 'index:org.opencontainers.image.version=1.2.3\norg.opencontainers.image.title=demo\nmanifest:org.opencontainers.image.description=skipped\nmanifest-descriptor:org.opencontainers.image.vendor=acme';
    const run = await runInProcess({ sources, tags: `${reg.host}/ann:a`, annotations });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const index = JSON.parse(run.outputs.manifest as string);
    assert.equal(index.mediaType, OCI_INDEX);
    assert.deepEqual(index.annotations, { 'org.opencontainers.image.title': 'demo', 'org.opencontainers.image.version': '1.2.3' });
    for (const m of index.manifests) assert.deepEqual(m.annotations, { 'org.opencontainers.image.vendor': 'acme' });
    assert.match(run.stdout, /annotation skipped .*manifest:org.opencontainers.image.description=skipped/);
    assert.deepEqual(validateOci(OCI_INDEX, run.outputs.manifest), []);

    const before = await reg.mark();
    const docker = await runInProcess({ sources, tags: `${reg.host}/ann:d`, annotations, 'media-type': 'docker' });
    assert.notEqual(docker.code, 0);
    assert.match(docker.stdout, /media-type is docker/);
    assert.deepEqual(await reg.writesSince(before), []);

    const forced = await runInProcess({ sources, tags: `${reg.host}/ann:o`, 'media-type': 'oci' });
    assert.equal(forced.code, 0, forced.stdout);
    assert.equal(forced.outputs['media-type'], OCI_INDEX);
    assert.equal((await getManifestBytes(t(), 'ann', 'o')).contentType, OCI_INDEX);
  });

  it('overrides fill the platform; Windows keeps os.version and os.features from its config', async () => {
    await pushImage(t(), 'ovr', 'arm', { os: 'linux', architecture: 'arm' });
    await pushImage(t(), 'ovr', 'win', { os: 'windows', architecture: 'amd64', osVersion: '10.0.17763.5329', osFeatures: ['win32k'] });
    // A buildx-style index source: its entry's platform is known without reading the config.
    await pushBuildxStyle(t(), 'ovr', 'amd', { os: 'linux', architecture: 'amd64' });
    const run = await runInProcess({
      sources: `${reg.host}/ovr:arm platform=linux/arm/v6\n${reg.host}/ovr:win\n${reg.host}/ovr:amd platform=linux/arm64`,
      tags: `${reg.host}/ovr:1`,
    });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const index = JSON.parse(run.outputs.manifest as string);
    assert.deepEqual(index.manifests[0].platform, { architecture: 'arm', os: 'linux', variant: 'v6' });
    assert.deepEqual(index.manifests[1].platform, { architecture: 'amd64', os: 'windows', 'os.version': '10.0.17763.5329', 'os.features': ['win32k'] });
    assert.deepEqual(index.manifests[2].platform, { architecture: 'arm64', os: 'linux' });
    assert.match(run.stdout, /::warning::source .*platform=linux\/arm64 contradicts the image config \(linux\/amd64\)/);
  });

  it('duplicate platforms and a missing required platform fail before any write', async () => {
    await pushImage(t(), 'dup', 'a', { os: 'linux', architecture: 'amd64' });
    await pushImage(t(), 'dup', 'b', { os: 'linux', architecture: 'amd64' });
    const before = await reg.mark();
    const dup = await runInProcess({ sources: `${reg.host}/dup:a\n${reg.host}/dup:b`, tags: `${reg.host}/dup:1` });
    assert.notEqual(dup.code, 0);
    assert.match(dup.stdout, new RegExp(`two images have platform linux/amd64: '${reg.host}/dup:a' and '${reg.host}/dup:b'`));
    const req = await runInProcess({ sources: `${reg.host}/dup:a`, tags: `${reg.host}/dup:1`, 'require-platforms': 'linux/amd64,linux/arm64' });
    assert.notEqual(req.code, 0);
    assert.match(req.stdout, /required platform linux\/arm64 is not among the sources/);
    assert.deepEqual(await reg.writesSince(before), []);
  });

  it('media-type docker with buildx-style sources (OCI child, attestation): refused before any write with a hint', async () => {
    await pushBuildxStyle(t(), 'src', 'buildx', { os: 'linux', architecture: 'arm64' });
    const from = await reg.mark();
    const run = await runInProcess({ sources: `${reg.host}/src:buildx`, tags: `${reg.host}/dst:buildx`, 'media-type': 'docker' });
    assert.equal(run.code, 1, run.stdout);
    assert.match(failureText(run), /media-type is docker, but '127\.0\.0\.1:\d+\/src:buildx' brings an attestation manifest .*set attestations: drop/);
    const dropped = await runInProcess({ sources: `${reg.host}/src:buildx`, tags: `${reg.host}/dst:buildx`, 'media-type': 'docker', attestations: 'drop' });
    assert.equal(dropped.code, 1, dropped.stdout);
    assert.match(failureText(dropped), /media-type is docker, but '127\.0\.0\.1:\d+\/src:buildx' is a application\/vnd\.oci\.image\.manifest\.v1\+json .*Use media-type 'auto' or 'oci'/);
    assert.deepEqual(await reg.writesSince(from), []);
  });

  it('append adds linux/s390x to an existing amd64 + arm64 index and keeps both', async () => {
    const amd = await pushImage(t(), 'apd', 'amd64', { os: 'linux', architecture: 'amd64' });
    const arm = await pushImage(t(), 'apd', 'arm64', { os: 'linux', architecture: 'arm64', variant: 'v8' });
    const s390x = await pushImage(t(), 'apd', 's390x', { os: 'linux', architecture: 's390x' });
    const first = await runInProcess({ sources: `${reg.host}/apd:amd64\n${reg.host}/apd:arm64`, tags: `${reg.host}/apd:latest` });
    assert.equal(first.code, 0, first.stdout);
    const appended = await runInProcess({ sources: `${reg.host}/apd:s390x`, tags: `${reg.host}/apd:latest`, append: 'true' });
    assert.equal(appended.code, 0, appended.stdout + appended.stderr);
    assert.equal(appended.outputs.platforms, 'linux/amd64,linux/arm64/v8,linux/s390x');
    const index = JSON.parse((await getManifestBytes(t(), 'apd', 'latest')).bytes.toString());
    assert.deepEqual(index.manifests.map((m: any) => m.digest), [amd.digest, arm.digest, s390x.digest]);
    // append to a tag that does not exist yet starts from an empty index, once the tag is read
    // again (a registry may answer 404 for a moment after a write), with a warning; the waits shortened.
    const settle = appendSettle.waitsMs;
    appendSettle.waitsMs = [100, 200];
    const fresh = await runInProcess({ sources: `${reg.host}/apd:s390x`, tags: `${reg.host}/apd:new`, append: 'true' }).finally(() => void (appendSettle.waitsMs = settle));
    assert.equal(fresh.code, 0, fresh.stdout);
    assert.equal(fresh.outputs.platforms, 'linux/s390x');
    assert.match(fresh.stdout, /append: no index at 127\.0\.0\.1:\d+\/apd:new yet \(absent in 3 reads over 0\.3 s\): publishing only the sources' platforms/);
  });
});
