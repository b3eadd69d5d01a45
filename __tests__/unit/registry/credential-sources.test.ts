/**
 * Where credentials are found besides the inputs and Docker's config file: DOCKER_AUTH_CONFIG,
 * docker/login-action v4's `scope` configs (buildx's config directory), the Podman/Buildah auth
 * file; their order; their bounds.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ActionError } from '../../../src/errors.ts';
import { type Logger, actionsLogger, setLogger } from '../../../src/log.ts';
import { AUTH_CONFIG_LIMIT, type RepositoryScope, parseScopeKey, scopeMatches } from '../../../src/registry/auth-files.ts';
import { resolveCredentials } from '../../../src/registry/credentials.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const auths = (registry: string, user: string, password: string) => ({ auths: { [registry]: { auth: b64(`${user}:${password}`) } } });
function file(path: string, content: unknown): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}
const push = (registry: string, repository: string): RepositoryScope => ({ registry, repository, actions: ['pull', 'push'] });

describe("login-action's scope keys (buildx's parseConfigKey)", () => {
  const table: Array<[string, ReturnType<typeof parseScopeKey>]> = [
    ['ghcr.io', { host: 'ghcr.io', repository: '', actions: [] }],
    ['ghcr.io@push', { host: 'ghcr.io', repository: '', actions: ['push'] }],
    ['registry-1.docker.io/myorg/myimage@push', { host: 'registry-1.docker.io', repository: 'myorg/myimage', actions: ['push'] }],
    ['reg.example:5000/a/b@pull, push', { host: 'reg.example:5000', repository: 'a/b', actions: ['pull', 'push'] }],
    ['ghcr.io/acme/app', { host: 'ghcr.io', repository: 'acme/app', actions: [] }],
  ];
  for (const [key, parsed] of table) it(key, () => assert.deepEqual(parseScopeKey(key), parsed));

  const wanted = [push('docker.io', 'myorg/myimage'), { registry: 'docker.io', repository: 'library/alpine', actions: ['pull'] }];
  const matches: Array<[string, string, boolean]> = [
    ['registry-1.docker.io/myorg/myimage@push', 'docker.io', true],
    ['registry-1.docker.io/myorg/myimage', 'docker.io', true],
    ['registry-1.docker.io/myorg/other@push', 'docker.io', false],
    ['registry-1.docker.io/library/alpine@push', 'docker.io', false], // pulled only: push not needed there
    ['registry-1.docker.io@push', 'docker.io', true],
    ['registry-1.docker.io@delete', 'docker.io', false],
    ['registry-1.docker.io', 'docker.io', true],
    ['ghcr.io/myorg/myimage@push', 'docker.io', false],
    ['registry-1.docker.io/myorg/myimage@push', 'ghcr.io', false],
  ];
  for (const [key, registry, expected] of matches) {
    it(`${key} ${expected ? 'fits' : 'does not fit'} the run on ${registry}`, () => assert.equal(scopeMatches(parseScopeKey(key), registry, wanted), expected));
  }
});

describe('credential sources and their order', () => {
  let home: string;
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'cred-src-'));
  });
  const dockerDir = () => join(home, 'docker');

  /** Every source holds a different user for ghcr.io; each case leaves some out. */
  const sources = {
    variable: (env: NodeJS.ProcessEnv) => (env.DOCKER_AUTH_CONFIG = JSON.stringify(auths('ghcr.io', 'from-variable', 'pw-variable-1'))),
    scoped: () => file(join(dockerDir(), 'buildx', 'config', 'ghcr.io', 'acme', 'app@push', 'config.json'), auths('ghcr.io', 'from-scope', 'pw-scope-1')),
    docker: () => file(join(dockerDir(), 'config.json'), auths('ghcr.io', 'from-docker', 'pw-docker-1')),
    podman: (env: NodeJS.ProcessEnv) => (env.REGISTRY_AUTH_FILE = file(join(home, 'podman', 'auth.json'), auths('ghcr.io', 'from-podman', 'pw-podman-1'))),
  };
  const order: Array<[Array<keyof typeof sources>, string]> = [
    [['variable', 'scoped', 'docker', 'podman'], 'from-variable'],
    [['scoped', 'docker', 'podman'], 'from-scope'],
    [['docker', 'podman'], 'from-docker'],
    [['podman'], 'from-podman'],
    [['variable', 'podman'], 'from-variable'],
    [[], 'anonymous'],
  ];
  for (const [present, expected] of order) {
    it(`${present.join(', ') || 'none'}: ${expected}`, async () => {
      const env: NodeJS.ProcessEnv = { DOCKER_CONFIG: dockerDir() };
      for (const s of present) sources[s](env);
      const c = await resolveCredentials('ghcr.io', { env, repositories: [push('ghcr.io', 'acme/app')] });
      assert.equal(c.username ?? c.source, expected);
    });
  }

  it('a source with nothing for the registry is passed over', async () => {
    const env: NodeJS.ProcessEnv = { DOCKER_CONFIG: dockerDir(), DOCKER_AUTH_CONFIG: JSON.stringify(auths('quay.io', 'q', 'pw-quay-12')) };
    file(join(dockerDir(), 'config.json'), auths('docker.io', 'hub', 'pw-hub-123'));
    sources.podman(env);
    assert.equal((await resolveCredentials('ghcr.io', { env })).username, 'from-podman');
    assert.equal((await resolveCredentials('quay.io', { env })).username, 'q');
    assert.equal((await resolveCredentials('docker.io', { env })).username, 'hub');
  });

  it("login-action's scoped config: only for the run's target repositories, Docker Hub under registry-1.docker.io, BUILDX_CONFIG", async () => {
    const env: NodeJS.ProcessEnv = { DOCKER_CONFIG: dockerDir() };
    file(join(dockerDir(), 'buildx', 'config', 'registry-1.docker.io', 'myorg', 'myimage@push', 'config.json'), { auths: { 'https://index.docker.io/v1/': { auth: b64('hub-scoped:pw-hub-scoped') } } });
    assert.equal((await resolveCredentials('docker.io', { env, repositories: [push('docker.io', 'myorg/myimage')] })).username, 'hub-scoped');
    assert.equal((await resolveCredentials('docker.io', { env, repositories: [push('docker.io', 'myorg/other')] })).source, 'anonymous');
    assert.equal((await resolveCredentials('docker.io', { env })).source, 'anonymous', 'no repositories given: no scope applies');
    const buildx = join(home, 'elsewhere');
    file(join(buildx, 'config', 'ghcr.io@push', 'config.json'), auths('ghcr.io', 'registry-wide', 'pw-wide-123'));
    file(join(buildx, 'config', 'ghcr.io', 'acme', 'app@push', 'config.json'), auths('ghcr.io', 'repo-scoped', 'pw-repo-123'));
    const viaBuildx = { ...env, BUILDX_CONFIG: buildx };
    assert.equal((await resolveCredentials('ghcr.io', { env: viaBuildx, repositories: [push('ghcr.io', 'acme/app')] })).username, 'repo-scoped', 'a scope naming the repository first');
    assert.equal((await resolveCredentials('ghcr.io', { env: viaBuildx, repositories: [push('ghcr.io', 'acme/web')] })).username, 'registry-wide');
  });

  it('the Podman auth file: REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json', async () => {
    const runtime = join(home, 'run');
    file(join(runtime, 'containers', 'auth.json'), auths('ghcr.io', 'from-xdg', 'pw-xdg-1234'));
    const env: NodeJS.ProcessEnv = { DOCKER_CONFIG: dockerDir(), XDG_RUNTIME_DIR: runtime };
    assert.equal((await resolveCredentials('ghcr.io', { env })).username, 'from-xdg');
    assert.equal((await resolveCredentials('ghcr.io', { env: { ...env, REGISTRY_AUTH_FILE: join(home, 'absent.json') } })).username, 'from-xdg');
    sources.podman(env);
    assert.equal((await resolveCredentials('ghcr.io', { env })).username, 'from-podman');
  });

  it('hostile files: too large, not JSON, not a regular file, other shapes', async () => {
    const env: NodeJS.ProcessEnv = { DOCKER_CONFIG: dockerDir() };
    const big = file(join(home, 'big.json'), `{"auths":{},"pad":"${'x'.repeat(AUTH_CONFIG_LIMIT)}"}`);
    await assert.rejects(resolveCredentials('ghcr.io', { env: { ...env, REGISTRY_AUTH_FILE: big } }), (e: unknown) => e instanceof ActionError && e.message === `${big} is larger than ${AUTH_CONFIG_LIMIT} bytes, too large for a credentials file`);
    await assert.rejects(resolveCredentials('ghcr.io', { env: { ...env, DOCKER_AUTH_CONFIG: `{"pad":"${'x'.repeat(AUTH_CONFIG_LIMIT)}"}` } }), /the DOCKER_AUTH_CONFIG variable is larger than/);
    await assert.rejects(resolveCredentials('ghcr.io', { env: { ...env, DOCKER_AUTH_CONFIG: '{"auths": {"ghcr.io": {"auth": "c2VjcmV0LXZhbHVl' } }), (e: unknown) => {
      assert.ok(e instanceof ActionError);
      assert.match(e.line, /^the DOCKER_AUTH_CONFIG variable is not valid JSON\. Fix or remove it/);
      assert.ok(!e.line.includes('c2VjcmV0LXZhbHVl'), 'its content is not quoted');
      return true;
    });
    mkdirSync(join(home, 'dir.json'));
    for (const value of [join(home, 'dir.json'), '/dev/null', '/dev/zero']) {
      assert.equal((await resolveCredentials('ghcr.io', { env: { ...env, REGISTRY_AUTH_FILE: value } })).source, 'anonymous', value);
    }
    for (const value of ['[]', '5', 'null', '{"auths": []}', '{"auths": {"ghcr.io": "x"}}']) {
      assert.equal((await resolveCredentials('ghcr.io', { env: { ...env, DOCKER_AUTH_CONFIG: value } })).source, 'anonymous', value);
    }
  });

  it('attack: a FIFO where a credentials file is looked for is passed over at once, not waited on for a writer', async () => {
    // Before: open() blocked until something wrote to the FIFO, and the run hung until the job's timeout.
    const fifo = join(home, 'auth-fifo.json');
    execFileSync('mkfifo', [fifo]);
    const env: NodeJS.ProcessEnv = { DOCKER_CONFIG: dockerDir(), REGISTRY_AUTH_FILE: fifo };
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still waiting after 3 s'), 3000)));
    try {
      assert.equal(await Promise.race([resolveCredentials('ghcr.io', { env }).then((c) => c.source), stalled]), 'anonymous');
    } finally {
      clearTimeout(timer);
      // Releases an open() still blocked on the FIFO (before the fix), so the test process can end.
      try {
        closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // no reader waiting: nothing to release
      }
    }
  });
});

describe('DOCKER_AUTH_CONFIG is masked', () => {
  const secrets: string[] = [];
  const recorder: Logger = { ...actionsLogger, setSecret: (s) => secrets.push(s), debug: () => undefined, info: () => undefined, warning: () => undefined };
  beforeEach(() => setLogger(recorder));
  afterEach(() => setLogger(actionsLogger));

  it('every secret it holds, for every registry, as soon as it is read', async () => {
    const config = {
      auths: {
        'ghcr.io': { auth: b64('u:ghcr-pass-masked') },
        'quay.io': { username: 'q', password: 'quay-pass-masked' },
        'registry.example': { identitytoken: 'idtoken-masked-1', registrytoken: 'regtoken-masked-1' },
      },
    };
    const c = await resolveCredentials('ghcr.io', { env: { DOCKER_CONFIG: '/nonexistent', DOCKER_AUTH_CONFIG: JSON.stringify(config) } });
    assert.equal(c.source, 'DOCKER_AUTH_CONFIG');
    for (const s of [b64('u:ghcr-pass-masked'), 'ghcr-pass-masked', 'quay-pass-masked', 'idtoken-masked-1', 'regtoken-masked-1']) assert.ok(secrets.includes(s), s);
  });
});
