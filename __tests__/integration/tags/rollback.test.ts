/**
 * Rollback acts only on what is still this run's (issue 23, finding 6). A hostile registry among
 * the targets chooses when the run fails: it holds its tag write until the trusted registry's tag
 * has moved and another writer (this test) has put a release of its own there, then refuses. The
 * rollback re-reads each moved tag before it puts it back: the other writer's release stays, and
 * the tag is reported as moved by another writer, not restored. A tag nobody else touched is put
 * back as before, its previous bytes read by digest (the request log of a proxy shows it); when
 * those bytes are gone by digest, the tag is reported as left at the new digest, with the fix.
 * The hostile registry is a proxy in front of a real one that refuses a tag write after a delay
 * of its choosing, as a registry under an attacker's control can.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { getInputs } from '../../../src/inputs.ts';
import { publishInputs } from '../../../src/publish/index.ts';
import { PublishFailedError } from '../../../src/publish/result.ts';
import { renderFailure } from '../../../src/summary.ts';
import { type FaultProxy, startFaultProxy, tagPut } from '../../helpers/fault-proxy.ts';
import { getManifestBytes, pushImage, sha256 } from '../../helpers/images.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';
import { withoutMachineCredentials } from '../../helpers/docker-config.ts';
import { logsPerTest } from '../../helpers/logs.ts';

const AMD = { os: 'linux', architecture: 'amd64' };
const ARM = { os: 'linux', architecture: 'arm64', variant: 'v8' };

/** The digest a tag holds now, read from the registry itself; undefined when absent. */
async function digestAt(url: string, repo: string, tag: string): Promise<string | undefined> {
  const got = await getManifestBytes({ url }, repo, tag);
  if (got.status === 404) return undefined;
  assert.equal(got.status, 200);
  return sha256(got.bytes);
}

describe('rollback over another writer (a hostile registry among the targets)', () => {
  let trusted: RunningRegistry;
  let hostileUpstream: RunningRegistry;
  let proxyTrusted: FaultProxy; // passes everything: its log shows what the run asked
  let hostile: FaultProxy;
  withoutMachineCredentials();
  before(async () => {
    trusted = await startRegistry();
    hostileUpstream = await startRegistry();
    proxyTrusted = await startFaultProxy(trusted.url);
    hostile = await startFaultProxy(hostileUpstream.url);
    await pushImage({ url: trusted.url }, 'app', 'amd64', AMD);
    await pushImage({ url: trusted.url }, 'app', 'arm64', ARM);
  });
  after(async () => {
    await hostile?.stop();
    await proxyTrusted?.stop();
    await trusted?.stop();
    await hostileUpstream?.stop();
  });
  const logs = logsPerTest();

  it("a tag another writer moved after the run did keeps the other writer's release and is reported so; an untouched one is put back", async () => {
    const wasRelease = (await pushImage({ url: trusted.url }, 'app', 'release', { os: 'linux', architecture: 'ppc64le' })).digest;
    const wasStable = (await pushImage({ url: trusted.url }, 'app', 'stable', { os: 'linux', architecture: 'riscv64' })).digest;
    let theirs: string | undefined;
    let hookFailed: unknown;
    let held = false;
    const from = proxyTrusted.log.length;
    // The run's write of the trusted tag, once the registry has answered it.
    const trustedWritten = () => proxyTrusted.log.slice(from).some((r) => r.method === 'PUT' && r.url === '/v2/app/manifests/release' && r.status !== undefined);
    hostile.setRule((r) => {
      if (tagPut(r) === undefined) return undefined;
      if (held) return { kind: 'status', status: 500 };
      held = true;
      return {
        kind: 'hook',
        // Wait until the registry has answered the run's write of the trusted tag, then write
        // another release there (the other writer), then refuse this write: the run fails after
        // the other writer's write. The tag is read only once that write is answered:
        // distribution 2.8 rewrites a tag's link file in place, and a GET while it does so is
        // answered 500 UNKNOWN (the reason this test once failed one run in three).
        run: async () => {
          try {
            for (let i = 0; i < 400 && !trustedWritten(); i++) await sleep(25);
            assert.notEqual(await digestAt(trusted.url, 'app', 'release'), wasRelease, 'the run moved the trusted tag');
            theirs = (await pushImage({ url: trusted.url }, 'app', 'release', { os: 'linux', architecture: 's390x' })).digest;
          } catch (e) {
            hookFailed = e;
            throw e;
          }
        },
        status: 500,
      };
    });
    const inputs: Record<string, string> = {
      sources: `${trusted.host}/app:amd64\n${trusted.host}/app:arm64`,
      tags: `${proxyTrusted.host}/app:release\n${proxyTrusted.host}/app:stable\n${hostile.host}/app:release`,
      retries: '1',
      'retry-max-seconds': '1',
    };
    const failure = await publishInputs(getInputs((name) => inputs[name] ?? '')).then(
      () => assert.fail('the run should fail'),
      (e: unknown) => e,
    );
    assert.equal(hookFailed, undefined, `the other writer's write failed: ${String(hookFailed)}`);
    assert.ok(failure instanceof PublishFailedError, String(failure));
    assert.ok(theirs, 'the other writer wrote');

    // The other writer's release stays; the tag nobody else touched is back where it was.
    assert.equal(await digestAt(trusted.url, 'app', 'release'), theirs, "the other writer's release is left as it is");
    assert.equal(await digestAt(trusted.url, 'app', 'stable'), wasStable, 'the untouched tag is put back');
    assert.equal(await digestAt(hostileUpstream.url, 'app', 'release'), undefined, 'the refused tag was not created');

    // The record, the annotation line, the fix and the summary say so.
    const record = failure.records.find((r) => String(r.tag) === `${proxyTrusted.host}/app:release`);
    assert.deepEqual(record?.state, { kind: 'other', now: theirs });
    const line = failure.lines.find((l) => l.startsWith(`${proxyTrusted.host}/app:release: `)) ?? '';
    assert.match(line, /moved by another writer/);
    assert.doesNotMatch(line, /restored/);
    assert.match(line, /another writer moved it meanwhile, and it is left as they wrote it/);
    assert.match(failure.lines.find((l) => l.startsWith(`${proxyTrusted.host}/app:stable: `)) ?? '', new RegExp(`restored to ${wasStable}`));
    assert.match(failure.line, /1 tag\(s\) moved by another writer meanwhile were left as that writer left them; the others this run had moved were put back/);
    assert.match(renderFailure(failure), /moved by another writer/);
    assert.match(logs.text, /left alone, another writer moved it/);

    // From the trusted registry's request log: the tags were read with HEAD only; the put-back
    // read the previous manifest by digest; each moved tag was read again before being acted on.
    const seen = proxyTrusted.log.slice(from).map((r) => `${r.method} ${decodeURIComponent(r.url)}`);
    assert.deepEqual(seen.filter((l) => /^GET \/v2\/app\/manifests\/(release|stable)$/.test(l)), [], seen.join('\n'));
    assert.ok(seen.includes(`GET /v2/app/manifests/${wasStable}`), `the put-back's bytes read by digest:\n${seen.join('\n')}`);
    const stable = seen.filter((l) => /\/v2\/app\/manifests\/stable$/.test(l));
    assert.deepEqual(stable, ['HEAD /v2/app/manifests/stable', 'PUT /v2/app/manifests/stable', 'HEAD /v2/app/manifests/stable', 'PUT /v2/app/manifests/stable'], 'read, moved, read again, put back');
    const release = seen.filter((l) => /\/v2\/app\/manifests\/release$/.test(l));
    assert.deepEqual(release, ['HEAD /v2/app/manifests/release', 'PUT /v2/app/manifests/release', 'HEAD /v2/app/manifests/release'], 'read, moved, read again, left alone');
  });

  it('a put-back whose previous manifest is gone by digest (a registry that deletes untagged manifests) is reported as left, with the fix', async () => {
    const was = (await pushImage({ url: trusted.url }, 'app', 'gone', { os: 'linux', architecture: 'mips64le' })).digest;
    hostile.setRule((r) => (tagPut(r) === undefined ? undefined : { kind: 'status', status: 500 }));
    proxyTrusted.setRule((r) =>
      r.method === 'GET' && r.url === `/v2/app/manifests/${was}`
        ? { kind: 'status', status: 404, body: JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }) }
        : undefined,
    );
    try {
      const inputs: Record<string, string> = {
        sources: `${trusted.host}/app:amd64\n${trusted.host}/app:arm64`,
        tags: `${proxyTrusted.host}/app:gone\n${hostile.host}/app:gone`,
        retries: '1',
        'retry-max-seconds': '1',
      };
      const failure = await publishInputs(getInputs((name) => inputs[name] ?? '')).then(
        () => assert.fail('the run should fail'),
        (e: unknown) => e,
      );
      assert.ok(failure instanceof PublishFailedError, String(failure));
      const record = failure.records.find((r) => String(r.tag) === `${proxyTrusted.host}/app:gone`);
      assert.equal(record?.state.kind, 'left');
      assert.notEqual(await digestAt(trusted.url, 'app', 'gone'), was, 'the tag is where the run left it, as reported');
      const line = failure.lines.find((l) => l.startsWith(`${proxyTrusted.host}/app:gone: `)) ?? '';
      assert.match(line, /putting it back failed \(HTTP 404 MANIFEST_UNKNOWN/);
      assert.match(line, new RegExp(`to put it back: skopeo copy .*@${was} docker://${proxyTrusted.host}/app:gone$`));
      assert.match(failure.line, /1 tag\(s\) could not be put back and point at the new digest/);
    } finally {
      proxyTrusted.setRule(() => undefined);
    }
  });
});
