/**
 * Issue 12, what a registry sends: the action (run() in process) against a real registry holding hostile
 * source indexes and configs (the registry stores them as given), or, for documents the registry
 * itself refuses to store (an array as os, a string as annotations), the real registry behind a
 * proxy that replaces the source index's body. Each run is read as the runner reads it: stdout and
 * stderr split at \n and \r, every line that starts with `::` (or holds `##[`) is a command.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { ActionRun } from '../../helpers/action.ts';
import { runInProcess } from '../../helpers/in-process.ts';
import { type FaultProxy, startFaultProxy } from '../../helpers/fault-proxy.ts';
import { type Pushed, getManifestBytes, pushBuildxStyle, pushImage, putManifest } from '../../helpers/images.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';
import { MARKUP, commandsIn } from '../../helpers/runner-text.ts';

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const FORGED_DIGEST = `sha256:${'6'.repeat(64)}`;
const INJECTION = `linux\n::error title=pwned::owned\n::set-output name=digest::${FORGED_DIGEST}`;


/**
 * The run issued no command but its own: at most the one failure annotation (one line: no
 * escaped line break in it), nothing on stderr; no raw \r anywhere; no forged output.
 */
function assertInert(run: ActionRun, { failed }: { failed: boolean }): void {
  const commands = commandsIn(run.stdout);
  const own = commands.filter((l) => /^::(error title=[^:]*|group|endgroup|debug|warning)::/.test(l));
  assert.deepEqual(commands, own, `only the action's own commands:\n${commands.join('\n')}`);
  const errors = commands.filter((l) => l.startsWith('::error'));
  assert.equal(errors.length, failed ? 1 : 0, run.stdout);
  // The failure annotation: its own line, then the action's one line per tag of a failed run (a
  // line break of the action's, %0A); registry text adds no line of its own.
  for (const e of errors) {
    assert.doesNotMatch(e, /%0D/);
    for (const l of e.split('%0A').slice(1)) assert.match(l, /^[a-z0-9.:-]+(\/[a-z0-9._-]+)+:[\w][\w.-]*: (untouched|restored|deleted|left|unchanged|moved|unknown) /, 'the failure annotation is one line, and a line per tag');
  }
  assert.deepEqual(commandsIn(run.stderr), [], run.stderr);
  assert.ok(!run.stdout.includes('\r') && !run.stderr.includes('\r'), 'no raw \\r');
  assert.notEqual(run.outputs.digest, FORGED_DIGEST);
  for (const [name, value] of Object.entries(run.outputs)) {
    if (name !== 'images' && name !== 'manifest') assert.doesNotMatch(value, /[\r\n]/, `output ${name}`);
  }
  // The summary: the action's own headings only (one title, its fixed section names), every table cell text only.
  const headings = run.summary.split('\n').filter((l) => l.startsWith('#'));
  const titles = headings.filter((h) => h.startsWith('## '));
  assert.ok(titles.length <= 1 && titles.every((h) => /^## Multi-arch image (published|not published|\(dry run: nothing was pushed\))$/.test(h)), headings.join('\n'));
  assert.ok(headings.every((h) => h.startsWith('## ') || /^### (Copied across registries|Referrers and signatures)$/.test(h)), headings.join('\n'));
  for (const row of run.summary.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| Platform') && !l.startsWith('| ---'))) {
    const cells = row.split('|').slice(1, -1);
    assert.equal(cells.length, 4, row);
    for (const cell of cells) assert.doesNotMatch(cell.replace(/&#\d+;/g, '').replace(/^ ?<code>|<\/code> ?$/g, ''), MARKUP, row);
  }
}

/** The failure annotation's text. */
const failure = (run: ActionRun) => (commandsIn(run.stdout).find((l) => l.startsWith('::error')) ?? '').replace(/^::error[^:]*::/, '');

describe('hostile registry data (real registry)', () => {
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
    assert.match(failure(run), /invalid manifest from 127\.0\.0\.1:\d+\/src:hostile-\d+: manifests\[0\]\.platform\.os is "linux\\n::error title=pwned::owned\\n::set-output name=digest::sha256:6+": expected a lowercase token/);
    assert.deepEqual(writes, []);
    assert.deepEqual(run.outputs, {});
    assert.equal(run.summary, '');
    await assertNothingAt(tag);
  });

  it('platform.os with a lone \\r (the runner splits lines there too): refused, no raw \\r printed', async () => {
    const { run, writes } = await publishStored(indexOf(entryOf({ os: `linux\r::set-output name=digest::${FORGED_DIGEST}`, architecture: 'amd64' })));
    assert.equal(run.code, 1, run.stdout);
    assertInert(run, { failed: true });
    assert.match(failure(run), /platform\.os is "linux\\r::set-output/);
    assert.deepEqual(writes, []);
  });

  it('a config whose os holds commands: refused naming the config, before any write', async () => {
    await pushImage(t(), 'src', 'evil-config', { os: 'linux', architecture: 'amd64', configOverride: { os: `${INJECTION}\r::add-mask::x` } });
    const from = await reg.mark();
    const run = await runInProcess({ sources: `${reg.host}/src:evil-config`, tags: `${reg.host}/dst:evil-config` });
    assert.equal(run.code, 1, run.stdout);
    assertInert(run, { failed: true });
    assert.match(failure(run), /invalid image config from 127\.0\.0\.1:\d+\/src:evil-config \(config sha256:[a-f0-9]{64}\): os is "linux\\n::error/);
    assert.deepEqual(await reg.writesSince(from), []);
  });

  it("an error body's message with \\n, \\r and :: on a refused write: one failure line, no command", async () => {
    await pushImage(t(), 'src', 'plain', { os: 'linux', architecture: 'arm64' });
    proxy.setRule((r) =>
      r.method === 'PUT' && r.url.includes('/manifests/')
        ? { kind: 'status', status: 400, body: JSON.stringify({ errors: [{ code: 'MANIFEST_INVALID', message: `no\n::error title=pwned::owned\r::set-output name=digest::${FORGED_DIGEST}\n##[add-mask]x` }] }) }
        : undefined,
    );
    try {
      const run = await runInProcess({ sources: `${proxy.host}/src:plain`, tags: `${proxy.host}/dst:refused` });
      assert.equal(run.code, 1, run.stdout);
      assertInert(run, { failed: true });
      assert.match(failure(run), /MANIFEST_INVALID/);
    } finally {
      proxy.setRule(() => undefined);
    }
  });

  it("an error body's message with the legacy ##[command] form, logged on a retried upload: no command", async () => {
    // Sanitising control characters is not enough: `##[set-output …]` needs no line of its own.
    await pushImage(t(), 'src', 'legacy', { os: 'linux', architecture: 's390x' });
    let refused = 0;
    proxy.setRule((r) =>
      r.method === 'PUT' && r.url.includes('/blobs/uploads/') && refused++ === 0
        ? { kind: 'status', status: 400, body: JSON.stringify({ errors: [{ code: 'BLOB_UPLOAD_INVALID', message: `try ##[set-output name=digest;]${FORGED_DIGEST} ##[add-mask]linux` }] }) }
        : undefined,
    );
    try {
      const run = await runInProcess({ sources: `${reg.host}/src:legacy`, tags: `${proxy.host}/dst:legacy` });
      assert.equal(run.code, 0, run.stdout);
      assert.ok(refused > 1, 'the refused upload was retried');
      assert.match(run.stdout, /trying again in chunks/);
      assertInert(run, { failed: false });
    } finally {
      proxy.setRule(() => undefined);
    }
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
      assert.match(failure(run), message);
      assert.deepEqual(writes, []);
      await assertNothingAt(tag);
    });
  }

  it("a declared size that differs from the child's bytes: refused before any write", async () => {
    const { run, tag, writes } = await publishStored(indexOf({ ...entryOf({ os: 'linux', architecture: 'amd64' }), size: image.size + 5 }));
    assert.equal(run.code, 1, run.stdout);
    assertInert(run, { failed: true });
    assert.match(failure(run), new RegExp(`invalid index from 127\\.0\\.0\\.1:\\d+/src:${tag}: the entry for ${image.digest}: size is ${image.size + 5}: expected ${image.size}, the size of that manifest`));
    assert.deepEqual(writes, []);
    await assertNothingAt(tag);
  });

  it('a source index pretty-printed past 4 MiB: refused before any child is written, saying why', async () => {
    // 200 000 short annotations: 2.8 MB as sent, past 4 MiB once written with indentation.
    const annotations = Object.fromEntries(Array.from({ length: 200_000 }, (_, i) => [`k${i}`, 'v']));
    const { run, tag, writes } = await publishStored(indexOf(entryOf({ os: 'linux', architecture: 'amd64' }, { annotations })));
    assert.equal(run.code, 1, run.stdout);
    assertInert(run, { failed: true });
    assert.match(failure(run), /the index would be \d+ bytes, over the 4194304 bytes \(4 MiB\) a registry accepts for a manifest: it has 1 entries \(0 attestations\) and \d+ bytes of descriptor annotations; nothing was written/);
    assert.deepEqual(writes, []);
    await assertNothingAt(tag);
  });

  it('media-type docker with buildx-style sources (OCI child, attestation): refused before any write with a hint', async () => {
    await pushBuildxStyle(t(), 'src', 'buildx', { os: 'linux', architecture: 'arm64' });
    const from = await reg.mark();
    const run = await runInProcess({ sources: `${reg.host}/src:buildx`, tags: `${reg.host}/dst:buildx`, 'media-type': 'docker' });
    assert.equal(run.code, 1, run.stdout);
    assert.match(failure(run), /media-type is docker, but '127\.0\.0\.1:\d+\/src:buildx' brings an attestation manifest .*set attestations: drop/);
    const dropped = await runInProcess({ sources: `${reg.host}/src:buildx`, tags: `${reg.host}/dst:buildx`, 'media-type': 'docker', attestations: 'drop' });
    assert.equal(dropped.code, 1, dropped.stdout);
    assert.match(failure(dropped), /media-type is docker, but '127\.0\.0\.1:\d+\/src:buildx' is a application\/vnd\.oci\.image\.manifest\.v1\+json .*Use media-type 'auto' or 'oci'/);
    assert.deepEqual(await reg.writesSince(from), []);
  });

  it('the dry-run summary lists the tags that would be written', async () => {
    const run = await runInProcess({ sources: `${reg.host}/src:amd64`, tags: `${reg.host}/dst:dry-1\n${reg.host}/dst:dry-2`, push: 'false' });
    assert.equal(run.code, 0, run.stdout);
    const line = run.summary.split('\n').find((l) => l.startsWith('**Tags (not pushed):**')) as string;
    const shown = line.replace(/<\/?code>/g, '').replace(/&#(\d+);/g, (_, c: string) => String.fromCharCode(Number(c)));
    assert.equal(shown, `**Tags (not pushed):** ${reg.host}/dst:dry-1, ${reg.host}/dst:dry-2`);
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
