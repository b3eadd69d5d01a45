import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { projectRoot } from '../helpers/action.ts';
import { getManifestBytes, pushBuildxStyle, pushImage, sha256 } from '../helpers/images.ts';
import { type RunningRegistry, startRegistry } from '../helpers/registry.ts';

const exec = promisify(execFile);
const cli = (args: string[]) => exec(process.execPath, [join(projectRoot, 'dist/cli/index.js'), ...args], { env: { ...process.env, DOCKER_CONFIG: '/nonexistent' } });

describe('command-line entry (dist/cli)', () => {
  let reg: RunningRegistry;
  before(async () => {
    reg = await startRegistry();
    await pushImage({ url: reg.url }, 'cli/app', 'amd64', { os: 'linux', architecture: 'amd64' });
    await pushImage({ url: reg.url }, 'cli/app', 'arm', { os: 'linux', architecture: 'arm', variant: 'v7' });
    await pushBuildxStyle({ url: reg.url }, 'cli/bx', 'arm64', { os: 'linux', architecture: 'arm64' });
  });
  after(async () => reg?.stop());

  it('publish runs the same code as the action', async () => {
    const { stdout } = await cli(['publish', '--source', `${reg.host}/cli/app:amd64`, '--source', `${reg.host}/cli/app:arm`, '--tag', `${reg.host}/cli/app:1`, '--json']);
    const result = JSON.parse(stdout);
    assert.deepEqual(result.platforms, ['linux/amd64', 'linux/arm/v7']);
    assert.equal(sha256((await getManifestBytes({ url: reg.url }, 'cli/app', '1')).bytes), result.digest);
    assert.equal(result.manifest.manifests.length, 2);
  });

  it('publish --push=false writes nothing', async () => {
    const { stdout } = await cli(['publish', '--source', `${reg.host}/cli/app:amd64`, '--tag', `${reg.host}/cli/app:dry`, '--push=false']);
    assert.match(stdout, /^would publish sha256:[a-f0-9]{64}/);
    assert.equal((await getManifestBytes({ url: reg.url }, 'cli/app', 'dry')).status, 404);
  });

  it('inspect prints platforms and digests as a table, or the manifest as JSON', async () => {
    const { stdout: table } = await cli(['inspect', `${reg.host}/cli/app:1`]);
    assert.match(table, /PLATFORM\s+DIGEST\s+SIZE\s+MEDIA TYPE/);
    assert.match(table, /linux\/arm\/v7\s+sha256:[a-f0-9]{64}/);
    const { stdout: json } = await cli(['inspect', '--json', `${reg.host}/cli/app:1`]);
    assert.equal(JSON.parse(json).manifests.length, 2);
    const { stdout: verbose } = await cli(['inspect', '--verbose', `${reg.host}/cli/bx:arm64`]);
    assert.match(verbose, /attestation \(unknown\/unknown\)/);
    assert.match(verbose, /linux\/arm64 sha256:[a-f0-9]{64}\n {2}sha256:[a-f0-9]{64} {2}\d+ {2}application\/vnd\.oci\.image\.layer/);
  });

  it('inspect --platform shows the entry a client on that platform pulls', async () => {
    const { stdout: arm } = await cli(['inspect', '--platform', 'linux/arm/v7', `${reg.host}/cli/app:1`]);
    assert.match(arm, /^linux\/arm\/v7 {2}sha256:[a-f0-9]{64}\n$/);
    // An amd64 host also runs 386 images, but not arm ones: linux/386 finds nothing here.
    await assert.rejects(cli(['inspect', '--platform', 'linux/386', `${reg.host}/cli/app:1`]), /no entry of .* runs on linux\/386/);
  });

  it('fails with one line and a non-zero exit on bad input', async () => {
    await assert.rejects(cli(['publish', '--source', 'Bad Ref', '--tag', `${reg.host}/x:1`]), (e: any) => e.code === 1 && /^error: Invalid source reference 'Bad'/.test(e.stderr));
  });
});
