/**
 * The registry client in-process against the real registry (no dist/ rebuild): every operation of
 * the table, the errors it builds from the registry's answers, and the User-Agent on every request
 * (read from the registry's access log).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ActionError } from '../../../src/errors.ts';
import { sha256 } from '../../../src/oci/digest.ts';
import { type RegistryClient } from '../../../src/registry/client.ts';
import { MANIFEST_SIZE_LIMIT } from '../../../src/oci/manifest.ts';
import { Registries } from '../../../src/registry/registries.ts';
import { USER_AGENT } from '../../../src/registry/user-agent.ts';
import { pushImage } from '../../helpers/images.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';

const INDEX = 'application/vnd.oci.image.index.v1+json';

describe('registry client against the real registry', () => {
  let reg: RunningRegistry;
  let registries: Registries;
  let client: RegistryClient;
  let image: Awaited<ReturnType<typeof pushImage>>;
  let from = 0;
  before(async () => {
    reg = await startRegistry();
    image = await pushImage({ url: reg.url }, 'src/app', 'v1', { os: 'linux', architecture: 'amd64' });
    from = await reg.mark();
    registries = new Registries({ transport: { backoffBaseMs: 1 } });
    client = registries.client(reg.host);
  });
  after(async () => {
    await registries?.close();
    await reg?.stop();
  });

  it('uploads a blob monolithically and in chunks, and reads it back verified', async () => {
    const data = randomBytes(3000);
    const digest = sha256(data);
    assert.equal(await client.headBlob('blobs/app', digest), undefined, 'absent before');
    const { location } = await client.startUploadSession('blobs/app');
    await client.putUpload('blobs/app', location, digest, data.length, data, true);
    assert.equal(await client.headBlob('blobs/app', digest), data.length);
    assert.deepEqual(await client.getBlobBytes('blobs/app', digest, 4096, 'read back'), data);

    const chunked = randomBytes(2500);
    const session = await client.startUploadSession('blobs/chunked');
    let at = await client.patchChunk('blobs/chunked', session.location, chunked.subarray(0, 1000), 0, 'chunk 1');
    at = await client.patchChunk('blobs/chunked', at, chunked.subarray(1000), 1000, 'chunk 2');
    await client.putUpload('blobs/chunked', at, sha256(chunked), 0, Buffer.alloc(0), true);
    assert.equal(await client.headBlob('blobs/chunked', sha256(chunked)), chunked.length);

    assert.deepEqual(await client.mountBlob('blobs/mounted', digest, 'blobs/app'), { mounted: true });
    assert.equal(await client.headBlob('blobs/mounted', digest), data.length);
    const notThere = sha256(randomBytes(10));
    const refused = await client.mountBlob('blobs/mounted', notThere, 'blobs/app');
    assert.equal(refused.mounted, false, 'an unknown blob opens an upload instead');
  });

  it('pushes and reads manifests by tag and digest, with their digests checked', async () => {
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: [{ mediaType: image.mediaType, digest: image.digest, size: image.size }] }));
    const digest = await client.putManifest('src/app', 'multi', index, INDEX);
    assert.equal(digest, sha256(index));
    const byTag = await client.getManifest('src/app', 'multi');
    assert.deepEqual([byTag.digest, byTag.mediaType, byTag.bytes.equals(index)], [digest, INDEX, true]);
    const byDigest = await client.getManifest('src/app', image.digest);
    assert.equal(byDigest.digest, image.digest);
    assert.deepEqual(await client.headManifest('src/app', 'multi'), { digest, mediaType: INDEX, size: index.length });
    assert.equal(await client.headManifest('src/app', 'nope'), undefined);
    assert.ok(MANIFEST_SIZE_LIMIT >= 4 * 1024 * 1024);
  });

  it('a refused request keeps every error entry of the body: code, message and detail', async () => {
    await assert.rejects(client.getManifest('src/app', 'missing'), (e: ActionError) => {
      assert.equal(e.code, 'MANIFEST_UNKNOWN');
      assert.equal(e.status, 404);
      assert.equal(e.diagnostics[0]?.code, 'MANIFEST_UNKNOWN');
      assert.ok(e.diagnostics[0]?.message, 'message kept');
      assert.match(e.diagnostics[0]?.detail ?? '', /missing/, 'detail kept');
      assert.match(e.message, /^fetch manifest 127\.0\.0\.1:\d+\/src\/app:missing failed: GET .* answered HTTP 404 MANIFEST_UNKNOWN: /);
      assert.doesNotMatch(e.message, /[\n\r]/);
      return true;
    });
    // A manifest naming a blob the repository lacks: distribution lists each missing one.
    const missing = [sha256(randomBytes(8)), sha256(randomBytes(8))];
    const bad = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: missing.map((d) => ({ mediaType: image.mediaType, digest: d, size: 10 })) }));
    await assert.rejects(client.putManifest('src/app', 'bad', bad, INDEX), (e: ActionError) => {
      assert.equal(e.code, 'MANIFEST_BLOB_UNKNOWN');
      assert.equal(e.diagnostics.length, 2, JSON.stringify(e.diagnostics));
      for (const d of missing) assert.ok(e.diagnostics.some((x) => x.detail?.includes(d)), d);
      return true;
    });
  });

  it('a refused upload PATCH keeps the body’s error', async () => {
    const { location } = await client.startUploadSession('blobs/gone');
    // An upload session the registry does not know: refused with an error body (a code the
    // status alone would not give: that came from the body, which was dropped before).
    const unknown = location.replace(/\/uploads\/[^/?]+/, '/uploads/00000000-0000-0000-0000-000000000000');
    await assert.rejects(client.patchChunk('blobs/gone', unknown, Buffer.from('abc'), 0, 'upload chunk'), (e: ActionError) => {
      assert.ok(e.status && e.status >= 400, String(e.status));
      assert.match(e.code ?? '', /^BLOB_UPLOAD_/);
      assert.equal(e.diagnostics[0]?.code, e.code);
      assert.ok(e.diagnostics[0]?.message);
      return true;
    });
  });

  it('every request carried the User-Agent', async () => {
    const upTo = await reg.mark();
    const lines = reg.requests().slice(from, upTo).filter((l) => !l.includes('/mark-'));
    assert.ok(lines.length >= 15, `${lines.length} requests logged`);
    for (const l of lines) assert.ok(l.endsWith(`"${USER_AGENT}"`), l);
  });
});
