/**
 * What a run reports is what it did: the manifest output is the index as pushed (the attack
 * review: annotations holding U+2028, U+0085 or U+202E are escaped in the pushed bytes, so
 * outputs.manifest hashes to outputs.digest), and a dry run's summary lists the tags it would write.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { runInProcess } from '../../helpers/in-process.ts';
import { getManifestBytes, pushImage, putManifest } from '../../helpers/images.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('outputs and summary as the run wrote them: the manifest output is the index as pushed', () => {
  let reg: RunningRegistry;
  before(async () => {
    reg = await startRegistry();
    const image = await pushImage({ url: reg.url }, 'app', 'amd64', { os: 'linux', architecture: 'amd64', format: 'oci' });
    // A source index whose entry carries annotations with characters JSON.stringify keeps raw.
    const index = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: image.mediaType,
          digest: image.digest,
          size: image.size,
          platform: { os: 'linux', architecture: 'amd64' },
          annotations: { 'org.opencontainers.image.title': 'a\u2028b\u0085c\u202ed' },
        },
      ],
    };
    await putManifest({ url: reg.url }, 'app', 'src', Buffer.from(JSON.stringify(index)), 'application/vnd.oci.image.index.v1+json');
  });
  after(async () => {
    await reg?.stop();
  });

  it('outputs.manifest hashes to outputs.digest when a copied annotation holds U+2028, U+0085 or U+202E', async () => {
    const run = await runInProcess({ sources: `${reg.host}/app:src`, tags: `${reg.host}/app:out` });
    assert.equal(run.code, 0, run.stdout);
    const pushed = await getManifestBytes({ url: reg.url }, 'app', 'out');
    assert.equal(sha(pushed.bytes), run.outputs.digest);
    assert.equal(sha(Buffer.from(run.outputs.manifest ?? '')), run.outputs.digest, `manifest output ${run.outputs.manifest}\nis not the pushed index ${pushed.bytes.toString()}`);
  });

  it('the dry-run summary lists the tags that would be written', async () => {
    const run = await runInProcess({ sources: `${reg.host}/app:amd64`, tags: `${reg.host}/dst:dry-1\n${reg.host}/dst:dry-2`, push: 'false' });
    assert.equal(run.code, 0, run.stdout);
    const line = run.summary.split('\n').find((l) => l.startsWith('**Tags (not pushed):**')) as string;
    const shown = line.replace(/<\/?code>/g, '').replace(/&#(\d+);/g, (_, c: string) => String.fromCharCode(Number(c)));
    assert.equal(shown, `**Tags (not pushed):** ${reg.host}/dst:dry-1, ${reg.host}/dst:dry-2`);
  });

});
