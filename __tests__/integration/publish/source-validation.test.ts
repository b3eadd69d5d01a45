/**
 * What a source brings is validated before any write, and printed inert (issue 12): the action
 * (run() in process) against a real registry holding hostile source indexes and configs (the
 * registry stores them as given), or, for documents the registry itself refuses to store (an array
 * as os, a string as annotations), the real registry behind a proxy that replaces the source
 * index's body. Each run is read as the runner reads it (helpers/runner-text.ts: stdout and stderr
 * split at \n and \r, every line that starts with `::` or holds `##[` is a command).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { runInProcess } from '../../helpers/in-process.ts';
import { type FaultProxy, startFaultProxy } from '../../helpers/fault-proxy.ts';
import { type Pushed, getManifestBytes, pushImage, putManifest } from '../../helpers/images.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';
import { FORGED_DIGEST, INJECTION, assertInert, commandsIn, failureText } from '../../helpers/runner-text.ts';

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

describe('what a source index or config may hold (real registry)', () => {
  let reg: RunningRegistry;
  let proxy: FaultProxy;
  let image: Pushed;
  let n = 0;
  const t = () => ({ url: reg.url });
  before(async () => {
    reg = await startRegistry();
    proxy = await startFaultProxy(reg.url);
    image = await pushImage(t(), 'src', 'amd64', { os: 'linux', architecture: 'amd64', format: 'oci' });
  });
  after(async () => {
    await proxy?.stop();
    await reg?.stop();
  });

  const indexOf = (...manifests: unknown[]) => Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }));
  const entryOf = (platform: unknown, extra: Record<string, unknown> = {}) => ({ mediaType: image.mediaType, digest: image.digest, size: image.size, platform, ...extra });

  /** Stores `bytes` as a source index, publishes it to another repository, returns the run and the writes. */
  async function publishStored(bytes: Buffer, inputs: Record<string, string> = {}) {
    const tag = `hostile-${++n}`;
    await putManifest(t(), 'src', tag, bytes, OCI_INDEX);
    const from = await reg.mark();
    const run = await runInProcess({ sources: `${reg.host}/src:${tag}`, tags: `${reg.host}/dst:${tag}`, ...inputs });
    return { run, tag, writes: await reg.writesSince(from) };
  }

  /** The registry will not store `bytes`: serve them, through the proxy, as the answer for a stored index. */
  async function publishServed(bytes: Buffer) {
    const tag = `served-${++n}`;
    await putManifest(t(), 'src', tag, indexOf(entryOf({ os: 'linux', architecture: 'amd64' })), OCI_INDEX);
    proxy.setRule((r) => (r.method === 'GET' && r.url.endsWith(`/manifests/${tag}`) ? { kind: 'body', body: bytes } : undefined));
    const from = await reg.mark();
    try {
      const run = await runInProcess({ sources: `${proxy.host}/src:${tag}`, tags: `${reg.host}/dst:${tag}` });
      return { run, tag, writes: await reg.writesSince(from) };
    } finally {
      proxy.setRule(() => undefined);
    }
  }

  async function assertNothingAt(tag: string) {
    assert.equal((await getManifestBytes(t(), 'dst', tag)).status, 404, 'the target tag was not written');
  }

  it('platform.os with \\n and :: commands: refused before any write, quoted, no command issued', async () => {
    const { run, tag, writes } = await publishStored(indexOf(entryOf({ os: INJECTION, architecture: 'amd64' })));
    assert.equal(run.code, 1, run.stdout);
    assertInert(run, { failed: true });
    assert.match(failureText(run), /invalid manifest from 127\.0\.0\.1:\d+\/src:hostile-\d+: manifests\[0\]\.platform\.os is "linux\\n::error title=pwned::owned\\n::set-output name=digest::sha256:6+": expected a lowercase token/);
    assert.deepEqual(writes, []);
    assert.deepEqual(run.outputs, {});
    assert.equal(run.summary, '');
    await assertNothingAt(tag);
  });

  it('platform.os with a lone \\r (the runner splits lines there too): refused, no raw \\r printed', async () => {
    const { run, writes } = await publishStored(indexOf(entryOf({ os: `linux\r::set-output name=digest::${FORGED_DIGEST}`, architecture: 'amd64' })));
    assert.equal(run.code, 1, run.stdout);
    assertInert(run, { failed: true });
    assert.match(failureText(run), /platform\.os is "linux\\r::set-output/);
    assert.deepEqual(writes, []);
  });

  it('a config whose os holds commands: refused naming the config, before any write', async () => {
    await pushImage(t(), 'src', 'evil-config', { os: 'linux', architecture: 'amd64', configOverride: { os: `${INJECTION}\r::add-mask::x` } });
    const from = await reg.mark();
    const run = await runInProcess({ sources: `${reg.host}/src:evil-config`, tags: `${reg.host}/dst:evil-config` });
    assert.equal(run.code, 1, run.stdout);
    assertInert(run, { failed: true });
    assert.match(failureText(run), /invalid image config from 127\.0\.0\.1:\d+\/src:evil-config \(config sha256:[a-f0-9]{64}\): os is "linux\\n::error/);
    assert.deepEqual(await reg.writesSince(from), []);
  });

  // Shapes the registry will not store, served through the proxy as the source index's body.
  const served: Array<[string, () => unknown, RegExp]> = [
    ['"os": ["linux"]', () => entryOf({ os: ['linux'], architecture: 'amd64' }), /manifests\[0\]\.platform\.os is \["linux"\]: expected a lowercase token/],
    ['an object as architecture', () => entryOf({ os: 'linux', architecture: { evil: '\n::error::x' } }), /manifests\[0\]\.platform\.architecture is \{"evil":"\\n::error::x"\}/],
    ['"annotations": "abc"', () => entryOf({ os: 'linux', architecture: 'amd64' }, { annotations: 'abc' }), /manifests\[0\]\.annotations is "abc": expected a map of strings/],
    ['a string os.features (was "Registry unreachable" with code text)', () => entryOf({ os: 'linux', architecture: 'amd64', 'os.features': 'abc' }), /manifests\[0\]\.platform\.os\.features is "abc": expected an array/],
  ];
  for (const [name, entry, message] of served) {
    it(`a source index with ${name}: refused before any write, naming source and field`, async () => {
      const { run, tag, writes } = await publishServed(indexOf(entry()));
      assert.equal(run.code, 1, run.stdout);
      assertInert(run, { failed: true });
      assert.match(commandsIn(run.stdout).find((l) => l.startsWith('::error')) as string, /^::error title=Registry returned inconsistent content::1 of 1 source\(s\) could not be read; nothing was written: .*\(invalid manifest from 127\.0\.0\.1:\d+\/src:served-\d+: /);
      assert.match(failureText(run), message);
      assert.deepEqual(writes, []);
      await assertNothingAt(tag);
    });
  }

  it("a declared size that differs from the child's bytes: refused before any write", async () => {
    const { run, tag, writes } = await publishStored(indexOf({ ...entryOf({ os: 'linux', architecture: 'amd64' }), size: image.size + 5 }));
    assert.equal(run.code, 1, run.stdout);
    assertInert(run, { failed: true });
    assert.match(failureText(run), new RegExp(`invalid index from 127\\.0\\.0\\.1:\\d+/src:${tag}: the entry for ${image.digest}: size is ${image.size + 5}: expected ${image.size}, the size of that manifest`));
    assert.deepEqual(writes, []);
    await assertNothingAt(tag);
  });

  it('a source index pretty-printed past 4 MiB: refused before any child is written, saying why', async () => {
    // 200 000 short annotations: 2.8 MB as sent, past 4 MiB once written with indentation.
    const annotations = Object.fromEntries(Array.from({ length: 200_000 }, (_, i) => [`k${i}`, 'v']));
    const { run, tag, writes } = await publishStored(indexOf(entryOf({ os: 'linux', architecture: 'amd64' }, { annotations })));
    assert.equal(run.code, 1, run.stdout);
    assertInert(run, { failed: true });
    assert.match(failureText(run), /the index would be \d+ bytes, over the 4194304 bytes \(4 MiB\) a registry accepts for a manifest: it has 1 entries \(0 attestations\) and \d+ bytes of descriptor annotations; nothing was written/);
    assert.deepEqual(writes, []);
    await assertNothingAt(tag);
  });

  it('property: any string as a platform in a stored source index prints no command the action did not issue', async () => {
    const strings = fc.sample(
      fc.array(fc.constantFrom('::', '\n', '\r', ' ', 'set-output name=digest::x', 'error', '##[', '|', '![](u)', '# h', 'linux', '\u2028', '%0A'), { minLength: 1, maxLength: 8 }).map((a) => a.join('')),
      { numRuns: 6, seed: 12 },
    );
    for (const os of strings) {
      const { run, writes } = await publishStored(indexOf(entryOf({ os, architecture: 'amd64' })));
      const accepted = /^[a-z0-9_.-]+$/.test(os);
      assertInert(run, { failed: !accepted });
      if (!accepted) assert.deepEqual(writes, [], JSON.stringify(os));
    }
  });
});
