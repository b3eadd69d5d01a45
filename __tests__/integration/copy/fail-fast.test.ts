/**
 * The first permanent failure of the copy phase stops it, as `docker push` does: the copies still
 * running are dropped (their source GET and their upload cut), nothing is left reading or writing,
 * and the run fails with that first error, not with a dropped copy's. Real registries: a proxy in
 * front of the source answers one layer with a 404 at once and throttles the other (a slow link);
 * a proxy in front of the target sees the upload cut (and, in the second case, refuses one child
 * manifest's PUT while another image's layer streams slowly).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { getInputs } from '../../../src/inputs.ts';
import { publishInputs } from '../../../src/publish/index.ts';
import { type FaultProxy, startFaultProxy } from '../../helpers/fault-proxy.ts';
import { pushImage } from '../../helpers/images.ts';
import { logsPerTest } from '../../helpers/logs.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';
import { withoutMachineCredentials } from '../../helpers/docker-config.ts';

const MiB = 1024 * 1024;
/** The slow layer: 6 MiB at 256 KiB/s, 24 s to copy whole. */
const SLOW_BYTES = 6 * MiB;
const RATE = 256 * 1024;

const blobGetOf = (digest: string) => (r: { method: string; url: string }) => r.method === 'GET' && r.url.endsWith(`/blobs/${digest}`);

/** Waits (a bounded while) until every exchange the proxy saw is over. */
async function allClosed(proxy: FaultProxy, ms: number): Promise<boolean> {
  for (const stop = Date.now() + ms; Date.now() < stop; await sleep(50)) if (proxy.log.every((r) => r.closed)) return true;
  return proxy.log.every((r) => r.closed);
}

describe('copy phase: the first permanent failure stops the copies still running', () => {
  let a: RunningRegistry;
  let b: RunningRegistry;
  const logs = logsPerTest();
  let slowDigest = '';
  let failingDigest = '';
  /** Two images: amd64 small (its manifest PUT refused), arm64 with the slow layer. */
  let refusedManifest = '';
  let slowArmLayer = '';
  const strays: unknown[] = [];
  const onStray = (e: unknown) => strays.push(e);
  withoutMachineCredentials();
  before(async () => {
    a = await startRegistry();
    b = await startRegistry();
    const slow = randomBytes(SLOW_BYTES);
    const failing = randomBytes(4096);
    const image = await pushImage({ url: a.url }, 'fail/app', 'amd64', { os: 'linux', architecture: 'amd64', layers: [slow, failing] });
    const manifest = JSON.parse(image.bytes.toString('utf8')) as { layers: Array<{ digest: string }> };
    slowDigest = manifest.layers[0]?.digest as string;
    failingDigest = manifest.layers[1]?.digest as string;
    refusedManifest = (await pushImage({ url: a.url }, 'two/app', 'amd64', { os: 'linux', architecture: 'amd64', layers: [randomBytes(4096)] })).digest;
    const arm = await pushImage({ url: a.url }, 'two/app', 'arm64', { os: 'linux', architecture: 'arm64', layers: [randomBytes(SLOW_BYTES)] });
    slowArmLayer = (JSON.parse(arm.bytes.toString('utf8')) as { layers: Array<{ digest: string }> }).layers[0]?.digest as string;
    process.on('unhandledRejection', onStray);
    process.on('uncaughtException', onStray);
  });
  after(async () => {
    process.off('unhandledRejection', onStray);
    process.off('uncaughtException', onStray);
    await a?.stop();
    await b?.stop();
  });

  it('a layer the source refuses (404) while another streams slowly: the run fails at once with the refusal, the slow copy cut at both ends, no tag', async () => {
    const isSlow = blobGetOf(slowDigest);
    const isFailing = blobGetOf(failingDigest);
    const source = await startFaultProxy(a.url, (r) => {
      if (isSlow(r)) return { kind: 'throttle', bytesPerSecond: RATE };
      if (isFailing(r)) return { kind: 'status', status: 404, body: JSON.stringify({ errors: [{ code: 'BLOB_UNKNOWN', message: 'injected: blob unknown to registry' }] }) };
      return undefined;
    });
    const target = await startFaultProxy(b.url);
    try {
      const started = Date.now();
      const failure = await publishInputs(getInputs((name) => ({ sources: `${source.host}/fail/app:amd64`, tags: `${target.host}/fail/app:1` })[name] ?? '')).then(
        () => assert.fail('the run succeeded'),
        (e: unknown) => e as Error,
      );
      const ms = Date.now() - started;

      // The first error, one line, naming the refused blob (not a dropped copy's error).
      assert.match(failure.message, new RegExp(failingDigest), failure.message);
      assert.match(failure.message, /BLOB_UNKNOWN|blob unknown/i, failure.message);
      assert.doesNotMatch(failure.message, new RegExp(slowDigest));
      assert.doesNotMatch(failure.message, /\n/);
      // Long before the slow layer could have copied (24 s at its rate); generous for a loaded machine.
      assert.ok(ms < 10_000, `the run took ${ms} ms`);

      // Nothing left reading or writing, on either side (the proxies see the drops a moment later).
      assert.ok(await allClosed(source, 2000), 'every exchange with the source is over');
      assert.ok(await allClosed(target, 2000), 'every exchange with the target is over');
      // The slow layer's GET was cut before its end, and so was its upload to the target.
      const slowGets = source.log.filter(isSlow);
      assert.ok(slowGets.length >= 1, 'the slow layer was asked for');
      assert.ok(slowGets.every((r) => r.cut === true), JSON.stringify(slowGets.map(({ n, cut, closed }) => ({ n, cut, closed }))));
      const uploads = target.log.filter((r) => r.method === 'PUT' && r.url.includes(`digest=${encodeURIComponent(slowDigest)}`));
      assert.ok(uploads.length >= 1, `the slow layer's upload started:\n${target.log.map((r) => `${r.method} ${r.url}`).join('\n')}`);
      assert.ok(uploads.every((r) => r.cut === true && (r.received ?? 0) < SLOW_BYTES), JSON.stringify(uploads.map(({ received, cut }) => ({ received, cut }))));
      // No retry of the slow layer in chunks once the phase has failed.
      assert.equal(target.log.filter((r) => r.method === 'PATCH').length, 0);
      assert.doesNotMatch(logs.text, new RegExp(`upload of ${slowDigest} .*trying again in chunks`));

      // No tag moved (the tag phase comes after the copies).
      assert.equal((await fetch(`${b.url}/v2/fail/app/manifests/1`, { method: 'HEAD' })).status, 404);
      // A dropped copy's failure surfaces nowhere else.
      await sleep(200);
      assert.deepEqual(strays, []);
    } finally {
      await source.stop();
      await target.stop();
    }
  });

  it('a child manifest PUT the target refuses while another image’s layer streams slowly: the run fails at once with the refusal, the slow copy cut', async () => {
    const isSlow = blobGetOf(slowArmLayer);
    const source = await startFaultProxy(a.url, (r) => (isSlow(r) ? { kind: 'throttle', bytesPerSecond: RATE } : undefined));
    const target = await startFaultProxy(b.url, (r) =>
      r.method === 'PUT' && r.url.endsWith(`/manifests/${refusedManifest}`) ? { kind: 'status', status: 400, body: JSON.stringify({ errors: [{ code: 'MANIFEST_INVALID', message: 'injected: manifest invalid' }] }) } : undefined,
    );
    try {
      const started = Date.now();
      const inputs: Record<string, string> = { sources: `${source.host}/two/app:amd64\n${source.host}/two/app:arm64`, tags: `${target.host}/two/app:1` };
      const failure = await publishInputs(getInputs((name) => inputs[name] ?? '')).then(
        () => assert.fail('the run succeeded'),
        (e: unknown) => e as Error,
      );
      const ms = Date.now() - started;
      assert.match(failure.message, new RegExp(refusedManifest), failure.message);
      assert.match(failure.message, /MANIFEST_INVALID/, failure.message);
      assert.doesNotMatch(failure.message, /\n/);
      assert.ok(ms < 10_000, `the run took ${ms} ms`);
      assert.ok(await allClosed(source, 2000), 'every exchange with the source is over');
      assert.ok(await allClosed(target, 2000), 'every exchange with the target is over');
      const slowGets = source.log.filter(isSlow);
      assert.ok(slowGets.length >= 1 && slowGets.every((r) => r.cut === true), JSON.stringify(slowGets.map(({ n, cut }) => ({ n, cut }))));
      const uploads = target.log.filter((r) => r.method === 'PUT' && r.url.includes(`digest=${encodeURIComponent(slowArmLayer)}`));
      assert.ok(uploads.every((r) => r.cut === true && (r.received ?? 0) < SLOW_BYTES), JSON.stringify(uploads.map(({ received, cut }) => ({ received, cut }))));
      assert.equal((await fetch(`${b.url}/v2/two/app/manifests/1`, { method: 'HEAD' })).status, 404);
      await sleep(200);
      assert.deepEqual(strays, []);
    } finally {
      await source.stop();
      await target.stop();
    }
  });
});
