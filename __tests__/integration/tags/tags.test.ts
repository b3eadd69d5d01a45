/**
 * Tags all or nothing, against real registries (the action's run() in process): a
 * registry refusing tag writes (500, or 405 as a read-only mirror) makes the run put back what it
 * had moved elsewhere; a proxy refusing only the second tag write; a write that landed although
 * its answer was an error; `overwrite: false` with zero writes; `append` noticing that another
 * run moved its tag. Every tag's state is read from the registries afterwards.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { type ActionRun, projectRoot } from '../../helpers/action.ts';
import { runInProcess } from '../../helpers/in-process.ts';
import { type FaultProxy, refuseTagPuts, tagPut } from '../../helpers/fault-proxy.ts';
import { startFaultProxy } from '../../helpers/fault-proxy.ts';
import { getManifestBytes, pushImage, sha256 } from '../../helpers/images.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';

const AMD = { os: 'linux', architecture: 'amd64' };
const ARM = { os: 'linux', architecture: 'arm64', variant: 'v8' };
/** Few, quick retries: a refused write fails in well under a second. */
const QUICK = { retries: '1', 'retry-max-seconds': '2' };

/** The digest a tag holds now, read from the registry itself; undefined when absent. */
async function digestAt(url: string, repo: string, tag: string): Promise<string | undefined> {
  const got = await getManifestBytes({ url }, repo, tag);
  if (got.status === 404) return undefined;
  assert.equal(got.status, 200);
  return sha256(got.bytes);
}

/** The error annotation's message (the runner's `::error title=…::` command, decoded). */
function annotation(run: ActionRun): string {
  const line = run.stdout.split('\n').find((l) => l.startsWith('::error'));
  assert.ok(line, `an error annotation in: ${run.stdout}`);
  return line
    .slice(line.indexOf('::', 2) + 2)
    .replace(/%0D/g, '\r')
    .replace(/%0A/g, '\n')
    .replace(/%25/g, '%');
}

/** The annotation's line for one tag. */
function lineFor(message: string, tag: string): string {
  const line = message.split('\n').find((l) => l.startsWith(`${tag}: `));
  assert.ok(line, `a line for ${tag} in:\n${message}`);
  return line;
}

/** Runs a fix command as printed (its words are references and flags: no shell needed). */
async function runFix(command: string): Promise<void> {
  const [bin, ...args] = command.split(' ');
  await promisify(execFile)(bin as string, args, { timeout: 60_000 });
}

describe('tags all or nothing (real registries)', () => {
  let a: RunningRegistry;
  let b: RunningRegistry;
  let proxyB: FaultProxy;
  before(async () => {
    a = await startRegistry();
    b = await startRegistry();
    proxyB = await startFaultProxy(b.url);
    await pushImage({ url: a.url }, 'app', 'amd64', AMD);
    await pushImage({ url: a.url }, 'app', 'arm64', ARM);
  });
  after(async () => {
    await proxyB?.stop();
    await a?.stop();
    await b?.stop();
  });
  const sources = () => `${a.host}/app:amd64\n${a.host}/app:arm64`;

  for (const [status, name] of [
    [500, 'an outage (500)'],
    [405, 'a read-only mirror (405)'],
  ] as const) {
    it(`the second registry refusing tag writes, ${name}: the first registry's tags are put back, every tag's state reported`, async () => {
      const tag = `v${status}`;
      const fresh = `fresh${status}`;
      const oldA = (await pushImage({ url: a.url }, 'app', tag, AMD)).digest;
      const oldB = (await pushImage({ url: b.url }, 'app', tag, AMD)).digest;
      const tags = [`${a.host}/app:${tag}`, `${a.host}/app:${fresh}`, `${proxyB.host}/app:${tag}`, `${proxyB.host}/app:${fresh}`];
      proxyB.setRule(refuseTagPuts(status));
      const run = await runInProcess({ sources: sources(), tags: tags.join('\n'), ...QUICK });
      proxyB.setRule(() => undefined);
      assert.equal(run.code, 1, run.stdout);
      const digest = run.outputs.digest as string;
      assert.match(digest, /^sha256:[0-9a-f]{64}$/, 'the outputs of a run whose index is in every repository');
      assert.equal(run.outputs.tags, tags[1], 'the tags output: only the tag left at the digest');

      // The registries themselves: A's existing tag is back; B's were never moved.
      assert.equal(await digestAt(a.url, 'app', tag), oldA, "the first registry's existing tag points at its old digest again");
      assert.equal(await digestAt(b.url, 'app', tag), oldB);
      assert.equal(await digestAt(b.url, 'app', fresh), undefined);
      // distribution 2.8 refuses DELETE by tag: the tag created on A stays, and is reported.
      assert.equal(await digestAt(a.url, 'app', fresh), digest);
      for (const r of [a, b]) assert.equal((await getManifestBytes({ url: r.url }, 'app', digest)).status, 200, 'the index by digest in every repository');

      const message = annotation(run);
      assert.match(message.split('\n')[0] as string, new RegExp(`2 of 4 tag writes failed \\(${proxyB.host}/app:${tag}, ${proxyB.host}/app:${fresh}\\)`));
      assert.equal(message.split('\n').length, 5, 'a headline and one line per tag');
      assert.match(lineFor(message, tags[0] as string), new RegExp(`restored to ${oldA}; to publish it: skopeo copy`));
      assert.match(lineFor(message, tags[1] as string), /left at sha256:[0-9a-f]{64} \(was absent\): the registry refused DELETE by tag \(HTTP 400 DIGEST_INVALID/);
      assert.match(lineFor(message, tags[1] as string), /cannot delete it by tag/);
      assert.match(lineFor(message, tags[2] as string), new RegExp(`untouched \\(at ${oldB}\\); its write failed: HTTP ${status} ${status === 405 ? 'UNSUPPORTED' : 'UNAVAILABLE'}`));
      assert.match(lineFor(message, tags[3] as string), /untouched \(absent\); its write failed/);

      assert.match(run.summary, /## Multi-arch image not published/);
      for (const t of tags) assert.ok(run.summary.includes(`<code>${t}</code>`), `the summary names ${t}`);
      assert.match(run.summary, /restored to sha256:/);
      assert.match(run.summary, /the registry refused DELETE by tag/);

      // The printed command publishes B's tag by hand once B accepts writes again.
      const fix = /to publish it: (skopeo copy .*)$/.exec(lineFor(message, tags[2] as string))?.[1];
      assert.ok(fix);
      await runFix(fix);
      assert.equal(await digestAt(b.url, 'app', tag), digest);
    });
  }

  it('a write that landed although the registry answered 500 is put back too', async () => {
    const old = (await pushImage({ url: b.url }, 'app', 'landed', AMD)).digest;
    let first = true;
    proxyB.setRule((r) => {
      if (tagPut(r) !== 'landed' || !first) return undefined;
      first = false;
      return { kind: 'applied', status: 500 };
    });
    const run = await runInProcess({ sources: sources(), tags: `${proxyB.host}/app:landed`, retries: '0' });
    proxyB.setRule(() => undefined);
    assert.equal(run.code, 1, run.stdout);
    assert.equal(await digestAt(b.url, 'app', 'landed'), old);
    assert.match(lineFor(annotation(run), `${proxyB.host}/app:landed`), new RegExp(`restored to ${old}; its write failed: HTTP 500`));
  });
});

/** For one suite: a real registry holding the two sources, and a fault proxy in front of it. */
function registryBehindProxy(): { reg: RunningRegistry; proxy: FaultProxy } {
  const at = {} as { reg: RunningRegistry; proxy: FaultProxy };
  before(async () => {
    at.reg = await startRegistry();
    at.proxy = await startFaultProxy(at.reg.url);
    await pushImage({ url: at.reg.url }, 'app', 'amd64', AMD);
    await pushImage({ url: at.reg.url }, 'app', 'arm64', ARM);
  });
  after(async () => {
    await at.proxy?.stop();
    await at.reg?.stop();
  });
  return at;
}

describe('one registry refusing only the second of two tag writes', () => {
  const at = registryBehindProxy();

  it('the tag that moved is put back, the other is untouched', async () => {
    const old = { one: (await pushImage({ url: at.reg.url }, 'app', 'one', AMD)).digest, two: (await pushImage({ url: at.reg.url }, 'app', 'two', ARM)).digest };
    at.proxy.setRule(refuseTagPuts(500, 2));
    const from = at.proxy.log.length;
    const run = await runInProcess({ sources: `${at.proxy.host}/app:amd64\n${at.proxy.host}/app:arm64`, tags: `${at.proxy.host}/app:one\n${at.proxy.host}/app:two`, retries: '0' });
    at.proxy.setRule(() => undefined);
    assert.equal(run.code, 1, run.stdout);
    assert.equal(await digestAt(at.reg.url, 'app', 'one'), old.one);
    assert.equal(await digestAt(at.reg.url, 'app', 'two'), old.two);
    // Which write arrived second is up to the scheduler: that one was refused, the other put back.
    const puts = at.proxy.log.slice(from).filter((r) => tagPut(r) !== undefined);
    const refused = tagPut(puts[1] as (typeof puts)[number]) as 'one' | 'two';
    const moved = refused === 'one' ? 'two' : 'one';
    assert.deepEqual(puts.map((r) => [tagPut(r), r.status]), [[moved, 201], [refused, 500], [moved, 201]], 'two writes, then the one put back');
    const message = annotation(run);
    assert.match(lineFor(message, `${at.proxy.host}/app:${moved}`), new RegExp(`restored to ${old[moved]}`));
    assert.match(lineFor(message, `${at.proxy.host}/app:${refused}`), new RegExp(`untouched \\(at ${old[refused]}\\); its write failed: HTTP 500`));
  });
});

describe('a registry that deletes by tag (OCI 1.1)', () => {
  const at = registryBehindProxy();

  it('a tag created by the failed run is deleted again', async () => {
    const old = { keep: (await pushImage({ url: at.reg.url }, 'app', 'keep', ARM)).digest, refused: (await pushImage({ url: at.reg.url }, 'app', 'refused', ARM)).digest };
    // distribution 2.8 refuses DELETE by tag; the proxy answers it as an OCI 1.1 registry does, by
    // removing the tag from the real registry's storage (what distribution's own untag does).
    const tagDir = (tag: string) => join(at.reg.dir, 'data/docker/registry/v2/repositories/app/_manifests/tags', tag);
    at.proxy.setRule((r) => {
      if (tagPut(r) === 'refused') return { kind: 'status', status: 405, body: JSON.stringify({ errors: [{ code: 'UNSUPPORTED', message: 'read-only' }] }) };
      const m = /\/manifests\/([^/:]+)$/.exec(r.url);
      if (r.method === 'DELETE' && m) return { kind: 'hook', run: async () => rmSync(tagDir(m[1] as string), { recursive: true }), status: 202 };
      return undefined;
    });
    const tags = ['keep', 'brandnew', 'refused'].map((t) => `${at.proxy.host}/app:${t}`);
    const run = await runInProcess({ sources: `${at.proxy.host}/app:amd64`, tags: tags.join('\n') });
    at.proxy.setRule(() => undefined);
    assert.equal(run.code, 1, run.stdout);
    assert.equal(await digestAt(at.reg.url, "app", "keep"), old.keep);
    assert.equal(await digestAt(at.reg.url, 'app', 'brandnew'), undefined);
    assert.equal(await digestAt(at.reg.url, 'app', 'refused'), old.refused);
    const message = annotation(run);
    assert.match(message.split('\n')[0] as string, /every tag moved by this run was put back/);
    assert.match(lineFor(message, tags[0] as string), new RegExp(`restored to ${old.keep}`));
    assert.match(lineFor(message, tags[1] as string), /deleted again \(it did not exist before the run\)/);
    assert.match(lineFor(message, tags[2] as string), /untouched .*its write failed: HTTP 405 UNSUPPORTED read-only/);
  });
});

describe('overwrite: false', () => {
  const at = registryBehindProxy();
  const sources = () => `${at.reg.host}/app:amd64\n${at.reg.host}/app:arm64`;

  it('refuses a tag at another digest with zero writes, naming the tag and its digest', async () => {
    const old = (await pushImage({ url: at.reg.url }, 'app', '1.2.3', AMD)).digest;
    const from = await at.reg.mark();
    const run = await runInProcess({ sources: sources(), tags: `${at.reg.host}/app:1.2.3\n${at.reg.host}/app:latest`, overwrite: 'false' });
    assert.equal(run.code, 1, run.stdout);
    assert.deepEqual(await at.reg.writesSince(from), [], 'no PUT, POST, PATCH or DELETE reached the registry');
    assert.match(run.stdout, /^::error title=Tag conflict::overwrite is false/m);
    assert.match(annotation(run), new RegExp(`overwrite is false and a tag exists at another digest than sha256:[0-9a-f]{64}: ${at.reg.host}/app:1.2.3 is at ${old}\\. Publish to a new tag, or set overwrite: true to move these tags\\. Nothing was written$`, "m"));
    assert.equal(await digestAt(at.reg.url, 'app', '1.2.3'), old);
    assert.equal(await digestAt(at.reg.url, 'app', 'latest'), undefined);
  });

  it('the command line: --overwrite=false refuses the same way, each tag on a line under the error', async () => {
    const old = (await pushImage({ url: at.reg.url }, 'app', 'cli', AMD)).digest;
    const from = await at.reg.mark();
    const cli = await promisify(execFile)(process.execPath, [join(projectRoot, 'dist/cli/index.js'), 'publish', '--source', `${at.reg.host}/app:amd64`, '--tag', `${at.reg.host}/app:cli`, '--overwrite=false'], {
      env: { ...process.env, DOCKER_CONFIG: '/nonexistent' },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(cli.code, 1, cli.stderr);
    assert.deepEqual(await at.reg.writesSince(from), []);
    assert.match(cli.stderr, new RegExp(`^error: overwrite is false and a tag exists at another digest than sha256:[0-9a-f]{64}: ${at.reg.host}/app:cli is at ${old}\\..*Nothing was written$`, 'm'));
    assert.match(cli.stderr, new RegExp(`^  ${at.reg.host}/app:cli: untouched \\(at ${old}\\)$`, 'm'));
  });

  it('accepts a tag already at the digest (an idempotent re-run), again with zero writes', async () => {
    const first = await runInProcess({ sources: sources(), tags: `${at.reg.host}/app:2.0.0` });
    assert.equal(first.code, 0, first.stdout);
    const from = await at.reg.mark();
    const again = await runInProcess({ sources: sources(), tags: `${at.reg.host}/app:2.0.0`, overwrite: 'false' });
    assert.equal(again.code, 0, again.stdout);
    assert.equal(again.outputs.digest, first.outputs.digest);
    assert.deepEqual(await at.reg.writesSince(from), []);
    assert.match(again.stdout, /already at sha256:/);
  });
});

describe('append while another run moves the tag', () => {
  const at = registryBehindProxy();

  it('fails before moving any tag when the first tag changed after it was read', async () => {
    const base = await runInProcess({ sources: `${at.reg.host}/app:amd64`, tags: `${at.reg.host}/app:base` });
    assert.equal(base.code, 0, base.stdout);
    let other: string | undefined;
    let hooked = false;
    // Another run's write lands through the real registry just as this run puts its index by digest.
    at.proxy.setRule((r) => {
      if (hooked || r.method !== 'PUT' || !/\/manifests\/sha256:/.test(r.url)) return undefined;
      hooked = true;
      return { kind: 'hook', run: async () => void (other = (await pushImage({ url: at.reg.url }, 'app', 'base', { os: 'linux', architecture: 's390x' })).digest) };
    });
    const from = at.proxy.log.length;
    const run = await runInProcess({ sources: `${at.proxy.host}/app:arm64`, tags: `${at.proxy.host}/app:base\n${at.proxy.host}/app:also`, append: 'true' });
    at.proxy.setRule(() => undefined);
    assert.equal(run.code, 1, run.stdout);
    assert.ok(hooked && other);
    assert.deepEqual(at.proxy.log.slice(from).filter((r) => tagPut(r) !== undefined), [], 'no tag write');
    assert.equal(await digestAt(at.reg.url, 'app', 'base'), other, "the other run's index stays");
    assert.equal(await digestAt(at.reg.url, 'app', 'also'), undefined);
    const message = annotation(run);
    assert.match(message, new RegExp(`append: ${at.proxy.host}/app:base changed while this run was publishing \\(${base.outputs.digest} when read, ${other} now\\)`));
    assert.match(lineFor(message, `${at.proxy.host}/app:base`), new RegExp(`untouched \\(at ${base.outputs.digest}\\)`));
  });
});
