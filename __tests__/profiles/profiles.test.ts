/**
 * The action (publish() in process) against each registry profile of registries.ts, played by
 * profile-proxy.ts in front of one real distribution registry: each quirk a test of what the
 * action does there. Sources are read from the registry itself (distribution 2.8: no referrers
 * API, so the source's referrers are found through its `sha256-<hex>` tag); targets through the
 * profile's proxy.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fetch } from 'undici';
import { ActionError } from '../../src/errors.ts';
import { getInputs } from '../../src/inputs.ts';
import { appendSettle } from '../../src/publish/append-read.ts';
import { publishInputs } from '../../src/publish/index.ts';
import type { PublishResult } from '../../src/publish/result.ts';
import type { Rule } from '../helpers/fault-proxy.ts';
import { type Pushed, getManifestBytes, pushArtifact, pushImage, putReferrersTag, sha256 } from '../helpers/images.ts';
import { type RunningRegistry, startRegistry } from '../helpers/registry.ts';
import { startTokenIssuer } from '../helpers/token-issuer.ts';
import { type ProfileProxy, startProfileProxy } from './profile-proxy.ts';
import { PROFILES, type Profile, RATE_LIMITS, profile } from './registries.ts';
import { withoutMachineCredentials } from '../helpers/docker-config.ts';
import { logsPerTest } from '../helpers/logs.ts';

const SPDX = 'application/spdx+json';
const BUNDLE_WITH_PARAMETERS = 'application/vnd.dev.sigstore.bundle+json;version=0.2';
const fallbackTag = (digest: string) => digest.replace(':', '-');
const without = (p: Profile, ...quirks: Array<'denied' | 'refusesSubject' | 'tagLag'>): Profile => ({
  ...p,
  ...(quirks.includes('denied') ? { denied: undefined } : {}),
  ...(quirks.includes('tagLag') ? { tagLag: undefined } : {}),
  referrers: { ...p.referrers, ...(quirks.includes('refusesSubject') ? { refusesSubject: undefined } : {}) },
});

let reg: RunningRegistry;
const logs = logsPerTest();
const direct = () => ({ url: reg.url });
const run = (inputs: Record<string, string>): Promise<PublishResult> => publishInputs(getInputs((name) => inputs[name] ?? ''));
async function failure(inputs: Record<string, string>): Promise<ActionError> {
  try {
    await run(inputs);
  } catch (e) {
    assert.ok(e instanceof ActionError, String(e));
    return e;
  }
  return assert.fail('the run succeeded');
}
const tagDigest = async (repo: string, tag: string) => {
  const got = await getManifestBytes(direct(), repo, tag);
  return got.status === 200 ? sha256(got.bytes) : undefined;
};
const puts = (proxy: ProfileProxy, from: number) => proxy.log.slice(from).filter((r) => r.method === 'PUT');

/** An OCI image in `src/<name>` with an SBOM referring to it, listed in the source's fallback tag. */
async function imageWithSbom(name: string, arch = 'amd64', artifactType = SPDX): Promise<{ image: Pushed; sbom: Pushed }> {
  const image = await pushImage(direct(), `src/${name}`, arch, { os: 'linux', architecture: arch, format: 'oci' });
  const sbom = await pushArtifact(direct(), `src/${name}`, image, artifactType, Buffer.from(JSON.stringify({ name, arch })));
  await putReferrersTag(direct(), `src/${name}`, image, [{ ...sbom, artifactType }]);
  return { image, sbom };
}

withoutMachineCredentials();
before(async () => {
  reg = await startRegistry();
});
after(async () => {
  await reg?.stop();
});

for (const p of PROFILES) {
  describe(`${p.name} (${p.id})`, () => {
    const proxies: ProfileProxy[] = [];
    const start = async (played: Profile = p, extra?: Rule, options?: { tagLagMs?: number }) => {
      const proxy = await startProfileProxy(reg.url, played, extra, options);
      proxies.push(proxy);
      return proxy;
    };
    after(async () => Promise.all(proxies.map((x) => x.stop())));
    const name = p.id.replace(/\./g, '-');

    const api = p.referrers.api;
    const refused = p.referrers.refusesSubject;
    // A registry that takes no OCI index at all (Harbor 1.x) takes no OCI referrers either: nothing to copy there.
    if (!p.index?.ociIndex) it(
      refused
        ? `a referrer with a subject is refused (${refused.status}, ${refused.source}): named in a warning, marked refused, the publish goes on; referrers-refused: fail fails before any tag moves`
        : `referrers API ${api} (${p.referrers.source}): the sha256-<hex> fallback tag is written ${api === 'listed' ? 'only when the API does not list the referrer' : 'since no API lists it'}`,
      async () => {
        const proxy = await start(without(p, 'denied'));
        const { image, sbom } = await imageWithSbom(`${name}-ref`);
        const target = `${name}/ref`;
        const result = await run({ sources: `${reg.host}/src/${name}-ref:amd64`, tags: `${proxy.host}/${target}:1` });
        assert.equal(await tagDigest(target, '1'), result.digest, 'the tag moved');
        const fallback = await getManifestBytes(direct(), target, fallbackTag(image.digest));
        if (refused) {
          assert.deepEqual(result.referrers.map((t) => `${t.kind} ${t.digest} ${t.outcome}`), [`referrer ${sbom.digest} refused`]);
          assert.match(logs.text, new RegExp(`warning: 127\\.0\\.0\\.1:\\d+/${target} refused referrer ${sbom.digest} of ${image.digest} \\(HTTP ${refused.status} ${refused.code}`));
          assert.equal(fallback.status, 404, 'nothing to list: the referrer is not there');
          // Into a repository that lacks the image: one that holds it takes no referrers from a source.
          const error = await failure({ sources: `${reg.host}/src/${name}-ref:amd64`, tags: `${proxy.host}/${target}-fail:2`, 'referrers-refused': 'fail' });
          assert.match(error.line, new RegExp(`refused referrer ${sbom.digest}.*HTTP ${refused.status} ${refused.code}.*Set referrers-refused: warn`));
          assert.equal(await tagDigest(`${target}-fail`, '2'), undefined, 'no tag moved');
          return;
        }
        assert.deepEqual(result.referrers.map((t) => `${t.kind} ${t.digest} ${t.outcome}`), [`referrer ${sbom.digest} copied`]);
        if (api === 'listed') {
          assert.equal(fallback.status, 404, 'the API lists it: no fallback tag');
          const listed = (await (await fetch(`${proxy.url}/v2/${target}/referrers/${image.digest}`)).json()) as { manifests: Array<{ digest: string }> };
          assert.deepEqual(listed.manifests.map((m) => m.digest), [sbom.digest]);
        } else {
          assert.equal(fallback.status, 200, `the fallback tag is written (${api === 'lying' ? 'OCI-Subject was answered, but the API lists nothing' : 'no API'})`);
          assert.deepEqual((JSON.parse(fallback.bytes.toString()) as { manifests: Array<{ digest: string }> }).manifests.map((m) => m.digest), [sbom.digest]);
          if (api === 'lying') assert.ok(proxy.played.some((x) => x.startsWith('lying PUT')), 'the proxy answered OCI-Subject');
        }
      },
    );

    const mediaTypes = p.referrers.refusesMediaTypeParameters;
    if (mediaTypes) {
      it(`a media type with parameters is refused (${mediaTypes.source}): the referrer is left out with a warning, the publish goes on`, async () => {
        const proxy = await start(without(p, 'denied', 'refusesSubject'));
        const { sbom } = await imageWithSbom(`${name}-mt`, 'amd64', BUNDLE_WITH_PARAMETERS);
        const result = await run({ sources: `${reg.host}/src/${name}-mt:amd64`, tags: `${proxy.host}/${name}/mt:1` });
        assert.deepEqual(result.referrers.map((t) => `${t.digest} ${t.outcome}`), [`${sbom.digest} refused`]);
        assert.ok(proxy.played.some((x) => x.startsWith('refusesMediaTypeParameters PUT')));
        assert.equal(await tagDigest(`${name}/mt`, '1'), result.digest);
      });
    }

    const immutable = p.immutableTags;
    if (immutable) {
      it(`immutable tags (${immutable.status} ${immutable.code}, ${immutable.source}): an identical re-run writes nothing; a move fails quoting the registry and leaves the tag`, async () => {
        const proxy = await start(without(p, 'denied'));
        for (const arch of ['amd64', 'arm64']) await pushImage(direct(), `src/${name}-imm`, arch, { os: 'linux', architecture: arch });
        const tags = `${proxy.host}/${name}/imm:1`;
        const first = await run({ sources: `${reg.host}/src/${name}-imm:amd64`, tags });
        const from = proxy.log.length;
        await run({ sources: `${reg.host}/src/${name}-imm:amd64`, tags });
        assert.deepEqual(puts(proxy, from), [], 'the identical re-run writes nothing');
        const error = await failure({ sources: `${reg.host}/src/${name}-imm:arm64`, tags, retries: '0' });
        assert.ok(error.line.includes(immutable.code) && error.line.includes(immutable.message.slice(0, 40)), error.line);
        if (p.id === 'angos') assert.match(error.line, /publish a new tag.*immutable_tags_exclusions/, 'what to do, known by the wording');
        assert.equal(await tagDigest(`${name}/imm`, '1'), first.digest, 'the tag keeps what it held');

        // With a tag on another registry too: whichever moved first is put back.
        const other = `plain-${name}/imm`;
        const before = await run({ sources: `${reg.host}/src/${name}-imm:amd64`, tags: `${reg.host}/${other}:1` });
        const both = await failure({ sources: `${reg.host}/src/${name}-imm:arm64`, tags: `${tags}\n${reg.host}/${other}:1`, retries: '0' });
        const told = [both.line, ...((both as ActionError & { lines?: string[] }).lines ?? [])].join('\n');
        assert.ok(told.includes(immutable.code), told);
        assert.equal(await tagDigest(other, '1'), before.digest, "the other registry's tag holds what it held");
        assert.equal(await tagDigest(`${name}/imm`, '1'), first.digest);
      });
    }

    const oci = p.index?.ociIndex;
    if (oci) {
      it(`an OCI index is refused (${oci.source}): Docker children publish a Docker list; OCI children fail quoting the registry, no tag moved`, async () => {
        const proxy = await start(p);
        await pushImage(direct(), `src/${name}-oci`, 'docker', { os: 'linux', architecture: 'amd64' });
        await pushImage(direct(), `src/${name}-oci`, 'oci', { os: 'linux', architecture: 'amd64', format: 'oci' });
        const result = await run({ sources: `${reg.host}/src/${name}-oci:docker`, tags: `${proxy.host}/${name}/oci:docker` });
        assert.equal(result.mediaType, 'application/vnd.docker.distribution.manifest.list.v2+json');
        const error = await failure({ sources: `${reg.host}/src/${name}-oci:oci`, tags: `${proxy.host}/${name}/oci:oci`, retries: '0' });
        assert.ok(error.line.includes(oci.code), error.line);
        assert.equal(await tagDigest(`${name}/oci`, 'oci'), undefined);
      });
    }

    if (oci) {
      it(`the sha256-<hex> fallback tag, an OCI index, is refused too (${oci.source}): named in a warning, marked refused, the publish goes on; referrers-refused: fail fails before any tag moves`, async () => {
        const proxy = await start(p);
        const image = await pushImage(direct(), `src/${name}-fb`, 'amd64', { os: 'linux', architecture: 'amd64' });
        const sbom = await pushArtifact(direct(), `src/${name}-fb`, image, SPDX, Buffer.from(JSON.stringify({ name })));
        await putReferrersTag(direct(), `src/${name}-fb`, image, [{ ...sbom, artifactType: SPDX }]);
        const [target, tag] = [`${name}/fb`, fallbackTag(image.digest)];
        const result = await run({ sources: `${reg.host}/src/${name}-fb:amd64`, tags: `${proxy.host}/${target}:1` });
        assert.equal(await tagDigest(target, '1'), result.digest, 'the tag moved');
        assert.deepEqual(result.referrers.map((t) => `${t.kind} ${t.tag ?? t.digest} ${t.outcome}`), [`referrer ${sbom.digest} copied`, `fallback-tag ${tag} refused`]);
        assert.ok(proxy.played.includes(`ociIndex PUT /v2/${target}/manifests/${tag}`), proxy.played.join('\n'));
        assert.match(logs.text, new RegExp(`warning: 127\\.0\\.0\\.1:\\d+/${target} refused the referrers fallback tag ${tag} \\(an OCI index listing 1 referrer\\(s\\) of ${image.digest}\\) \\(HTTP ${oci.status} ${oci.code}`));
        assert.equal((await getManifestBytes(direct(), target, tag)).status, 404, 'no fallback tag');
        // Into a repository that lacks the image: one that holds it takes no referrers from a source.
        const error = await failure({ sources: `${reg.host}/src/${name}-fb:amd64`, tags: `${proxy.host}/${target}-fail:2`, 'referrers-refused': 'fail' });
        assert.match(error.line, new RegExp(`refused the referrers fallback tag ${tag}.*HTTP ${oci.status} ${oci.code}.*Set referrers-refused: warn`));
        assert.equal(await tagDigest(`${target}-fail`, '2'), undefined, 'no tag moved');
      });
    }

    if (p.id === 'harbor-1') {
      it('Harbor 1.8 to 1.10 refuse a Docker list as well (415, https://github.com/goharbor/harbor/issues/8855): the run fails before any tag moves, saying an index needs Harbor 2.0', async () => {
        const body = JSON.stringify({ errors: [{ code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Manifest.list is not supported.' }] });
        const proxy = await start(p, (r) => (r.method === 'PUT' && String(r.headers['content-type']).includes('manifest.list.v2') ? { kind: 'status', status: 415, body } : undefined));
        for (const arch of ['amd64', 'arm64']) await pushImage(direct(), `src/${name}-list`, arch, { os: 'linux', architecture: arch });
        const error = await failure({ sources: `${reg.host}/src/${name}-list:amd64\n${reg.host}/src/${name}-list:arm64`, tags: `${proxy.host}/${name}/list:1`, retries: '0' });
        assert.match(error.line, /415 UNSUPPORTED_MEDIA_TYPE: Manifest\.list is not supported.*upgrade Harbor to 2\.0 or later/);
        assert.equal(await tagDigest(`${name}/list`, '1'), undefined, 'no tag moved');
      });
    }

    const annotated = p.index?.annotatedDockerList;
    if (annotated) {
      it(`an annotated Docker list is refused (${annotated.source}): annotations make the index OCI, which passes`, async () => {
        const proxy = await start(p);
        await pushImage(direct(), `src/${name}-ann`, 'amd64', { os: 'linux', architecture: 'amd64' });
        const result = await run({ sources: `${reg.host}/src/${name}-ann:amd64`, tags: `${proxy.host}/${name}/ann:1`, annotations: 'org.opencontainers.image.version=1' });
        assert.equal(result.mediaType, 'application/vnd.oci.image.index.v1+json');
        assert.ok(!proxy.played.some((x) => x.startsWith('annotatedDockerList')));
      });
    }

    const incomplete = p.index?.incomplete;
    if (incomplete) {
      it(`an index whose children are not in the repository is refused (${incomplete.source}): every child goes in by digest first, so it passes`, async () => {
        const proxy = await start(p);
        for (const arch of ['amd64', 'arm64']) await pushImage(direct(), `src/${name}-inc`, arch, { os: 'linux', architecture: arch });
        const result = await run({ sources: `${reg.host}/src/${name}-inc:amd64\n${reg.host}/src/${name}-inc:arm64`, tags: `${proxy.host}/${name}/inc:1` });
        assert.equal(await tagDigest(`${name}/inc`, '1'), result.digest);
        assert.ok(!proxy.played.some((x) => x.startsWith('incomplete')), proxy.played.join('\n'));
      });
    }

    if (p.mount?.how === 'ignored') {
      it(`a mount answered with a plain upload session (${p.mount.source}): the blobs are uploaded instead`, async () => {
        const proxy = await start(p);
        await pushImage({ url: proxy.url }, `src-${name}/mnt`, 'amd64', { os: 'linux', architecture: 'amd64' });
        const result = await run({ sources: `${proxy.host}/src-${name}/mnt:amd64`, tags: `${proxy.host}/${name}/mnt:1` });
        assert.ok(proxy.played.some((x) => x.startsWith('mountIgnored POST')), proxy.played.join('\n'));
        assert.equal(await tagDigest(`${name}/mnt`, '1'), result.digest);
        assert.equal(result.stats.blobsMounted, 0);
      });
    }

    if (p.mount?.how === 'needs-pull') {
      it(`a mount needs \`pull\` on the source repository in the token (${p.mount.source}): the token asks it, the blobs are mounted`, async () => {
        // The real registry plays this one itself: distribution with token auth checks the source's pull.
        const issuer = await startTokenIssuer({ users: { ci: 'ci-pass-123' } });
        const tokens = await startRegistry({ token: { realm: issuer.realm, service: issuer.service, issuer: issuer.issuer, rootCertBundle: issuer.rootCertBundle } });
        try {
          const t = { url: tokens.url, authorization: (scope: string) => `Bearer ${issuer.mint('ci', [scope])}` };
          await pushImage(t, `src/${name}-pull`, 'amd64', { os: 'linux', architecture: 'amd64' });
          const result = await run({ sources: `${tokens.host}/src/${name}-pull:amd64`, tags: `${tokens.host}/${name}/pull:1`, username: 'ci', password: 'ci-pass-123' });
          assert.ok(result.stats.blobsMounted > 0, `mounted ${result.stats.blobsMounted}`);
          assert.ok(issuer.requests.some((r) => r.scopes.includes(`repository:src/${name}-pull:pull`)), JSON.stringify(issuer.requests.map((r) => r.scopes)));
        } finally {
          await tokens.stop();
          await issuer.stop();
        }
      });
    }

    const deletes = p.deleteByTag;
    if (deletes) {
      it(`DELETE by tag ${deletes.allowed ? 'allowed' : 'refused'} (${deletes.source}): a tag the failed run created is ${deletes.allowed ? 'deleted' : 'left, and reported'}`, async () => {
        const proxy = await start(p, (r) => (r.method === 'PUT' && r.url.endsWith('/manifests/refused') ? { kind: 'status', status: 403, body: '{"errors":[{"code":"DENIED","message":"injected"}]}' } : undefined));
        await pushImage(direct(), `src/${name}-del`, 'amd64', { os: 'linux', architecture: 'amd64' });
        const error = await failure({ sources: `${reg.host}/src/${name}-del:amd64`, tags: `${proxy.host}/${name}/del:created\n${proxy.host}/${name}/del-b:refused`, retries: '0' });
        assert.ok(error.line.length > 0);
        const created = await tagDigest(`${name}/del`, 'created');
        if (deletes.allowed) assert.equal(created, undefined, 'the created tag was deleted');
        else assert.notEqual(created, undefined, 'the registry refused DELETE by tag: the tag is still there (and reported)');
      });
    }

    const strict = p.strictAccept;
    if (strict) {
      it(`a manifest read whose Accept does not name the stored type is a 404 (${strict.source}): the action's reads name every type`, async () => {
        const proxy = await start(without(p, 'denied', 'tagLag'));
        for (const arch of ['amd64', 'arm64']) await pushImage(direct(), `src/${name}-acc`, arch, { os: 'linux', architecture: arch, format: 'oci' });
        await run({ sources: `${proxy.host}/src/${name}-acc:amd64`, tags: `${proxy.host}/${name}/acc:1`, 'media-type': 'oci' });
        const result = await run({ sources: `${proxy.host}/src/${name}-acc:arm64`, tags: `${proxy.host}/${name}/acc:1`, append: 'true' });
        assert.deepEqual(result.platforms, ['linux/amd64', 'linux/arm64']);
        assert.ok(!proxy.played.some((x) => x.startsWith('strictAccept')), proxy.played.join('\n'));
        const narrow = await fetch(`${proxy.url}/v2/${name}/acc/manifests/1`, { headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' } });
        assert.equal(narrow.status, 404, 'the proxy does play the quirk');
        assert.match(await narrow.text(), new RegExp(strict.message));
      });
    }

    const denied = p.denied;
    if (denied) {
      it(`writes refused with the registry's own 403 (${denied.source}): one line quoting its code and message and saying what to change`, async () => {
        const proxy = await start(p);
        await pushImage(direct(), `src/${name}-den`, 'amd64', { os: 'linux', architecture: 'amd64' });
        const error = await failure({ sources: `${reg.host}/src/${name}-den:amd64`, tags: `${proxy.host}/${name}/den:1`, retries: '0' });
        assert.ok(error.line.includes(`${denied.code}: ${denied.message}`), error.line);
        if (p.id === 'ghcr') {
          assert.match(error.line, /`packages: write`/);
          assert.match(error.line, /Manage Actions access/);
        }
        assert.equal(await tagDigest(`${name}/den`, '1'), undefined);
      });
    }

    if (p.tagLag) {
      it(`a tag just written reads as absent for a moment (${p.tagLag.source}): an immediate re-run still publishes the same digest`, async () => {
        const proxy = await start(without(p, 'denied'));
        await pushImage(direct(), `src/${name}-lag`, 'amd64', { os: 'linux', architecture: 'amd64' });
        const inputs = { sources: `${reg.host}/src/${name}-lag:amd64`, tags: `${proxy.host}/${name}/lag:1` };
        const first = await run(inputs);
        const again = await run(inputs);
        assert.equal(again.digest, first.digest);
        assert.ok(proxy.played.some((x) => x.startsWith('tagLag')), 'the re-run met the lag');
        assert.equal(await tagDigest(`${name}/lag`, '1'), first.digest);
      });

      describe('append right after a write', () => {
        const settle = [...appendSettle.waitsMs];
        before(() => void (appendSettle.waitsMs = [50, 100, 200, 400])); // 750 ms in all, against a lag of 400 ms
        after(() => void (appendSettle.waitsMs = settle));
        const images = async (repo: string) => {
          for (const arch of ['amd64', 'arm64']) await pushImage(direct(), repo, arch, { os: 'linux', architecture: arch });
        };

        it(`the base tag reads as absent for a moment (${p.tagLag?.source}): it is read again until it shows, the platforms already there are kept`, async () => {
          const proxy = await start(without(p, 'denied'), undefined, { tagLagMs: 400 });
          await images(`src/${name}-lagapp`);
          const tags = `${proxy.host}/${name}/lagapp:1`;
          await run({ sources: `${reg.host}/src/${name}-lagapp:amd64`, tags });
          const from = proxy.played.length;
          const result = await run({ sources: `${reg.host}/src/${name}-lagapp:arm64`, tags, append: 'true' });
          assert.ok(proxy.played.slice(from).some((x) => x.startsWith('tagLag HEAD')), 'the append met the lag');
          assert.deepEqual(result.platforms, ['linux/amd64', 'linux/arm64'], 'the platform already there is kept');
          assert.equal(await tagDigest(`${name}/lagapp`, '1'), result.digest);
          assert.doesNotMatch(logs.text, /no index at/);
        });

        it('the base tag still reads as absent after the re-reads: a warning names it, only the sources\' platforms are published', async () => {
          const proxy = await start(without(p, 'denied'), undefined, { tagLagMs: 60_000 });
          await images(`src/${name}-laglong`);
          const tags = `${proxy.host}/${name}/laglong:1`;
          await run({ sources: `${reg.host}/src/${name}-laglong:amd64`, tags });
          const result = await run({ sources: `${reg.host}/src/${name}-laglong:arm64`, tags, append: 'true' });
          assert.deepEqual(result.platforms, ['linux/arm64']);
          assert.match(logs.text, new RegExp(`warning: append: no index at ${proxy.host.replace(/\./g, '\\.')}/${name}/laglong:1 yet \\(absent in 5 reads over 0\\.8 s\\): publishing only the sources' platforms`));
        });

        it("the base tag shows but its bytes (GET by digest) lag: read again until they come; when they never do, the run fails before any write", async () => {
          // No source shows a registry serving a tag's digest before its bytes: a rule plays it (a 404 MANIFEST_UNKNOWN on the GET by digest).
          let base = '';
          let misses = 0;
          const proxy = await start(without(p, 'denied', 'tagLag'), (r) =>
            r.method === 'GET' && base && r.url.endsWith(`/manifests/${base}`) && misses-- > 0
              ? { kind: 'status', status: 404, body: JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }) }
              : undefined,
          );
          await images(`src/${name}-lagbytes`);
          const tags = `${proxy.host}/${name}/lagbytes:1`;
          base = (await run({ sources: `${reg.host}/src/${name}-lagbytes:amd64`, tags })).digest;
          misses = 2;
          const result = await run({ sources: `${reg.host}/src/${name}-lagbytes:arm64`, tags, append: 'true' });
          assert.deepEqual(result.platforms, ['linux/amd64', 'linux/arm64']);
          assert.equal(misses, -1, 'two GETs answered 404, the third read the bytes');

          base = result.digest;
          misses = Number.POSITIVE_INFINITY;
          const from = proxy.log.length;
          const error = await failure({ sources: `${reg.host}/src/${name}-lagbytes:amd64`, tags: `${tags}\n${proxy.host}/${name}/lagbytes:2`, append: 'true' });
          assert.match(error.line, new RegExp(`append: .*/${name}/lagbytes:1 holds ${base}, but the index itself could not be read .*MANIFEST_UNKNOWN`));
          assert.deepEqual(puts(proxy, from), [], 'nothing was written');
          assert.equal(await tagDigest(`${name}/lagbytes`, '1'), result.digest);
          assert.equal(await tagDigest(`${name}/lagbytes`, '2'), undefined);
        });
      });
    }
  });
}

describe('rate limits (429), on any registry', () => {
  for (const limit of RATE_LIMITS) {
    it(`a 429 with a ${limit.body === 'text' ? 'text/plain' : 'JSON'} body and Retry-After as ${limit.retryAfter} (${limit.source}) is waited out and retried`, async () => {
      let answered = false;
      const retryAfter = limit.retryAfter === 'seconds' ? '1' : new Date(Date.now() + 1000).toUTCString();
      const body = limit.body === 'text' ? 'Too Many Requests (HAP429).\n' : JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: 'You have reached your pull rate limit.' }] });
      const proxy = await startProfileProxy(reg.url, profile('distribution-2.8'), (r) => {
        if (answered || r.method !== 'PUT' || !r.url.endsWith('/manifests/1')) return undefined;
        answered = true;
        return { kind: 'status', status: 429, headers: { 'retry-after': retryAfter, 'content-type': limit.body === 'text' ? 'text/plain' : 'application/json' }, body };
      });
      try {
        await pushImage(direct(), `src/rate-${limit.body}-${limit.retryAfter}`, 'amd64', { os: 'linux', architecture: 'amd64' });
        const result = await run({ sources: `${reg.host}/src/rate-${limit.body}-${limit.retryAfter}:amd64`, tags: `${proxy.host}/rate/${limit.body}-${limit.retryAfter}:1` });
        assert.ok(answered);
        const tagPuts = proxy.log.filter((r) => r.method === 'PUT' && r.url.endsWith('/manifests/1'));
        assert.deepEqual(tagPuts.map((r) => r.status), [429, 201], 'the refused write went again');
        assert.equal(await tagDigest(`rate/${limit.body}-${limit.retryAfter}`, '1'), result.digest);
      } finally {
        await proxy.stop();
      }
    });
  }
});
