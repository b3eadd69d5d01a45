import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runAction } from '../../helpers/action.ts';
import { dockerManifestInspect, skopeo, skopeoInspect } from '../../helpers/clients.ts';
import { type Pushed, getManifestBytes, pushImage, sha256 } from '../../helpers/images.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';

const FOUR = [
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64', variant: 'v8' },
  { os: 'linux', architecture: 'arm', variant: 'v7' },
  { os: 'linux', architecture: 's390x' },
];

describe('publish end to end (real registry, bundled action)', () => {
  let reg: RunningRegistry;
  const t = () => ({ url: reg.url });
  before(async () => {
    reg = await startRegistry();
  });
  after(async () => {
    await reg?.stop();
  });

  it('publishes 4 per-arch images in one repository to two tags; docker and skopeo read it', async () => {
    const pushed: Pushed[] = [];
    for (const p of FOUR) pushed.push(await pushImage(t(), 'app', `build-${p.architecture}`, p));
    const run = await runAction({
      sources: FOUR.map((p) => `${reg.host}/app:build-${p.architecture}`).join('\n'),
      tags: `${reg.host}/app:1.0\n${reg.host}/app:latest`,
    });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const digest = run.outputs.digest as string;
    assert.match(digest, /^sha256:[a-f0-9]{64}$/);
    assert.equal(run.outputs.platforms, 'linux/amd64,linux/arm64/v8,linux/arm/v7,linux/s390x');
    assert.equal(run.outputs['media-type'], 'application/vnd.docker.distribution.manifest.list.v2+json');
    assert.equal(run.outputs.images, `${reg.host}/app@${digest}`);
    for (const tag of ['1.0', 'latest']) {
      const got = await getManifestBytes(t(), 'app', tag);
      assert.equal(got.status, 200);
      assert.equal(sha256(got.bytes), digest, `tag ${tag} holds the bytes whose digest was output`);
      assert.equal(got.bytes.toString(), run.outputs.manifest);
    }
    const index = JSON.parse(run.outputs.manifest as string);
    assert.deepEqual(
      index.manifests.map((m: any) => m.digest),
      pushed.map((p) => p.digest),
    );

    const inspected = await dockerManifestInspect(`${reg.host}/app:1.0`);
    assert.equal(inspected.mediaType, 'application/vnd.docker.distribution.manifest.list.v2+json');
    assert.deepEqual(
      inspected.manifests.map((m: any) => [m.platform.os, m.platform.architecture, m.platform.variant ?? '']),
      [['linux', 'amd64', ''], ['linux', 'arm64', 'v8'], ['linux', 'arm', 'v7'], ['linux', 's390x', '']],
    );
    const armv7 = await skopeoInspect(`${reg.host}/app:1.0`, ['--override-os', 'linux', '--override-arch', 'arm', '--override-variant', 'v7']);
    // skopeo reports the list's digest; the resolved child shows in its architecture and layers.
    assert.equal(armv7.Digest, digest);
    assert.equal(armv7.Architecture, 'arm');
    const armManifest = JSON.parse((pushed[2] as Pushed).bytes.toString());
    assert.deepEqual(armv7.Layers, armManifest.layers.map((l: any) => l.digest));
    assert.match(run.summary, /linux\/arm\/v7/);
    assert.ok(run.summary.includes(digest));
  });

  it('publishes sources from three other repositories into a fourth; skopeo copy --all succeeds', async () => {
    const specs = FOUR.slice(0, 3);
    const pushed: Pushed[] = [];
    for (const [i, p] of specs.entries()) pushed.push(await pushImage(t(), `team/app-${i}`, 'v1', p));
    const run = await runAction({
      sources: specs.map((_, i) => `${reg.host}/team/app-${i}:v1`).join(', '),
      tags: `${reg.host}/team/app:v1`,
    });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    // skopeo reads every child and blob of the index from the target repository and copies them.
    await skopeo([
      'copy', '--all', '--preserve-digests', '--src-tls-verify=false', '--dest-tls-verify=false',
      `docker://${reg.host}/team/app:v1`, `docker://${reg.host}/copied/app:v1`,
    ]);
    const copied = await getManifestBytes(t(), 'copied/app', 'v1');
    assert.equal(sha256(copied.bytes), run.outputs.digest, 'skopeo copied the index byte for byte');
    for (const p of pushed) assert.equal((await getManifestBytes(t(), 'copied/app', p.digest)).status, 200);
    // Each child is now also addressable in the target repository by digest.
    for (const p of pushed) assert.equal((await getManifestBytes(t(), 'team/app', p.digest)).status, 200);
  });

  it('a missing source fails naming it, and leaves new and existing tags untouched', async () => {
    const good = await pushImage(t(), 'svc', 'amd64', FOUR[0] as any);
    const existing = await pushImage(t(), 'svc', 'stable', FOUR[1] as any);
    const before = await reg.mark();
    const run = await runAction({
      sources: `${reg.host}/svc:amd64\n${reg.host}/svc:nope-arm64\n${reg.host}/other:missing`,
      tags: `${reg.host}/svc:stable\n${reg.host}/svc:new`,
    });
    assert.notEqual(run.code, 0);
    assert.match(run.stdout, /2 of 3 source\(s\) could not be read/);
    assert.match(run.stdout, new RegExp(`${reg.host}/svc:nope-arm64: MANIFEST_UNKNOWN`));
    assert.match(run.stdout, new RegExp(`${reg.host}/other:missing: (NAME_UNKNOWN|MANIFEST_UNKNOWN)`));
    assert.match(run.stdout, /::error title=Registry error::/);
    assert.deepEqual(await reg.writesSince(before), []);
    assert.equal(sha256((await getManifestBytes(t(), 'svc', 'stable')).bytes), existing.digest);
    assert.equal((await getManifestBytes(t(), 'svc', 'new')).status, 404);
    assert.ok(good.digest);
  });

  it('is deterministic, skips tags already at the digest, and push:false writes nothing', async () => {
    for (const p of FOUR.slice(0, 2)) await pushImage(t(), 'det', p.architecture, p);
    const inputs = { sources: `${reg.host}/det:amd64\n${reg.host}/det:arm64`, tags: `${reg.host}/det:1` };
    const before = await reg.mark();
    const dry = await runAction({ ...inputs, push: 'false' });
    assert.equal(dry.code, 0, dry.stdout + dry.stderr);
    assert.deepEqual(await reg.writesSince(before), [], 'a dry run makes no write request');
    assert.equal((await getManifestBytes(t(), 'det', '1')).status, 404);
    assert.match(dry.summary, /dry run/);

    const first = await runAction(inputs);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    assert.equal(first.outputs.digest, dry.outputs.digest, 'the dry run announced the digest the real run produced');
    const mid = await reg.mark();
    const second = await runAction(inputs);
    assert.equal(second.code, 0);
    assert.equal(second.outputs.digest, first.outputs.digest);
    assert.equal(second.outputs.manifest, first.outputs.manifest);
    assert.deepEqual(await reg.writesSince(mid), [], 'the second run PUT nothing: the tag was already at the digest');
    assert.match(second.stdout, /already at sha256:/);
  });
});
