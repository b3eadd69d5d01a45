/**
 * Referrers, cosign tags and attestations travelling with the images, publish() in process
 * against two real registries (distribution 2.8: no referrers API, so the `sha256-<hex>` tag
 * fallback is what runs), and the referrers API path through a proxy standing in for a registry
 * that has it (__tests__/helpers/referrers-proxy.ts).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fetch } from 'undici';
import { getInputs } from '../../../src/inputs.ts';
import { publishInputs } from '../../../src/publish/index.ts';
import type { PublishResult } from '../../../src/publish/result.ts';
import { type Pushed, getManifestBytes, pushArtifact, pushBuildxStyle, pushCosignSignature, pushImage, putReferrersTag } from '../../helpers/images.ts';
import { type ReferrersProxy, startReferrersProxy } from '../../helpers/referrers-proxy.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';
import { withoutMachineCredentials } from '../../helpers/docker-config.ts';
import { logsPerTest } from '../../helpers/logs.ts';

const SPDX = 'application/spdx+json';
const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const ATTESTATION = 'application/vnd.docker.attestation.manifest.v1+json';
const fallbackTag = (digest: string) => digest.replace(':', '-');

interface Index {
  manifests: Array<{ mediaType: string; digest: string; size: number; artifactType?: string; platform?: { os: string; architecture: string } }>;
}

async function indexAt(url: string, repo: string, tag: string): Promise<Index | undefined> {
  const got = await getManifestBytes({ url }, repo, tag);
  return got.status === 200 ? (JSON.parse(got.bytes.toString()) as Index) : undefined;
}

async function blobStatus(url: string, repo: string, digest: string): Promise<number> {
  return (await fetch(`${url}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' })).status;
}

function layersOf(bytes: Buffer): string[] {
  const m = JSON.parse(bytes.toString()) as { config: { digest: string }; layers: Array<{ digest: string }> };
  return [m.config.digest, ...m.layers.map((l) => l.digest)];
}

describe('referrers travel with the images (real registries)', () => {
  let a: RunningRegistry;
  let b: RunningRegistry;
  const logs = logsPerTest();
  withoutMachineCredentials();
  before(async () => {
    [a, b] = await Promise.all([startRegistry(), startRegistry()]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });
  const run = (inputs: Record<string, string>): Promise<PublishResult> => publishInputs(getInputs((name) => inputs[name] ?? ''));

  it('tag schema: each image’s SBOM (and the SBOM’s own signature) and cosign .sig reach registry B; a second run writes nothing', async () => {
    const A = { url: a.url };
    const images: Array<{ image: Pushed; sbom: Pushed; sig: Pushed }> = [];
    for (const arch of ['amd64', 'arm64']) {
      const image = await pushImage(A, 'src/app', arch, { os: 'linux', architecture: arch, format: 'oci' });
      const sbom = await pushArtifact(A, 'src/app', image, SPDX, Buffer.from(JSON.stringify({ spdxVersion: 'SPDX-2.3', name: arch })));
      await putReferrersTag(A, 'src/app', image, [{ ...sbom, artifactType: SPDX }]);
      images.push({ image, sbom, sig: await pushCosignSignature(A, 'src/app', image) });
    }
    // Depth 2: a signature bundle referring to the amd64 SBOM.
    const amd = images[0] as (typeof images)[number];
    const bundle = await pushArtifact(A, 'src/app', amd.sbom, BUNDLE, Buffer.from('{"bundle":1}'));
    await putReferrersTag(A, 'src/app', amd.sbom, [{ ...bundle, artifactType: BUNDLE }]);
    // B already lists a referrer of the amd64 image of its own: it must stay.
    const own = await pushArtifact({ url: b.url }, 'mirror/app', amd.image, 'text/plain', Buffer.from('a note kept in B'));
    await putReferrersTag({ url: b.url }, 'mirror/app', amd.image, [{ ...own, artifactType: 'text/plain' }]);

    const inputs = { sources: `${a.host}/src/app:amd64\n${a.host}/src/app:arm64`, tags: `${b.host}/mirror/app:1` };
    const result = await run(inputs);

    for (const { image, sbom, sig } of images) {
      const listed = await indexAt(b.url, 'mirror/app', fallbackTag(image.digest));
      assert.ok(listed, `B has the fallback tag of ${image.digest}`);
      const sbomEntry = listed.manifests.find((m) => m.digest === sbom.digest);
      assert.deepEqual(sbomEntry, { mediaType: sbom.mediaType, digest: sbom.digest, size: sbom.size, artifactType: SPDX });
      const there = await getManifestBytes({ url: b.url }, 'mirror/app', sbom.digest);
      assert.equal(there.status, 200);
      assert.deepEqual(there.bytes, sbom.bytes, 'the SBOM manifest, byte for byte');
      for (const blob of layersOf(sbom.bytes)) assert.equal(await blobStatus(b.url, 'mirror/app', blob), 200, `SBOM blob ${blob}`);
      const sigThere = await getManifestBytes({ url: b.url }, 'mirror/app', `${fallbackTag(image.digest)}.sig`);
      assert.deepEqual(sigThere.bytes, sig.bytes, 'the .sig tag, byte for byte');
      for (const blob of layersOf(sig.bytes)) assert.equal(await blobStatus(b.url, 'mirror/app', blob), 200, `signature blob ${blob}`);
    }
    const amdListed = (await indexAt(b.url, 'mirror/app', fallbackTag(amd.image.digest))) as Index;
    assert.deepEqual(amdListed.manifests.map((m) => m.digest), [own.digest, amd.sbom.digest], 'the entry already there kept, the SBOM appended');
    assert.deepEqual((await indexAt(b.url, 'mirror/app', fallbackTag(amd.sbom.digest)))?.manifests.map((m) => m.digest), [bundle.digest], 'depth 2');
    // A real client reads the fallback tag B now holds.
    const raw = execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${b.host}/mirror/app:${fallbackTag(images[1]!.image.digest)}`], { encoding: 'utf8' });
    assert.equal(JSON.parse(raw).manifests[0].digest, images[1]!.sbom.digest);

    const summary = result.referrers.map((t) => `${t.image === t.subject ? '' : 'nested '}${t.kind} ${t.digest} ${t.outcome}`).sort();
    assert.deepEqual(
      summary,
      [
        ...images.flatMap(({ sbom, sig }) => [`referrer ${sbom.digest} copied`, `cosign ${sig.digest} copied`]),
        `nested referrer ${bundle.digest} copied`,
      ].sort(),
    );
    assert.equal(result.referrers.find((t) => t.kind === 'cosign')?.tag, `${fallbackTag(images[0]!.image.digest)}.sig`);

    const from = await b.mark();
    const again = await run(inputs);
    assert.deepEqual(await b.writesSince(from), [], 'the second run writes nothing to B');
    // The images are in B now: a second run copies nothing of the source's to them (issue 23, finding 5).
    assert.deepEqual(
      again.referrers.map((t) => `${t.kind} ${t.digest} ${t.outcome}`).sort(),
      images.map(({ image }) => `image ${image.digest} left`).sort(),
    );
  });

  it('referrers: skip copies none; a target that is the source repository costs nothing extra', async () => {
    const A = { url: a.url };
    const image = await pushImage(A, 'skip/app', 'amd64', { os: 'linux', architecture: 'amd64', format: 'oci' });
    const sbom = await pushArtifact(A, 'skip/app', image, SPDX, Buffer.from('{"skip":1}'));
    await putReferrersTag(A, 'skip/app', image, [{ ...sbom, artifactType: SPDX }]);
    const skipped = await run({ sources: `${a.host}/skip/app:amd64`, tags: `${b.host}/skip/app:1`, referrers: 'skip' });
    assert.deepEqual(skipped.referrers, []);
    assert.equal((await getManifestBytes({ url: b.url }, 'skip/app', sbom.digest)).status, 404);
    assert.equal((await getManifestBytes({ url: b.url }, 'skip/app', fallbackTag(image.digest))).status, 404);
    // Same repository: no discovery at all (the registry's ping, the source's manifest, the tag's
    // state and the tag: nothing else; one tag moves, so no index PUT by digest first), though the
    // image has a referrer there.
    const from = await a.mark();
    const same = await run({ sources: `${a.host}/skip/app:amd64 platform=linux/amd64`, tags: `${a.host}/skip/app:1` });
    const requests = a.requests().slice(from, (await a.mark()) - 1);
    assert.equal(requests.length, 4, requests.join('\n'));
    assert.deepEqual(requests.filter((l) => /\/referrers\/|manifests\/sha256-/.test(l)), []);
    assert.deepEqual(same.referrers, []);
  });

  it('attestations: referrers: the index holds only the platforms; each attestation, given its image as subject, is found through B’s fallback tag', async () => {
    const A = { url: a.url };
    const amd = await pushBuildxStyle(A, 'bx', 'amd64', { os: 'linux', architecture: 'amd64' });
    const arm = await pushBuildxStyle(A, 'bx', 'arm64', { os: 'linux', architecture: 'arm64' });
    const inputs = { sources: `${a.host}/bx:amd64\n${a.host}/bx:arm64`, tags: `${b.host}/bx/out:1`, attestations: 'referrers' };
    const result = await run(inputs);
    const index = (await indexAt(b.url, 'bx/out', '1')) as Index;
    assert.deepEqual(index.manifests.map((m) => m.digest), [amd.image.digest, arm.image.digest]);
    assert.ok(index.manifests.every((m) => m.platform?.os !== 'unknown'), 'no unknown/unknown entry');
    for (const { image, attestation } of [amd, arm]) {
      const listed = (await indexAt(b.url, 'bx/out', fallbackTag(image.digest))) as Index;
      assert.equal(listed.manifests.length, 1);
      const entry = listed.manifests[0]!;
      assert.equal(entry.artifactType, ATTESTATION);
      assert.notEqual(entry.digest, attestation.digest, 'its digest changed');
      const got = await getManifestBytes({ url: b.url }, 'bx/out', entry.digest);
      const m = JSON.parse(got.bytes.toString());
      assert.deepEqual(m.subject, { mediaType: image.mediaType, digest: image.digest, size: image.size });
      assert.equal(m.artifactType, ATTESTATION);
      assert.deepEqual(m.layers, JSON.parse(attestation.bytes.toString()).layers, 'the same statements');
      for (const blob of layersOf(got.bytes)) assert.equal(await blobStatus(b.url, 'bx/out', blob), 200);
      const travelled = result.referrers.find((t) => t.subject === image.digest && t.kind === 'attestation');
      assert.equal(travelled?.from, attestation.digest);
      assert.equal(travelled?.digest, entry.digest);
    }
    const from = await b.mark();
    await run(inputs);
    assert.deepEqual(await b.writesSince(from), [], 'the second run writes nothing');
    // Into the sources' own repository: attached there, through its fallback tag.
    await run({ sources: `${a.host}/bx:amd64`, tags: `${a.host}/bx:multi`, attestations: 'referrers' });
    assert.equal((await indexAt(a.url, 'bx', fallbackTag(amd.image.digest)))?.manifests[0]?.artifactType, ATTESTATION);
  });

  it('hostile source: a listed referrer of another image is not copied; an index of 65 referrers fails before any tag moves', async () => {
    const A = { url: a.url };
    const image = await pushImage(A, 'bad/app', 'amd64', { os: 'linux', architecture: 'amd64', format: 'oci' });
    const other = await pushImage(A, 'bad/app', 'other', { os: 'linux', architecture: 'arm64', format: 'oci' });
    const stray = await pushArtifact(A, 'bad/app', other, SPDX, Buffer.from('{"of":"other"}'));
    const own = await pushArtifact(A, 'bad/app', image, SPDX, Buffer.from('{"of":"image"}'));
    const liar = await pushArtifact(A, 'bad/app', image, SPDX, Buffer.from('{"size":"wrong"}'));
    await putReferrersTag(A, 'bad/app', image, [{ ...stray, artifactType: SPDX }, { ...own, artifactType: SPDX }, { ...liar, size: liar.size + 1, artifactType: SPDX }]);
    const result = await run({ sources: `${a.host}/bad/app:amd64`, tags: `${b.host}/bad/app:1` });
    assert.match(logs.text, new RegExp(`referrer ${a.host}/bad/app@${stray.digest} does not name ${image.digest} as its subject: not copied`));
    assert.match(logs.text, new RegExp(`the entry for ${liar.digest}: size .*not copied`));
    assert.deepEqual(result.referrers.map((t) => t.digest), [own.digest]);
    for (const other of [stray, liar]) assert.equal((await getManifestBytes({ url: b.url }, 'bad/app', other.digest)).status, 404);

    // Into a repository that lacks the image (one that holds it takes no referrers from a source).
    await putReferrersTag(A, 'bad/app', image, Array.from({ length: 65 }, () => ({ ...own, artifactType: SPDX })));
    const from = await b.mark();
    await assert.rejects(run({ sources: `${a.host}/bad/app:amd64`, tags: `${b.host}/bad/fresh:2` }), /lists 65 referrers, more than the 64 this action copies/);
    assert.deepEqual((await b.writesSince(from)).filter((l) => /PUT \/v2\/bad\/fresh\/manifests\/2 /.test(l)), [], 'the tag did not move');
    assert.equal((await getManifestBytes({ url: b.url }, 'bad/fresh', '2')).status, 404);
  });

  describe('referrers API (a proxy standing in for registries that have it)', () => {
    let pa: ReferrersProxy;
    let pb: ReferrersProxy;
    before(async () => {
      [pa, pb] = await Promise.all([startReferrersProxy(a.url), startReferrersProxy(b.url)]);
    });
    after(async () => Promise.all([pa?.stop(), pb?.stop()]));

    it('found through the source’s API, PUT to a target answering OCI-Subject: no fallback tag written; a second run writes nothing', async () => {
      const A = { url: pa.url };
      const image = await pushImage(A, 'api/app', 'amd64', { os: 'linux', architecture: 'amd64', format: 'oci' });
      const sbom = await pushArtifact(A, 'api/app', image, SPDX, Buffer.from('{"api":1}'), { 'org.example.note': 'listed by the API' });
      const inputs = { sources: `${pa.host}/api/app:amd64`, tags: `${pb.host}/api/app:1` };
      const result = await run(inputs);
      assert.ok(pa.served.includes(`api/app@${image.digest}`), 'the source was asked through its referrers API');
      assert.deepEqual(result.referrers.map((t) => `${t.kind} ${t.digest} ${t.outcome}`), [`referrer ${sbom.digest} copied`]);
      assert.equal((await getManifestBytes({ url: b.url }, 'api/app', sbom.digest)).status, 200);
      assert.equal((await getManifestBytes({ url: b.url }, 'api/app', fallbackTag(image.digest))).status, 404, 'the target lists it itself: no fallback tag');
      const listed = (await (await fetch(`${pb.url}/v2/api/app/referrers/${image.digest}`)).json()) as Index;
      assert.deepEqual(listed.manifests.map((m) => m.digest), [sbom.digest]);

      const from = await b.mark();
      const again = await run(inputs);
      assert.deepEqual(await b.writesSince(from), []);
      assert.deepEqual(again.referrers.map((t) => `${t.kind} ${t.outcome}`), ['image left'], 'the image is in the target now: nothing of the source’s is looked for');
      assert.equal((await getManifestBytes({ url: b.url }, 'api/app', fallbackTag(image.digest))).status, 404);
    });
  });
});
