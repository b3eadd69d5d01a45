/**
 * Credentials the way CI hands them over, end to end: the bundled action against a registry that
 * wants htpasswd credentials, each run given them from one source only (Docker's config file is
 * absent in every run): DOCKER_AUTH_CONFIG (GitLab CI's variable, read by regclient too),
 * docker/login-action v4's `scope` config for buildx, the Podman/Buildah auth file.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runAction } from '../../helpers/action.ts';
import { getManifestBytes, pushImage, sha256 } from '../../helpers/images.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';
import { visible } from '../../helpers/runner-text.ts';

const USER = 'ci-bot';
const PASSWORD = 'Scoped-Pa55word-q7';
const auth = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');

function write(path: string, content: unknown): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, JSON.stringify(content));
  return path;
}

describe('credentials from DOCKER_AUTH_CONFIG, login-action scopes and the Podman auth file', () => {
  let reg: RunningRegistry;
  let home: string;
  const target = () => ({ url: reg.url, authorization: `Basic ${auth}` });
  before(async () => {
    reg = await startRegistry({ htpasswd: { username: USER, password: PASSWORD } });
    home = mkdtempSync(join(tmpdir(), 'cred-e2e-'));
    await pushImage(target(), 'app', 'amd64', { os: 'linux', architecture: 'amd64' });
    await pushImage(target(), 'app', 'arm64', { os: 'linux', architecture: 'arm64', variant: 'v8' });
  });
  after(async () => reg?.stop());
  const inputs = (tag: string) => ({ sources: `${reg.host}/app:amd64\n${reg.host}/app:arm64`, tags: `${reg.host}/app:${tag}` });
  const empty = () => mkdtempSync(join(home, 'docker-')); // a DOCKER_CONFIG directory without config.json

  const published = async (tag: string, env: Record<string, string>) => {
    const run = await runAction(inputs(tag), { DOCKER_CONFIG: empty(), ...env });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.equal(sha256((await getManifestBytes(target(), 'app', tag)).bytes), run.outputs.digest);
    assert.ok(!visible(run.stdout + run.stderr).includes(PASSWORD), 'the password is never printed');
    return run;
  };

  it('without credentials the run fails UNAUTHORIZED (what every case below starts from)', async () => {
    const run = await runAction(inputs('none'), { DOCKER_CONFIG: empty() });
    assert.notEqual(run.code, 0);
    assert.match(run.stdout, /UNAUTHORIZED/);
  });

  it('DOCKER_AUTH_CONFIG: used, every secret in it masked', async () => {
    const value = JSON.stringify({ auths: { [reg.host]: { auth } } });
    const run = await published('variable', { DOCKER_AUTH_CONFIG: value });
    for (const secret of [auth, PASSWORD]) assert.ok(run.stdout.includes(`::add-mask::${secret}\n`), secret);
  });

  it("docker/login-action v4's scope: <buildx config>/config/<registry>/<repository>@push/config.json", async () => {
    // Where login-action's scopeToConfigDir puts it (src/context.ts: path.join(Buildx.configDir,
    // 'config', registry, scope)), Buildx.configDir being $BUILDX_CONFIG or $DOCKER_CONFIG/buildx.
    const docker = empty();
    write(join(docker, 'buildx', 'config', reg.host, 'app@push', 'config.json'), { auths: { [reg.host]: { auth } } });
    await published('scoped', { DOCKER_CONFIG: docker });
    const buildx = mkdtempSync(join(home, 'buildx-'));
    write(join(buildx, 'config', `${reg.host}@push`, 'config.json'), { auths: { [reg.host]: { auth } } });
    await published('scoped-registry', { BUILDX_CONFIG: buildx });
  });

  it('the Podman/Buildah auth file: REGISTRY_AUTH_FILE, and $XDG_RUNTIME_DIR/containers/auth.json', async () => {
    const file = write(join(home, 'podman', 'auth.json'), { auths: { [reg.host]: { auth } } });
    await published('podman', { REGISTRY_AUTH_FILE: file });
    const runtime = mkdtempSync(join(home, 'run-'));
    write(join(runtime, 'containers', 'auth.json'), { auths: { [reg.host]: { auth } } });
    await published('podman-xdg', { XDG_RUNTIME_DIR: runtime });
  });
});
