/**
 * Provenance (issue 23, findings 3, 4 and 5), driving the bundled action as the runner runs it
 * against a real registry: an artifact cannot widen what the workflow named, files are read as
 * files (and the password is masked before any of them is), and referrers travel only with what
 * the run places.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runAction } from '../../helpers/action.ts';
import { getManifestBytes, pushArtifact, pushCosignSignature, pushImage, putReferrersTag } from '../../helpers/images.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';

const errorOf = (stdout: string) => stdout.split('\n').find((l) => l.startsWith('::error')) ?? '';

describe('provenance: what an artifact can make the action publish (real registry, bundled action)', () => {
  let reg: RunningRegistry;
  let workspace: string;
  before(async () => {
    reg = await startRegistry();
    workspace = mkdtempSync(join(tmpdir(), 'provenance-ws-'));
  });
  after(async () => {
    rmSync(workspace, { recursive: true, force: true });
    await reg?.stop();
  });
  const t = () => ({ url: reg.url });

  // Finding 3: a digest-named file with content was read as a list naming any repository the
  // release credentials can read; a private image was published under the release tag, rc 0.
  it('a digest-named file with content fails the run naming it; nothing is written', async () => {
    const own = await pushImage(t(), 'rel/app', undefined, { os: 'linux', architecture: 'amd64' });
    await pushImage(t(), 'private/secret', 'release', { os: 'linux', architecture: 'arm64' });
    const dir = join(workspace, 'digests3');
    mkdirSync(dir);
    writeFileSync(join(dir, own.digest.slice('sha256:'.length)), '');
    const planted = 'b'.repeat(64);
    writeFileSync(join(dir, planted), `${reg.host}/private/secret:release\n`);
    const run = await runAction({ 'source-files': 'digests3/*', tags: `${reg.host}/rel/app:1.0` }, { GITHUB_WORKSPACE: workspace });
    assert.equal(run.code, 1);
    assert.match(errorOf(run.stdout), new RegExp(`Invalid source file 'digests3/${planted}': it is named by a digest but is not empty`));
    assert.doesNotMatch(run.stdout, /private\/secret/);
    assert.equal((await getManifestBytes(t(), 'rel/app', '1.0')).status, 404);
  });

  it('build metadata naming a repository the inputs do not name fails the run, naming file and line', async () => {
    const secret = await pushImage(t(), 'private/secret', 'release2', { os: 'linux', architecture: 'arm64' });
    const dir = join(workspace, 'meta');
    mkdirSync(dir);
    writeFileSync(join(dir, 'arm64.json'), JSON.stringify({ 'containerimage.digest': secret.digest, 'image.name': `${reg.host}/private/secret` }));
    const run = await runAction({ 'source-files': 'meta/*.json', tags: `${reg.host}/rel/app:1.1` }, { GITHUB_WORKSPACE: workspace });
    assert.equal(run.code, 1);
    assert.match(errorOf(run.stdout), /in meta\/arm64\.json line 1: repository .*private\/secret is named by neither the tags nor the sources input/);
    assert.equal((await getManifestBytes(t(), 'rel/app', '1.1')).status, 404);
    const allowed = await runAction({ 'source-files': 'meta/*.json', tags: `${reg.host}/rel/app:1.1`, 'source-files-repositories': `${reg.host}/private/*` }, { GITHUB_WORKSPACE: workspace });
    assert.equal(allowed.code, 0, allowed.stdout);
  });

  // Finding 4: a symlink to /proc/self/environ put the password input into the job log, masked
  // only later. Now the link is refused, and the password is masked before anything is read.
  it('a symlink to /proc/self/environ is refused without quoting it, after the password is masked', async () => {
    symlinkSync('/proc/self/environ', join(workspace, 'environ'));
    const password = 'hunter2-very-secret-password';
    const run = await runAction({ 'source-files': 'environ', tags: `${reg.host}/rel/app:1.2`, username: 'u', password }, { GITHUB_WORKSPACE: workspace });
    assert.equal(run.code, 1);
    assert.match(errorOf(run.stdout), /Invalid file 'environ': it is a symbolic link/);
    const lines = run.stdout.split('\n').filter(Boolean);
    assert.equal(lines[0], `::add-mask::${password}`, 'the password is masked first');
    assert.ok(!lines.slice(1).some((l) => l.includes(password)) && !run.stderr.includes(password), 'the password appears nowhere else');
    assert.doesNotMatch(run.stdout + run.stderr, /INPUT_|GITHUB_OUTPUT=/);
  });
});

// Finding 5: referrers and cosign tags were copied for every entry from another repository, even
// one the target already held: a source re-serving the bytes of the target's :prod manifest
// planted a signature and a "scan passed" referrer on :prod. Real registry only.
describe('referrers only with what this run places', () => {
  let reg: RunningRegistry;
  before(async () => {
    reg = await startRegistry();
  });
  after(async () => reg?.stop());

  it('an entry the target already holds gets no referrers or cosign tags from the source; the output and summary say so', async () => {
    const t = { url: reg.url };
    const spec = { os: 'linux', architecture: 'amd64', layers: [Buffer.from('the release layer')], format: 'oci' as const };
    const prod = await pushImage(t, 'victim/app', 'prod', spec);
    const copy = await pushImage(t, 'evil/app', undefined, spec);
    assert.equal(copy.digest, prod.digest, 'the source re-serves the target image’s bytes');
    await pushCosignSignature(t, 'evil/app', copy);
    const scan = await pushArtifact(t, 'evil/app', copy, 'application/vnd.example.scan+json', Buffer.from('scan passed'));
    await putReferrersTag(t, 'evil/app', copy, [{ ...scan, artifactType: 'application/vnd.example.scan+json' }]);
    // A second entry the target lacks: its placement (and its referrers, if any) go on as before.
    const other = await pushImage(t, 'evil/app', 'arm64', { os: 'linux', architecture: 'arm64', format: 'oci' });

    const run = await runAction({ sources: `${reg.host}/evil/app@${copy.digest}\n${reg.host}/evil/app@${other.digest}`, tags: `${reg.host}/victim/app:next` });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const hex = prod.digest.slice('sha256:'.length);
    assert.equal((await getManifestBytes(t, 'victim/app', `sha256-${hex}.sig`)).status, 404, 'no cosign signature was planted');
    assert.equal((await getManifestBytes(t, 'victim/app', `sha256-${hex}`)).status, 404, 'no referrers index was planted');
    assert.equal((await getManifestBytes(t, 'victim/app', scan.digest)).status, 404, 'the referrer was not copied');
    const travelled = JSON.parse(run.outputs.referrers ?? '[]') as Array<Record<string, string>>;
    assert.deepEqual(travelled, [{ image: prod.digest, target: `${reg.host}/victim/app`, kind: 'image', subject: prod.digest, digest: prod.digest, outcome: 'left' }]);
    assert.match(run.summary, /the image, already there: its referrers left as the target had them/);
  });
});
