/**
 * publish() in this process against a real registry: no dist/ rebuild needed to see a change.
 * (The subprocess tests of dist/ in publish.test.ts and others keep the runner contract.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { getInputs } from '../../../src/inputs.ts';
import { publishInputs } from '../../../src/publish/index.ts';
import type { PublishResult } from '../../../src/publish/result.ts';
import { startFaultProxy } from '../../helpers/fault-proxy.ts';
import { type Pushed, getManifestBytes, pushImage, sha256 } from '../../helpers/images.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';
import { withoutMachineCredentials } from '../../helpers/docker-config.ts';
import { logsPerTest } from '../../helpers/logs.ts';

const FOUR = [
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64', variant: 'v8' },
  { os: 'linux', architecture: 'arm', variant: 'v7' },
  { os: 'linux', architecture: 's390x' },
];

describe('publish() in process (real registry)', () => {
  let reg: RunningRegistry;
  const t = () => ({ url: reg.url });
  const logs = logsPerTest();
  withoutMachineCredentials();
  before(async () => {
    reg = await startRegistry();
  });
  after(async () => {
    await reg?.stop();
  });

  const run = (inputs: Record<string, string>): Promise<PublishResult> => publishInputs(getInputs((name) => inputs[name] ?? ''));

  it('one repository, one tag: 2N+3 requests (the ping; no index PUT by digest when one tag moves), the tag holds the bytes whose digest is returned', async () => {
    const pushed: Pushed[] = [];
    for (const p of FOUR) pushed.push(await pushImage(t(), 'one', p.architecture, p));
    const from = await reg.mark();
    const result = await run({ sources: FOUR.map((p) => `${reg.host}/one:${p.architecture}`).join('\n'), tags: `${reg.host}/one:1` });
    const requests = (await reg.mark()) - from - 1; // minus the marker request itself
    // The registry's ping; per source a manifest GET and a config GET; the tag's GET and its PUT.
    // With one tag to move, its PUT is the only write that can fail: no separate index PUT by digest first.
    const log = reg.requests().slice(from);
    assert.equal(requests, 2 * FOUR.length + 3, log.join('\n'));
    assert.equal(log.filter((l) => /PUT \/v2\/one\/manifests\/sha256:/.test(l)).length, 0, log.join('\n'));
    assert.equal(result.stats.requests, requests);
    const got = await getManifestBytes(t(), 'one', '1');
    assert.equal(sha256(got.bytes), result.digest);
    assert.equal(got.bytes.toString(), result.manifest);
    assert.deepEqual(result.platforms, ['linux/amd64', 'linux/arm64/v8', 'linux/arm/v7', 'linux/s390x']);
    assert.deepEqual(result.entries.map((e) => e.descriptor.digest), pushed.map((p) => p.digest));
    assert.deepEqual(result.entries.map((e) => e.line), FOUR.map((p) => `${reg.host}/one:${p.architecture}`));
    assert.deepEqual(result.pushed, [`${reg.host}/one:1`]);
    assert.deepEqual(result.plan, [{ target: `${reg.host}/one`, present: 4, toMount: 0, toCopy: 0 }]);
  });

  it('one repository, two tags: the index goes in by digest before either tag moves', async () => {
    for (const p of FOUR.slice(0, 2)) await pushImage(t(), 'two', p.architecture, p);
    const from = await reg.mark();
    const result = await run({ sources: FOUR.slice(0, 2).map((p) => `${reg.host}/two:${p.architecture}`).join('\n'), tags: `${reg.host}/two:1\n${reg.host}/two:latest` });
    const log = reg.requests().slice(from);
    const byDigest = log.findIndex((l) => l.includes(`PUT /v2/two/manifests/${result.digest}`));
    const firstTag = log.findIndex((l) => /PUT \/v2\/two\/manifests\/(1|latest)\b/.test(l));
    assert.ok(byDigest !== -1 && firstTag > byDigest, log.join('\n'));
    assert.equal(result.stats.requests, 2 * 2 + 6, 'the ping, manifest and config per source, two tag GETs, the index by digest, two tag PUTs');
  });

  it('cross-repository: every blob mounted, every entry PUT by digest into the target', async () => {
    const pushed: Pushed[] = [];
    for (const [i, p] of FOUR.slice(0, 3).entries()) pushed.push(await pushImage(t(), `team/app-${i}`, 'v1', p));
    const result = await run({ sources: [0, 1, 2].map((i) => `${reg.host}/team/app-${i}:v1`).join(', '), tags: `${reg.host}/team/app:v1\n${reg.host}/team/app:latest` });
    assert.deepEqual(result.plan, [{ target: `${reg.host}/team/app`, present: 0, toMount: 3, toCopy: 0 }]);
    assert.equal(result.stats.blobsMounted, 6, 'a config and a layer per image');
    assert.equal(result.stats.blobsCopied, 0);
    for (const p of pushed) assert.equal((await getManifestBytes(t(), 'team/app', p.digest)).status, 200);
    assert.deepEqual(result.pushed, [`${reg.host}/team/app:v1`, `${reg.host}/team/app:latest`]);
    for (const tag of ['v1', 'latest']) assert.equal(sha256((await getManifestBytes(t(), 'team/app', tag)).bytes), result.digest);
  });

  it('append keeps the platforms at the first tag and adds the new one', async () => {
    const amd = await pushImage(t(), 'apd', 'amd64', FOUR[0]!);
    const arm = await pushImage(t(), 'apd', 'arm64', FOUR[1]!);
    const s390x = await pushImage(t(), 'apd', 's390x', FOUR[3]!);
    await run({ sources: `${reg.host}/apd:amd64\n${reg.host}/apd:arm64`, tags: `${reg.host}/apd:latest` });
    const appended = await run({ sources: `${reg.host}/apd:s390x`, tags: `${reg.host}/apd:latest`, append: 'true' });
    assert.deepEqual(appended.platforms, ['linux/amd64', 'linux/arm64/v8', 'linux/s390x']);
    assert.deepEqual(appended.entries.map((e) => e.line), [`${reg.host}/apd:latest (existing)`, `${reg.host}/apd:latest (existing)`, `${reg.host}/apd:s390x`]);
    const index = JSON.parse((await getManifestBytes(t(), 'apd', 'latest')).bytes.toString());
    assert.deepEqual(index.manifests.map((m: { digest: string }) => m.digest), [amd.digest, arm.digest, s390x.digest]);
  });

  it('a dry run plans and returns the digest, and writes nothing', async () => {
    for (const p of FOUR.slice(0, 2)) await pushImage(t(), 'dry/src', p.architecture, p);
    const inputs = { sources: `${reg.host}/dry/src:amd64\n${reg.host}/dry/src:arm64`, tags: `${reg.host}/dry/dst:1` };
    const from = await reg.mark();
    const dry = await run({ ...inputs, push: 'false' });
    assert.deepEqual(await reg.writesSince(from), []);
    assert.equal(dry.dryRun, true);
    assert.deepEqual(dry.pushed, []);
    assert.deepEqual(dry.plan, [{ target: `${reg.host}/dry/dst`, present: 0, toMount: 2, toCopy: 0 }]);
    assert.match(logs.text, /push is false: nothing was written/);
    assert.equal((await getManifestBytes(t(), 'dry/dst', '1')).status, 404);
    const real = await run(inputs);
    assert.equal(real.digest, dry.digest, 'the dry run announced the digest the real run produced');
  });

  it('a failure while copying leaves new and existing tags untouched', async () => {
    const existing = await pushImage(t(), 'safe', 'stable', FOUR[1]!);
    const pushed = [await pushImage(t(), 'safe/src', 'amd64', FOUR[0]!), await pushImage(t(), 'safe/src', 'arm64', FOUR[1]!)];
    // The sources are read through a proxy (another registry name, so blobs are copied) that
    // corrupts every blob; platform overrides skip the config reads, so the copy is reached.
    const proxy = await startFaultProxy(reg.url, (r) => (r.method === 'GET' && r.url.includes('/blobs/') ? { kind: 'corrupt' } : undefined));
    try {
      const from = await reg.mark();
      await assert.rejects(
        run({
          sources: `${proxy.host}/safe/src@${pushed[0]!.digest} platform=linux/amd64\n${proxy.host}/safe/src@${pushed[1]!.digest} platform=linux/arm64/v8`,
          tags: `${reg.host}/safe:stable\n${reg.host}/safe:new`,
        }),
        /a blob being copied does not match its digest: expected sha256:[a-f0-9]{64}, got sha256:[a-f0-9]{64}/,
      );
      const writes = await reg.writesSince(from);
      assert.ok(writes.length > 0, 'the copy had started');
      assert.deepEqual(writes.filter((l) => /PUT \/v2\/safe\/manifests\//.test(l)), [], 'no manifest written to the target');
      assert.equal(sha256((await getManifestBytes(t(), 'safe', 'stable')).bytes), existing.digest);
      assert.equal((await getManifestBytes(t(), 'safe', 'new')).status, 404);
    } finally {
      await proxy.stop();
    }
  });

  describe('annotation lines that do not apply to an index', () => {
    before(async () => {
      await pushImage(t(), 'ann', 'amd64', FOUR[0]!);
    });
    const base = () => ({ sources: `${reg.host}/ann:amd64`, tags: `${reg.host}/ann:1`, push: 'false' });

    it('all skipped (metadata-action default level manifest): one warning saying none applied and how to fix it', async () => {
      const result = await run({ ...base(), annotations: 'manifest:org.opencontainers.image.title=demo\nmanifest:org.opencontainers.image.version=1.0' });
      const warnings = logs.text.split('\n').filter((l) => l.startsWith('warning: '));
      assert.equal(warnings.length, 1, logs.text);
      assert.match(warnings[0]!, /none of the 2 annotation line\(s\) was applied/);
      assert.match(warnings[0]!, /none is for an index \(e\.g\. 'manifest:org\.opencontainers\.image\.title=demo'\)/);
      assert.match(warnings[0]!, /DOCKER_METADATA_ANNOTATIONS_LEVELS: index/);
      assert.match(warnings[0]!, /prefix the lines with index:/);
      assert.doesNotMatch(logs.text, /annotation skipped/);
      assert.equal(JSON.parse(result.manifest).annotations, undefined);
    });

    it('some skipped: an info line per skipped line, no warning', async () => {
      const result = await run({ ...base(), annotations: 'index:org.opencontainers.image.title=demo\nmanifest:org.opencontainers.image.version=1.0' });
      assert.doesNotMatch(logs.text, /^warning: /m);
      assert.match(logs.text, /^annotation skipped \(does not apply to an index\): manifest:org\.opencontainers\.image\.version=1\.0$/m);
      assert.deepEqual(JSON.parse(result.manifest).annotations, { 'org.opencontainers.image.title': 'demo' });
    });

    it('none given: neither', async () => {
      await run(base());
      assert.doesNotMatch(logs.text, /^warning: |annotation skipped/m);
    });
  });
});
