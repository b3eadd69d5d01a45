/**
 * Target tags are read with HEAD, never GET: on Docker Hub a manifest GET counts as a pull and a
 * HEAD does not (docs.docker.com/docker-hub/download-rate-limit, "HEAD requests aren't counted";
 * now docs.docker.com/docker-hub/usage/pulls). Asserted from the request log of a recording
 * proxy in front of a real registry; the bytes are read by digest only where a run needs them
 * (the `append` base here; a put-back in rollback.test.ts).
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { getInputs } from '../../../src/inputs.ts';
import { actionsLogger, consoleLogger, setLogger } from '../../../src/log.ts';
import { publishInputs } from '../../../src/publish/index.ts';
import type { PublishResult } from '../../../src/publish/result.ts';
import { type FaultProxy, startFaultProxy } from '../../helpers/fault-proxy.ts';
import { getManifestBytes, pushImage, sha256 } from '../../helpers/images.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';
import { withoutMachineCredentials } from '../../helpers/docker-config.ts';

const AMD = { os: 'linux', architecture: 'amd64' };
const ARM = { os: 'linux', architecture: 'arm64', variant: 'v8' };
const S390X = { os: 'linux', architecture: 's390x' };

describe('target tags are read with HEAD (request log of a proxy in front of a real registry)', () => {
  let reg: RunningRegistry;
  let proxy: FaultProxy;
  withoutMachineCredentials();
  before(async () => {
    reg = await startRegistry();
    proxy = await startFaultProxy(reg.url);
    for (const p of [AMD, ARM, S390X]) await pushImage({ url: reg.url }, 'app', p.architecture, p);
  });
  after(async () => {
    await proxy?.stop();
    await reg?.stop();
  });
  beforeEach(() => setLogger(consoleLogger({ stream: new Writable({ write: (_c, _e, cb) => cb() }) })));
  afterEach(() => setLogger(actionsLogger));

  const run = (inputs: Record<string, string>): Promise<PublishResult> => publishInputs(getInputs((name) => inputs[name] ?? ''));
  /** The manifest requests the run made through the proxy, as `METHOD reference`. */
  const manifestRequests = (from: number) =>
    proxy.log.slice(from).flatMap((r) => {
      const m = /^\/v2\/app\/manifests\/([^/?]+)$/.exec(r.url);
      return m ? [`${r.method} ${decodeURIComponent(m[1] as string)}`] : [];
    });

  it('a re-tag (one tag moved, one created, then an identical re-run) issues no manifest GET on a target tag', async () => {
    const old = await pushImage({ url: reg.url }, 'app', 'release', S390X); // the tag moved away from an image
    const tags = ['release', 'latest'];
    const inputs = { sources: `${proxy.host}/app:amd64\n${proxy.host}/app:arm64`, tags: tags.map((t) => `${proxy.host}/app:${t}`).join('\n') };
    for (const round of ['first run', 're-run']) {
      const from = proxy.log.length;
      const result = await run(inputs);
      const seen = manifestRequests(from);
      for (const t of tags) {
        assert.deepEqual(
          seen.filter((r) => r.endsWith(` ${t}`) && !r.startsWith('PUT')),
          [`HEAD ${t}`],
          `${round}: ${t} read once, with HEAD:\n${seen.join('\n')}`,
        );
      }
      assert.equal(seen.filter((r) => r.startsWith('GET ')).length, 2, `${round}: the only manifest GETs are the two sources':\n${seen.join('\n')}`);
      if (round === 'first run') assert.deepEqual([...result.pushed].sort(), tags.map((t) => `${proxy.host}/app:${t}`).sort());
      else assert.deepEqual(result.pushed, [], 're-run: nothing to move');
      const got = await getManifestBytes({ url: reg.url }, 'app', 'release');
      assert.equal(sha256(got.bytes), result.digest);
      assert.notEqual(result.digest, old.digest);
    }
  });

  it('append reads the base index by digest (a GET of that digest), the tag itself only with HEAD', async () => {
    const first = await run({ sources: `${proxy.host}/app:amd64`, tags: `${proxy.host}/app:multi` });
    const from = proxy.log.length;
    const result = await run({ sources: `${proxy.host}/app:arm64`, tags: `${proxy.host}/app:multi`, append: 'true' });
    const seen = manifestRequests(from);
    assert.deepEqual(
      seen.filter((r) => / multi$/.test(r) && !r.startsWith('PUT')),
      ['HEAD multi', 'HEAD multi'],
      `read before the run and re-checked before the tag moves, both with HEAD:\n${seen.join('\n')}`,
    );
    assert.ok(seen.includes(`GET ${first.digest}`), `the base read by its digest:\n${seen.join('\n')}`);
    assert.deepEqual(Object.keys(result.platformDigests).sort(), ['linux/amd64', 'linux/arm64/v8']);
  });

  it('a registry that sends no Docker-Content-Digest on HEAD: the tag is read with a GET, its digest computed from the bytes', async () => {
    const first = await run({ sources: `${proxy.host}/app:amd64`, tags: `${proxy.host}/app:nodigest` });
    // The header emptied on the tag's HEAD, as a registry that omits it (the spec's SHOULD) answers.
    proxy.setRule((r) => (r.method === 'HEAD' && r.url === '/v2/app/manifests/nodigest' ? { kind: 'header', name: 'docker-content-digest', value: '' } : undefined));
    try {
      const from = proxy.log.length;
      const again = await run({ sources: `${proxy.host}/app:amd64`, tags: `${proxy.host}/app:nodigest` });
      const seen = manifestRequests(from);
      assert.deepEqual(seen.filter((r) => / nodigest$/.test(r)), ['HEAD nodigest', 'GET nodigest'], seen.join('\n'));
      assert.equal(again.digest, first.digest);
      assert.deepEqual(again.unchanged, [`${proxy.host}/app:nodigest`], 'the digest computed from the bytes shows the tag already at the index: no write');
    } finally {
      proxy.setRule(() => undefined);
    }
  });
});
