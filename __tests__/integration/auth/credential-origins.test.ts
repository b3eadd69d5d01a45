/**
 * Credentials go only to their origin (issue 12): no upload Location or storage host a registry
 * names gets the registry's Authorization header, not even when it answers with a challenge of
 * its own. The action runs in process against a real registry behind a rewriting proxy that forges
 * what an attacker controlling the registry's answers would send; the hosts it points at are
 * scripted servers (no real registry or storage backend does this). Which host received which
 * Authorization header, and the error line, are what the tests check.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { basic } from '../../helpers/docker-config.ts';
import { BLOB_PATH, startRewritingProxy, startScriptedServer } from '../../helpers/hostile-servers.ts';
import { pushImage } from '../../helpers/images.ts';
import { runInProcess } from '../../helpers/in-process.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';
import { errorLines, escapeRe } from '../../helpers/runner-text.ts';

const USER = 'ci-bot';
const PASSWORD = 'hostile-Pa55word-42';

describe('credentials stay with the registry they belong to', () => {
  let registry: RunningRegistry; // htpasswd: every request needs the credentials
  let source: RunningRegistry; // anonymous, for copies across registries
  const creds = () => ({ username: USER, password: PASSWORD });
  before(async () => {
    registry = await startRegistry({ htpasswd: { username: USER, password: PASSWORD } });
    source = await startRegistry();
    const auth = { url: registry.url, authorization: basic(USER, PASSWORD) };
    await pushImage(auth, 'app', 'amd64', { os: 'linux', architecture: 'amd64' });
    await pushImage(auth, 'app', 'arm64', { os: 'linux', architecture: 'arm64', variant: 'v8' });
    await pushImage({ url: source.url }, 'app', 'amd64', { os: 'linux', architecture: 'amd64' });
  });
  after(async () => {
    await registry?.stop();
    await source?.stop();
  });

  // Scripted: a registry handing out an upload Location on another host is what an attacker who
  // controls the registry's answers does; the proxy forges it on the real registry's 202.
  it('an upload Location on another origin gets no Authorization, and its 401 is not answered with the credentials', async () => {
    const elsewhere = await startScriptedServer(() => ({
      status: 401,
      headers: { 'www-authenticate': 'Basic realm="elsewhere"', 'content-type': 'application/json' },
      body: '{"errors":[{"code":"UNAUTHORIZED","message":"credentials please"}]}',
    }));
    const proxy = await startRewritingProxy(registry.url);
    proxy.setRule((r) =>
      r.status === 202 && r.method === 'POST' && r.url.startsWith('/v2/app/blobs/uploads/')
        ? { headers: { location: `${elsewhere.url}/v2/app/blobs/uploads/forged?_state=abc` } }
        : undefined,
    );
    try {
      const run = await runInProcess({ sources: `${source.host}/app:amd64`, tags: `${proxy.host}/app:upload-location`, ...creds() });
      assert.ok(elsewhere.requests.length > 0, `the forged Location was used: ${run.stdout}`);
      assert.deepEqual(
        elsewhere.requests.map((r) => r.authorization),
        elsewhere.requests.map(() => undefined),
        'no Authorization header went to the other host, before or after its 401',
      );
      assert.notEqual(run.code, 0);
      assert.match(errorLines(run).join('\n'), new RegExp(escapeRe(elsewhere.host)), 'the error names the host that refused');
    } finally {
      await proxy.stop();
      await elsewhere.stop();
    }
  });

  // Scripted: a storage host with a challenge of its own (no real storage backend does this).
  it("a storage host's own Bearer challenge is not answered with the registry's credentials", async () => {
    const realm = await startScriptedServer(() => ({ status: 200, headers: { 'content-type': 'application/json' }, body: '{"token":"storage-realm-token-0123456789","expires_in":300}' }));
    const storage = await startScriptedServer(() => ({
      status: 401,
      headers: { 'www-authenticate': `Bearer realm="${realm.url}/token",service="storage",scope="repository:app:pull"` },
      body: '',
    }));
    const proxy = await startRewritingProxy(registry.url);
    proxy.setRule((r) => {
      const m = BLOB_PATH.exec(r.url);
      return r.status === undefined && r.method === 'GET' && m ? { answer: { status: 307, headers: { location: `${storage.url}/signed/${m[1]}?sig=1` } } } : undefined;
    });
    try {
      const run = await runInProcess({ sources: `${proxy.host}/app:amd64\n${proxy.host}/app:arm64`, tags: `${proxy.host}/app:storage-challenge`, ...creds() });
      assert.ok(storage.requests.length > 0, `the redirect was followed: ${run.stdout}`);
      assert.deepEqual(realm.requests.map((r) => `${r.method} ${r.url} ${r.authorization ?? '(none)'}`), [], "nothing went to the storage host's realm");
      assert.deepEqual(storage.requests.map((r) => r.authorization), storage.requests.map(() => undefined));
      assert.notEqual(run.code, 0);
      assert.match(errorLines(run).join('\n'), new RegExp(`${escapeRe(storage.host)}.*401|401.*${escapeRe(storage.host)}`), 'the error names the storage host and its 401');
    } finally {
      await proxy.stop();
      await storage.stop();
      await realm.stop();
    }
  });
});
