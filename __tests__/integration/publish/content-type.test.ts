/**
 * A source's Content-Type does not become a descriptor media type unchecked (the attack review):
 * a scripted source registry answers with a hostile Content-Type.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { runInProcess } from '../../helpers/in-process.ts';
import { type ScriptedServer, startScriptedServer } from '../../helpers/hostile-servers.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe("attack: a source's Content-Type does not become a descriptor media type unchecked", () => {
  let target: RunningRegistry;
  let source: ScriptedServer;
  const EVIL_TYPE = 'x/<img src=x onerror=alert(1)>|::error::owned';
  before(async () => {
    target = await startRegistry();
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
    // An OCI image manifest may omit mediaType: the kind then comes from Content-Type.
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length }, layers: [] }));
    source = await startScriptedServer((req) => {
      if (req.url === '/v2/app/manifests/t' || req.url === `/v2/app/manifests/${sha(manifest)}`) return { status: 200, headers: { 'content-type': EVIL_TYPE }, body: req.method === 'HEAD' ? undefined : manifest };
      if (req.url === `/v2/app/blobs/${sha(config)}`) return { status: 200, body: config };
      return { status: 404, body: '' };
    });
  });
  after(async () => {
    await source?.stop();
    await target?.stop();
  });

  it('a dry run refuses the source instead of putting the header into the index (outputs.manifest)', async () => {
    const run = await runInProcess({ sources: `${source.host}/app:t`, tags: `${target.host}/app:v1`, push: 'false' });
    assert.ok(!(run.outputs.manifest ?? '').includes('onerror'), `the index carries the Content-Type as a media type:\n${run.outputs.manifest}`);
  });
});
