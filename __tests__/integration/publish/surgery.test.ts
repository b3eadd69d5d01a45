/**
 * Index surgery and the formats pipelines hand over (issue 25), through the bundled action against
 * the real registry, read back with skopeo: buildx's annotation syntax, `platforms` as the set the
 * result keeps, removing a platform in place, `append` keeping what the index had, the `metadata`
 * output, Windows entries in the outputs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runAction } from '../../helpers/action.ts';
import { skopeo } from '../../helpers/clients.ts';
import { type Pushed, getManifestBytes, pushImage } from '../../helpers/images.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';

/** The manifest at a reference as a client reads it (skopeo inspect --raw). */
async function raw(ref: string): Promise<any> {
  return JSON.parse(await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${ref}`]));
}

describe('index surgery (real registry, bundled action, read back with skopeo)', () => {
  let reg: RunningRegistry;
  const t = () => ({ url: reg.url });
  const images = new Map<string, Pushed>();
  before(async () => {
    reg = await startRegistry();
    for (const [tag, p] of [
      ['amd64', { os: 'linux', architecture: 'amd64' }],
      ['arm64', { os: 'linux', architecture: 'arm64', variant: 'v8' }],
      ['armv7', { os: 'linux', architecture: 'arm', variant: 'v7' }],
    ] as const) {
      images.set(tag, await pushImage(t(), 'surgery/app', tag, p));
    }
  });
  after(async () => reg?.stop());
  const src = (...tags: string[]) => tags.map((x) => `${reg.host}/surgery/app:${x}`).join('\n');

  it('annotations in buildx syntax: a [platform] filter annotates that entry only; several types at once', async () => {
    const run = await runAction({
      sources: src('amd64', 'arm64'),
      tags: `${reg.host}/surgery/app:annotated`,
      annotations: 'manifest-descriptor[linux/arm64]:a=b\nindex,manifest-descriptor:k=v\nmanifest:org.opencontainers.image.created=2026-12-05T22:00:00Z',
    });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const index = await raw(`${reg.host}/surgery/app:annotated`);
    assert.equal(index.mediaType, 'application/vnd.oci.image.index.v1+json');
    assert.deepEqual(index.annotations, { k: 'v' });
    const byArch = Object.fromEntries(index.manifests.map((m: any) => [m.platform.architecture, m.annotations]));
    assert.deepEqual(byArch, { amd64: { k: 'v' }, arm64: { a: 'b', k: 'v' } });
  });

  it('an annotation key with a colon fails before any write, naming the line', async () => {
    const run = await runAction({ sources: src('amd64'), tags: `${reg.host}/surgery/app:badkey`, annotations: 'index:a:b=c' });
    assert.equal(run.code, 1);
    assert.match(run.stdout, /Invalid annotation 'index:a:b=c' \(the key 'a:b' holds/);
    assert.equal((await getManifestBytes(t(), 'surgery/app', 'badkey')).status, 404);
  });
});
