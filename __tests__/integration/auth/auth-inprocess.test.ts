/**
 * The auth layer in-process (no dist/ rebuild) against the real registry: Basic (htpasswd) and
 * token auth (JWTs the registry verifies itself). The subprocess runs of dist/ in auth.test.ts
 * stay for the runner contract (masking, annotations).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ActionError } from '../../../src/errors.ts';
import { Registries } from '../../../src/registry/registries.ts';
import { USER_AGENT } from '../../../src/registry/user-agent.ts';
import { pushImage } from '../../helpers/images.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';
import { type TokenIssuer, startTokenIssuer } from '../../helpers/token-issuer.ts';
import { startFaultProxy } from '../../helpers/fault-proxy.ts';

const USER = 'ci-bot';
const PASSWORD = 's3cret-Pa55word-xyz';
const noDockerConfig = { DOCKER_CONFIG: '/nonexistent-docker-config' };
const INDEX = 'application/vnd.oci.image.index.v1+json';
const indexOf = (image: { mediaType: string; digest: string; size: number }) =>
  Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: [{ mediaType: image.mediaType, digest: image.digest, size: image.size }] }));

describe('Basic auth (htpasswd) in-process', () => {
  let reg: RunningRegistry;
  let image: Awaited<ReturnType<typeof pushImage>>;
  before(async () => {
    reg = await startRegistry({ htpasswd: { username: USER, password: PASSWORD } });
    image = await pushImage({ url: reg.url, authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` }, 'app', 'v1', { os: 'linux', architecture: 'amd64' });
  });
  after(async () => reg?.stop());

  const registriesWith = (password: string) =>
    new Registries({ transport: { backoffBaseMs: 1 }, credentials: { env: noDockerConfig, explicit: { registry: `http://${reg.host}/`, username: USER, password } } });

  it('answers the first 401 with the credentials, then sends them up front', async () => {
    const registries = registriesWith(PASSWORD);
    const from = await reg.mark();
    try {
      const client = registries.client(reg.host);
      assert.equal((await client.getManifest('app', 'v1')).digest, image.digest);
      assert.equal(await client.putManifest('app', 'multi', indexOf(image), INDEX), (await client.getManifest('app', 'multi')).digest);
      const upTo = await reg.mark();
      const lines = reg.requests().slice(from, upTo).filter((l) => !l.includes('/mark-'));
      assert.deepEqual(lines.map((l) => / (\d{3}) /.exec(l.split('"')[2] ?? '')?.[1]), ['401', '200', '201', '200'], lines.join('\n'));
      for (const l of lines) assert.ok(l.endsWith(`"${USER_AGENT}"`), l);
    } finally {
      await registries.close();
    }
  });

  it('a wrong password fails with an auth error, once', async () => {
    const registries = registriesWith('not-the-password');
    try {
      await assert.rejects(registries.client(reg.host).getManifest('app', 'v1'), (e: ActionError) => {
        assert.equal(e.kind, 'auth');
        assert.equal(e.status, 401);
        assert.match(e.hint ?? '', /check the credentials for 127\.0\.0\.1/);
        return true;
      });
    } finally {
      await registries.close();
    }
  });

  it('anonymous requests get the registry’s refusal', async () => {
    const registries = new Registries({ credentials: { env: noDockerConfig } });
    try {
      await assert.rejects(registries.client(reg.host).headManifest('app', 'v1'), (e: ActionError) => e.kind === 'auth' && e.code === 'UNAUTHORIZED');
    } finally {
      await registries.close();
    }
  });
});

describe('the first burst on an anonymous loopback registry', () => {
  it('one ping first, then the burst goes out at once: its first answer is held until every request of it has arrived', async () => {
    const reg = await startRegistry();
    const image = await pushImage({ url: reg.url }, 'app', 'v1', { os: 'linux', architecture: 'amd64' });
    const proxy = await startFaultProxy(reg.url);
    let seenWhileHeld = 0;
    // After the ping, the first request's answer waits (up to 3 s) for the other seven to reach
    // the registry: requests held behind it would leave the count at 2.
    proxy.setRule((r) =>
      r.n === 2
        ? {
            kind: 'hook',
            run: async () => {
              const until = Date.now() + 3000;
              while (proxy.log.length < 9 && Date.now() < until) await new Promise((res) => setTimeout(res, 5));
              seenWhileHeld = proxy.log.length;
            },
          }
        : undefined,
    );
    const registries = new Registries({ credentials: { env: noDockerConfig } });
    try {
      const client = registries.client(proxy.host);
      const digests = await Promise.all(Array.from({ length: 8 }, () => client.getManifest('app', 'v1').then((m) => m.digest)));
      assert.deepEqual(new Set(digests), new Set([image.digest]));
      assert.equal(seenWhileHeld, 9);
      assert.deepEqual(proxy.log.map((r) => `${r.method} ${r.url}`).filter((l) => l === 'GET /v2/'), ['GET /v2/'], 'one ping');
      assert.equal(`${proxy.log[0]?.method} ${proxy.log[0]?.url}`, 'GET /v2/', 'the ping goes first');
    } finally {
      await registries.close();
      await proxy.stop();
      await reg.stop();
    }
  });
});

describe('token auth in-process', () => {
  let reg: RunningRegistry;
  let issuer: TokenIssuer;
  let image: Awaited<ReturnType<typeof pushImage>>;
  before(async () => {
    issuer = await startTokenIssuer({
      users: { [USER]: PASSWORD, reader: 'reader-pass' },
      policy: (user, _repo, actions) => (user === USER ? actions : user === 'reader' ? actions.filter((a) => a === 'pull') : []),
    });
    reg = await startRegistry({ token: { realm: issuer.realm, service: issuer.service, issuer: issuer.issuer, rootCertBundle: issuer.rootCertBundle } });
    image = await pushImage({ url: reg.url, authorization: (scope) => `Bearer ${issuer.mint(USER, [scope])}` }, 'src/app', 'v1', { os: 'linux', architecture: 'amd64' });
  });
  after(async () => {
    await reg?.stop();
    await issuer?.stop();
  });

  const registriesFor = (username: string, password: string) =>
    new Registries({ transport: { backoffBaseMs: 1 }, credentials: { env: noDockerConfig, explicit: { registry: reg.host, username, password } } });

  it('one token covers every scope asked up front; it is fetched once, with the User-Agent', async () => {
    const registries = registriesFor(USER, PASSWORD);
    const before = issuer.requests.length;
    try {
      const client = registries.client(reg.host);
      client.auth.scopes.add('src/app', 'pull');
      client.auth.scopes.add('dst/app', 'pull', 'push');
      const config = (JSON.parse(image.bytes.toString()) as { config: { digest: `sha256:${string}` } }).config.digest;
      await Promise.all([client.getManifest('src/app', 'v1'), client.headManifest('dst/app', 'x'), client.headBlob('dst/app', config)]);
      assert.equal((await client.mountBlob('dst/app', config, 'src/app')).mounted, true);
      const asked = issuer.requests.slice(before);
      assert.equal(asked.length, 1, JSON.stringify(asked));
      assert.deepEqual(asked[0]?.scopes, ['repository:dst/app:pull,push', 'repository:src/app:pull']);
      assert.equal(asked[0]?.userAgent, USER_AGENT);
      assert.equal(asked[0]?.user, USER);
    } finally {
      await registries.close();
    }
  });

  it('the auth gate: with credentials for the registry, its first request goes alone and the burst waits for the token (one 401, one token request)', async () => {
    const registries = registriesFor(USER, PASSWORD);
    const before = issuer.requests.length;
    const from = await reg.mark();
    try {
      const client = registries.client(reg.host);
      const digests = await Promise.all(Array.from({ length: 8 }, () => client.getManifest('src/app', 'v1').then((m) => m.digest)));
      assert.deepEqual(new Set(digests), new Set([image.digest]));
      const upTo = await reg.mark();
      const statuses = reg.requests().slice(from, upTo).filter((l) => !l.includes('/mark-')).map((l) => / (\d{3}) /.exec(l.split('"')[2] ?? '')?.[1]);
      // Without the gate: eight 401s, then eight 200s (measured on the code before it).
      assert.deepEqual(statuses, ['401', ...Array(8).fill('200')], statuses.join(' '));
      assert.equal(issuer.requests.length - before, 1);
    } finally {
      await registries.close();
    }
  });

  it('a scope the grant lacks is refused by the registry, not retried forever', async () => {
    const registries = registriesFor('reader', 'reader-pass');
    try {
      const client = registries.client(reg.host);
      assert.equal((await client.getManifest('src/app', 'v1')).digest, image.digest);
      await assert.rejects(client.putManifest('src/app', 'nope', indexOf(image), INDEX), (e: ActionError) => {
        assert.equal(e.kind, 'auth');
        assert.match(e.hint ?? '', /may push src\/app/);
        return true;
      });
    } finally {
      await registries.close();
    }
  });

  it('the token server refusing the credentials is an auth error naming the server', async () => {
    const registries = registriesFor(USER, 'wrong');
    try {
      await assert.rejects(registries.client(reg.host).getManifest('src/app', 'v1'), (e: ActionError) => {
        assert.equal(e.kind, 'auth');
        assert.match(e.message, /the token server http:\/\/127\.0\.0\.1:\d+ refused the credentials \(inputs\) with HTTP 401/);
        return true;
      });
    } finally {
      await registries.close();
    }
  });
});
