import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Agent } from 'undici';
import { runAction } from '../../helpers/action.ts';
import { basic, dockerConfig } from '../../helpers/docker-config.ts';
import { visible } from '../../helpers/runner-text.ts';
import { runInProcess } from '../../helpers/in-process.ts';
import { type CertSet, makeServerCerts } from '../../helpers/certs.ts';
import { getManifestBytes, pushImage, sha256 } from '../../helpers/images.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';
import { startFaultProxy } from '../../helpers/fault-proxy.ts';
import { startForwardProxy } from '../../helpers/forward-proxy.ts';
import { type TokenIssuer, startTokenIssuer } from '../../helpers/token-issuer.ts';
import { createServer } from 'node:http';

const USER = 'ci-bot';
const PASSWORD = 's3cret-Pa55word-xyz';

describe('htpasswd registry', () => {
  let reg: RunningRegistry;
  const target = () => ({ url: reg.url, authorization: basic(USER, PASSWORD) });
  before(async () => {
    reg = await startRegistry({ htpasswd: { username: USER, password: PASSWORD } });
    await pushImage(target(), 'app', 'amd64', { os: 'linux', architecture: 'amd64' });
    await pushImage(target(), 'app', 'arm64', { os: 'linux', architecture: 'arm64', variant: 'v8' });
  });
  after(async () => reg?.stop());
  const inputs = () => ({ sources: `${reg.host}/app:amd64\n${reg.host}/app:arm64`, tags: `${reg.host}/app:multi` });

  it('publishes with Basic credentials from DOCKER_CONFIG auths, printing no secret', async () => {
    const auth = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
    const run = await runInProcess(inputs(), { DOCKER_CONFIG: dockerConfig({ auths: { [reg.host]: { auth } } }) });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.equal(sha256((await getManifestBytes(target(), 'app', 'multi')).bytes), run.outputs.digest);
    for (const secret of [PASSWORD, auth]) assert.ok(!visible(run.stdout + run.stderr).includes(secret));
    assert.match(run.stdout, new RegExp(`::add-mask::${PASSWORD}`));
  });

  it('takes username and password inputs', async () => {
    const run = await runInProcess({ ...inputs(), tags: `${reg.host}/app:inputs`, username: USER, password: PASSWORD });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.ok(!visible(run.stdout).includes(PASSWORD));
  });

  it('a wrong password fails with one clear line and pushes nothing', async () => {
    const before = await reg.mark();
    const run = await runInProcess({ ...inputs(), tags: `${reg.host}/app:wrong`, username: USER, password: 'not-the-password' });
    assert.notEqual(run.code, 0);
    const errors = run.stdout.split('\n').filter((l) => l.startsWith('::error'));
    assert.equal(errors.length, 1, run.stdout);
    assert.match(errors[0] as string, /UNAUTHORIZED/);
    assert.match(errors[0] as string, new RegExp(`check the credentials for ${reg.host}`));
    assert.ok(!visible(run.stdout).includes('not-the-password'));
    assert.deepEqual(await reg.writesSince(before), []);
  });

  it('gets credentials from a docker-credential helper on PATH', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'helper-bin-'));
    const helper = join(bin, 'docker-credential-testhelper');
    writeFileSync(
      helper,
      `#!/bin/sh\nread server\n[ "$1" = get ] || exit 1\nif [ "$server" = "${reg.host}" ]; then printf '{"ServerURL":"%s","Username":"${USER}","Secret":"${PASSWORD}"}' "$server"; else echo "credentials not found in native keychain"; exit 1; fi\n`,
    );
    chmodSync(helper, 0o755);
    const run = await runInProcess(
      { ...inputs(), tags: `${reg.host}/app:helper` },
      { DOCKER_CONFIG: dockerConfig({ credHelpers: { [reg.host]: 'testhelper' } }), PATH: `${bin}:${process.env.PATH}` },
    );
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.equal((await getManifestBytes(target(), 'app', 'helper')).status, 200);
    assert.ok(!visible(run.stdout).includes(PASSWORD));

    // The same helper as the default store (credsStore), for a registry with no other entry.
    const viaStore = await runInProcess(
      { ...inputs(), tags: `${reg.host}/app:store` },
      { DOCKER_CONFIG: dockerConfig({ credsStore: 'testhelper', auths: { [reg.host]: {} } }), PATH: `${bin}:${process.env.PATH}` },
    );
    assert.equal(viaStore.code, 0, viaStore.stdout + viaStore.stderr);
    assert.equal((await getManifestBytes(target(), 'app', 'store')).status, 200);
  });

  it('follows a blob redirect to storage without sending the credentials there', async () => {
    const seen: Array<string | undefined> = [];
    const storage = createServer(async (req, res) => {
      seen.push(req.headers.authorization);
      const digest = (req.url ?? '').split('/').pop() as string;
      const blob = await fetch(`${reg.url}/v2/app/blobs/${digest}`, { headers: { authorization: basic(USER, PASSWORD) } });
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(Buffer.from(await blob.arrayBuffer()));
    });
    await new Promise<void>((r) => storage.listen(0, '127.0.0.1', r));
    const storageUrl = `http://127.0.0.1:${(storage.address() as { port: number }).port}`;
    const proxy = await startFaultProxy(reg.url, (r) => {
      const m = /^\/v2\/app\/blobs\/(sha256:[a-f0-9]{64})$/.exec(r.url);
      return r.method === 'GET' && m ? { kind: 'status', status: 307, headers: { location: `${storageUrl}/signed/${m[1]}?X-Signature=abc` }, body: '' } : undefined;
    });
    try {
      const run = await runInProcess(
        { sources: `${proxy.host}/app:amd64\n${proxy.host}/app:arm64`, tags: `${proxy.host}/app:redirected`, username: USER, password: PASSWORD },
        { RUNNER_DEBUG: '1' },
      );
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.match(run.stdout, new RegExp(`::debug::GET ${storageUrl}/signed/sha256:[a-f0-9]{64}\\?… → 200`), 'request-level debug lines show the storage hop');
      assert.equal(seen.length, 2, 'both configs came from storage');
      assert.deepEqual(seen, [undefined, undefined], 'no Authorization header went to the storage host');
      assert.ok(!run.stdout.includes('X-Signature=abc'), 'signed query strings are redacted in logs');
    } finally {
      await proxy.stop();
      storage.close();
    }
  });

  it('honours HTTP_PROXY and NO_PROXY', async () => {
    const fwd = await startForwardProxy();
    try {
      const viaProxy = await runInProcess({ ...inputs(), tags: `${reg.host}/app:proxied`, username: USER, password: PASSWORD }, { HTTP_PROXY: fwd.url, HTTPS_PROXY: fwd.url, NO_PROXY: '' });
      assert.equal(viaProxy.code, 0, viaProxy.stdout + viaProxy.stderr);
      assert.ok(fwd.carried.some((h) => h === reg.host), `the proxy carried the registry traffic (${fwd.carried.join(', ')})`);
      const before = fwd.carried.length;
      const bypass = await runInProcess({ ...inputs(), tags: `${reg.host}/app:bypass`, username: USER, password: PASSWORD }, { HTTP_PROXY: fwd.url, HTTPS_PROXY: fwd.url, NO_PROXY: '127.0.0.1' });
      assert.equal(bypass.code, 0, bypass.stdout + bypass.stderr);
      assert.equal(fwd.carried.length, before, 'NO_PROXY bypassed the proxy');
    } finally {
      await fwd.stop();
    }
  });
});

describe('token-auth registry (JWTs verified by the registry)', () => {
  let reg: RunningRegistry;
  let issuer: TokenIssuer;
  const target = () => ({ url: reg.url, authorization: (scope: string) => `Bearer ${issuer.mint(USER, [scope])}` });
  before(async () => {
    issuer = await startTokenIssuer({
      users: { [USER]: PASSWORD, reader: 'reader-pass' },
      refreshTokens: { 'refresh-abc-123': USER },
      policy: (user, _repo, actions) => (user === USER ? actions : user === 'reader' ? actions.filter((a) => a === 'pull') : []),
    });
    reg = await startRegistry({ token: { realm: issuer.realm, service: issuer.service, issuer: issuer.issuer, rootCertBundle: issuer.rootCertBundle } });
    await pushImage(target(), 'src/app-amd64', 'v1', { os: 'linux', architecture: 'amd64' });
    await pushImage(target(), 'src/app-arm64', 'v1', { os: 'linux', architecture: 'arm64', variant: 'v8' });
  });
  after(async () => {
    await reg?.stop();
    await issuer?.stop();
  });
  const inputs = (tag: string) => ({ sources: `${reg.host}/src/app-amd64:v1\n${reg.host}/src/app-arm64:v1`, tags: `${reg.host}/app:${tag}` });

  it('publishes across repositories with credentials only in DOCKER_CONFIG; one token, no secret printed', async () => {
    const auth = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
    const tokensBefore = issuer.issued.length;
    const requestsBefore = issuer.requests.length;
    const run = await runInProcess(inputs('1'), { DOCKER_CONFIG: dockerConfig({ auths: { [`https://${reg.host}/v1/`]: { auth } } }) });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.equal(sha256((await getManifestBytes(target(), 'app', '1')).bytes), run.outputs.digest);
    const tokenRequests = issuer.requests.slice(requestsBefore);
    assert.equal(tokenRequests.length, 1, `one token for the whole run, got ${JSON.stringify(tokenRequests)}`);
    assert.deepEqual(tokenRequests[0]?.scopes.sort(), ['repository:app:pull,push', 'repository:src/app-amd64:pull', 'repository:src/app-arm64:pull']);
    assert.equal(tokenRequests[0]?.user, USER);
    const out = visible(run.stdout + run.stderr);
    for (const secret of [PASSWORD, auth, ...issuer.issued.slice(tokensBefore)]) assert.ok(!out.includes(secret), 'no secret in the output');
    // The children were mounted across repositories, not uploaded.
    assert.match(run.stdout, /0 present, 2 to mount/);
  });

  it('exchanges an identity token (OAuth2 refresh token) for the bearer token', async () => {
    const from = issuer.requests.length;
    const run = await runInProcess(inputs('oauth'), { DOCKER_CONFIG: dockerConfig({ auths: { [reg.host]: { identitytoken: 'refresh-abc-123' } } }) });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const posts = issuer.requests.slice(from).filter((r) => r.method === 'POST');
    assert.equal(posts.length, 1);
    assert.equal(posts[0]?.user, USER);
    assert.ok(!visible(run.stdout).includes('refresh-abc-123'));
  });

  it('a wrong password fails naming the registry, and pushes nothing', async () => {
    const before = await reg.mark();
    const run = await runInProcess(inputs('2'), { DOCKER_CONFIG: dockerConfig({ auths: { [reg.host]: { auth: Buffer.from(`${USER}:wrong-pass`).toString('base64') } } }) });
    assert.notEqual(run.code, 0);
    assert.match(run.stdout, new RegExp(`${reg.host}: the token server .* refused the credentials \\(docker config\\) with HTTP 401`));
    assert.ok(!visible(run.stdout).includes('wrong-pass'));
    assert.deepEqual(await reg.writesSince(before), []);
    assert.equal((await getManifestBytes(target(), 'app', '2')).status, 404);
  });

  it('a user without push access fails with one line naming registry, repository and push', async () => {
    const run = await runInProcess({ ...inputs('3'), username: 'reader', password: 'reader-pass' });
    assert.notEqual(run.code, 0);
    const errors = run.stdout.split('\n').filter((l) => l.startsWith('::error'));
    assert.equal(errors.length, 1, run.stdout);
    assert.match(errors[0] as string, new RegExp(`${reg.host} refused push access to app`));
    assert.match(errors[0] as string, /UNAUTHORIZED|DENIED/);
    assert.equal((await getManifestBytes(target(), 'app', '3')).status, 404);
  });
});

describe('TLS registry with a private CA', () => {
  let reg: RunningRegistry;
  let certs: CertSet;
  let target: { url: string; dispatcher: Agent };
  before(async () => {
    certs = makeServerCerts();
    reg = await startRegistry({ tls: { certificate: certs.cert, key: certs.key } });
    const { readFileSync } = await import('node:fs');
    target = { url: reg.url, dispatcher: new Agent({ connect: { ca: readFileSync(certs.caCert) } }) };
    await pushImage(target, 'app', 'amd64', { os: 'linux', architecture: 'amd64' });
    await pushImage(target, 'app', 'arm64', { os: 'linux', architecture: 'arm64' });
  });
  after(async () => {
    await target?.dispatcher.close();
    await reg?.stop();
  });
  const inputs = (tag: string) => ({ sources: `${reg.host}/app:amd64,${reg.host}/app:arm64`, tags: `${reg.host}/app:${tag}` });

  it('is refused without the CA, with a hint', async () => {
    const run = await runAction(inputs('x'), { NODE_EXTRA_CA_CERTS: undefined });
    assert.notEqual(run.code, 0);
    assert.match(run.stdout, /certificate|CERT/i);
    assert.match(run.stdout, /NODE_EXTRA_CA_CERTS/);
    assert.equal((await getManifestBytes(target, 'app', 'x')).status, 404);
  });

  it('is accepted with NODE_EXTRA_CA_CERTS', async () => {
    const run = await runAction(inputs('ca'), { NODE_EXTRA_CA_CERTS: certs.caCert });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.equal(sha256((await getManifestBytes(target, 'app', 'ca')).bytes), run.outputs.digest);
  });

  it('is accepted when listed in insecure-registries', async () => {
    const run = await runAction({ ...inputs('insecure'), 'insecure-registries': reg.host }, { NODE_EXTRA_CA_CERTS: undefined });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.equal(sha256((await getManifestBytes(target, 'app', 'insecure')).bytes), run.outputs.digest);
  });
});
