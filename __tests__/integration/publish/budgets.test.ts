/**
 * Budgets (issue 23, findings 1, 2 and 7), driving the bundled action as the runner runs it: what a
 * hostile source index or referrers tree can make the action read and hold, and how long slow
 * index entries hold it. Real registries throughout; a rewriting proxy in front of one plays the
 * hostile source where what it serves would cost the shared machine more to store than the point
 * needs (hundreds of MiB of manifests generated on the fly).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { MANIFEST_BYTES_HELD, MAX_SOURCE_INDEX_ENTRIES } from '../../../src/budgets.ts';
import { runAction } from '../../helpers/action.ts';
import { type Rewrite, type RewritingProxy, startRewritingProxy } from '../../helpers/hostile-servers.ts';
import { type Pushed, getManifestBytes, pushImage, putManifest } from '../../helpers/images.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const MiB = 1024 * 1024;
const errorOf = (stdout: string) => stdout.split('\n').find((l) => l.startsWith('::error')) ?? '';

/** A child manifest of about `size` bytes (padded with an annotation), distinct per `i`. */
function bigChild(i: number, size: number): Buffer {
  const head = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(`config ${i}`), size: 100 },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(`layer ${i}`), size: 100 }],
  };
  const without = JSON.stringify({ ...head, annotations: { pad: '' } }).length;
  return Buffer.from(JSON.stringify({ ...head, annotations: { pad: 'x'.repeat(size - without) } }));
}

/** An index of `n` platform-carrying entries (windows/amd64, one os.version each) of `childSize` bytes. */
function bigIndex(n: number, childSize: number) {
  const digests: string[] = [];
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: Array.from({ length: n }, (_, i) => {
        const d = sha(bigChild(i, childSize));
        digests.push(d);
        return { mediaType: OCI_MANIFEST, digest: d, size: childSize, platform: { os: 'windows', architecture: 'amd64', 'os.version': `10.0.20348.${i}` } };
      }),
    }),
  );
  return { index, digests, child: (digest: string) => bigChild(digests.indexOf(digest), childSize) };
}

/** A registry and a rewriting proxy in front of it, for the tests of the enclosing `describe`. */
function registryBehindProxy(): { reg: RunningRegistry; proxy: RewritingProxy } {
  const s = {} as { reg: RunningRegistry; proxy: RewritingProxy };
  before(async () => {
    s.reg = await startRegistry();
    s.proxy = await startRewritingProxy(s.reg.url);
  });
  after(async () => {
    await s.proxy?.stop();
    await s.reg?.stop();
  });
  return s;
}

describe('budgets: a hostile source index', () => {
  const s = registryBehindProxy();

  /** The proxy serves `big/app:index` and its children itself; everything else is the registry's. */
  const serve = (n: number, childSize: number) => {
    const { index, digests, child } = bigIndex(n, childSize);
    const served = { children: 0 };
    s.proxy.setRule(({ method, url, status }) => {
      if (status !== undefined) return undefined;
      const m = /^\/v2\/big\/app\/manifests\/(.+)$/.exec(url);
      if (!m) return undefined;
      const ref = decodeURIComponent(m[1] as string);
      const bytes = ref === 'index' ? index : digests.includes(ref) ? child(ref) : undefined;
      if (!bytes) return { answer: { status: 404, body: '{"errors":[{"code":"MANIFEST_UNKNOWN"}]}', headers: { 'content-type': 'application/json' } } };
      if (ref !== 'index' && method === 'GET') served.children++;
      const headers = { 'content-type': ref === 'index' ? OCI_INDEX : OCI_MANIFEST, 'docker-content-digest': sha(bytes) };
      return { answer: { status: 200, headers: { ...headers, 'content-length': String(bytes.length) }, body: method === 'HEAD' ? '' : bytes } };
    });
    return served;
  };

  // Finding 1: 500 entries of 4 MiB children took the action to 2.53 GiB before any write. Here
  // 90 children of 4 MiB (360 MiB; the action before the budget peaked near 600 MiB) under the
  // entry cap, in a dry run: the plan reads and checks every one, and keeps no more than
  // MANIFEST_BYTES_HELD of them.
  it('holds at most its manifest budget of children read during the plan (peak RSS under 400 MiB)', async () => {
    const served = serve(90, 4 * MiB - 4096);
    const run = await runAction({ sources: `${s.proxy.host}/big/app:index`, tags: `${s.reg.host}/target/app:big`, push: 'false' });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.equal(served.children, 90, 'every child was read and checked during the plan');
    assert.ok(run.peakRssKiB > 0, 'the peak was measured');
    assert.ok(run.peakRssKiB < 400 * 1024, `peak RSS ${(run.peakRssKiB / 1024).toFixed(0)} MiB (budget ${MANIFEST_BYTES_HELD / MiB} MiB held)`);
  });

  it(`refuses a source index of more than ${MAX_SOURCE_INDEX_ENTRIES} entries before reading any child, naming source, count and limit`, async () => {
    const served = serve(MAX_SOURCE_INDEX_ENTRIES + 1, 1024);
    const run = await runAction({ sources: `${s.proxy.host}/big/app:index`, tags: `${s.reg.host}/target/app:big` });
    assert.equal(run.code, 1);
    assert.match(errorOf(run.stdout), new RegExp(`source ${s.proxy.host.replace(/\./g, '\\.')}/big/app:index is an index of too many entries: ${MAX_SOURCE_INDEX_ENTRIES + 1}, more than the ${MAX_SOURCE_INDEX_ENTRIES} this action reads; nothing was written`));
    assert.equal(served.children, 0);
    assert.ok(!s.proxy.log.some((e) => e.method === 'PUT' || e.method === 'POST'));
  });
});

// Finding 7: platform-less entries were resolved one after another; 30 entries answered just
// inside `timeout: 2` held the run 99 s.
describe('budgets: slow index entries are read in parallel', () => {
  const s = registryBehindProxy();

  it('30 platform-less entries each delayed 1.5 s resolve together (well under 25 s), with overlapping reads', async () => {
    const t = { url: s.reg.url };
    const images: Pushed[] = [];
    for (let i = 0; i < 30; i++) images.push(await pushImage(t, 'slow/app', undefined, { os: 'windows', architecture: 'amd64', osVersion: `10.0.20348.${i}`, format: 'oci' }));
    // No platform in the entries: each one's manifest and config must be read.
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: images.map((p) => ({ mediaType: p.mediaType, digest: p.digest, size: p.size })) }));
    await putManifest(t, 'slow/app', 'multi', index, OCI_INDEX);
    const entryDigests = new Set(images.map((p) => p.digest));
    let inFlight = 0;
    let peak = 0;
    s.proxy.setRule(({ method, url, status }) => {
      const m = /\/manifests\/(sha256:[0-9a-f]{64})$/.exec(url);
      if (method !== 'GET' || !m || !entryDigests.has(m[1] as string)) return undefined;
      if (status === undefined) {
        peak = Math.max(peak, ++inFlight);
        setTimeout(() => inFlight--, 1500);
        return undefined;
      }
      // The body goes at 1 byte per 1.5 s / size: the whole answer takes ~1.5 s, inside timeout 2.
      return { bytesPerSecond: 350 };
    });
    const run = await runAction({ sources: `${s.proxy.host}/slow/app:multi`, tags: `${s.proxy.host}/slow/app:out`, timeout: '2', push: 'false' });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.ok(peak >= 8, `at most ${peak} entry reads overlapped`);
    assert.ok(run.ms < 25_000, `the run took ${run.ms} ms`);
  });
});

// Finding 2: one image with 64 referrers each listing 64 more made the action read 4,160
// manifests (2.3 GiB RSS with 256 KiB each) before refusing. The proxy plays a source registry
// with the referrers API (distribution 2.8 has none) and such a tree, generated as it is asked.
describe('budgets: a referrers tree is counted as it is listed', () => {
  const s = registryBehindProxy();

  /** A referrer of `subject` of about `size` bytes, distinct per `name`. */
  const referrer = (subject: { digest: string; size: number; mediaType: string }, name: string, size: number): Buffer => {
    const head = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: 'application/vnd.example.sbom+json',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha('{}'), size: 2 },
      layers: [{ mediaType: 'application/vnd.example.sbom+json', digest: sha(name), size: name.length }],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    };
    const without = JSON.stringify({ ...head, annotations: { pad: '' } }).length;
    return Buffer.from(JSON.stringify({ ...head, annotations: { pad: 'x'.repeat(size - without) } }));
  };

  it('refuses 64 referrers listing 64 more each after the second listing, before reading it (peak RSS under 400 MiB)', async () => {
    const image = await pushImage({ url: s.reg.url }, 'tree/app', 'img', { os: 'linux', architecture: 'amd64', format: 'oci' });
    const size = 128 * 1024;
    const manifests = new Map<string, Buffer>();
    const children = new Map<string, string[]>();
    /** The referrers of `subject` (64 of them), generated and remembered when first listed. */
    const listOf = (subject: { digest: string; size: number; mediaType: string }, depth: number): string[] => {
      let list = children.get(subject.digest);
      if (!list) {
        list = [];
        for (let i = 0; i < 64; i++) {
          const bytes = referrer(subject, `${subject.digest} ${depth} ${i}`, size);
          manifests.set(sha(bytes), bytes);
          list.push(sha(bytes));
        }
        children.set(subject.digest, list);
      }
      return list;
    };
    const served = { referrers: 0 };
    s.proxy.setRule(({ method, url, status }): Rewrite | undefined => {
      if (status !== undefined) return undefined;
      const listing = /^\/v2\/tree\/app\/referrers\/(sha256:[0-9a-f]{64})/.exec(url);
      if (listing) {
        const digest = listing[1] as string;
        const subject = digest === image.digest ? image : manifests.has(digest) ? { digest, size, mediaType: OCI_MANIFEST } : undefined;
        const list = subject ? listOf(subject, digest === image.digest ? 1 : 2) : [];
        const body = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: list.map((d) => ({ mediaType: OCI_MANIFEST, digest: d, size, artifactType: 'application/vnd.example.sbom+json' })) });
        return { answer: { status: 200, headers: { 'content-type': OCI_INDEX }, body } };
      }
      const m = /^\/v2\/tree\/app\/manifests\/(sha256:[0-9a-f]{64})$/.exec(url);
      const bytes = m ? manifests.get(m[1] as string) : undefined;
      if (!bytes) return undefined;
      if (method === 'GET') served.referrers++;
      return { answer: { status: 200, headers: { 'content-type': OCI_MANIFEST, 'docker-content-digest': sha(bytes) }, body: method === 'HEAD' ? '' : bytes } };
    });
    const run = await runAction({ sources: `${s.proxy.host}/tree/app:img`, tags: `${s.reg.host}/copy/app:1` });
    assert.equal(run.code, 1, run.stdout);
    assert.match(errorOf(run.stdout), new RegExp(`the referrers and cosign tags of ${s.proxy.host.replace(/\./g, '\\.')}/tree/app@${image.digest}: too many listed: 128, more than the 64 this action reads; nothing was written`));
    assert.ok(served.referrers <= 64, `${served.referrers} referrer manifests were read`);
    assert.ok(run.peakRssKiB > 0 && run.peakRssKiB < 400 * 1024, `peak RSS ${(run.peakRssKiB / 1024).toFixed(0)} MiB`);
    const written = await getManifestBytes({ url: s.reg.url }, 'copy/app', '1');
    assert.equal(written.status, 404, 'no tag was written');
  });
});
