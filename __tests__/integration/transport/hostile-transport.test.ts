/**
 * Transport and credential trust (issue 12): no registry, redirect, challenge or config value can
 * take a credential, weaken TLS, run a program or hold the run forever. Each test drives the
 * action (in process; the bundled one where Node reads the environment at start: CA certificates,
 * start-up connections) and checks what matters: which host received which Authorization header, what ran,
 * and the error line. Real registries sit behind rewriting proxies; scripted servers stand in only
 * for what no real registry does (each says so).
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ActionRun, runAction } from '../../helpers/action.ts';
import { runInProcess } from '../../helpers/in-process.ts';
import { type CertSet, makeServerCerts } from '../../helpers/certs.ts';
import { startFaultProxy } from '../../helpers/fault-proxy.ts';
import {
  type ScriptedServer,
  forward,
  makeCertFor,
  startCountingListener,
  startDualProtocolServer,
  startMappingProxy,
  startRewritingProxy,
  startScriptedServer,
} from '../../helpers/hostile-servers.ts';
import { getManifestBytes, pushImage } from '../../helpers/images.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';

const USER = 'ci-bot';
const PASSWORD = 'hostile-Pa55word-42';
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
const BLOB_PATH = /^\/v2\/app\/blobs\/(sha256:[a-f0-9]{64})$/;

/** The run's ::error annotations. */
const errorLines = (run: ActionRun) => run.stdout.split('\n').filter((l) => l.startsWith('::error'));
/** Output without the runner's ::add-mask:: commands (which carry the secrets by design). */
const visible = (run: ActionRun) => (run.stdout + run.stderr).split('\n').filter((l) => !l.startsWith('::add-mask::')).join('\n');
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function dockerConfig(config: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'docker-config-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

/** A directory for PATH holding `docker-credential-<name>` scripts. */
function helperBin(helpers: Record<string, string>): string {
  const bin = mkdtempSync(join(tmpdir(), 'helper-bin-'));
  for (const [name, script] of Object.entries(helpers)) {
    const file = join(bin, `docker-credential-${name}`);
    writeFileSync(file, `#!/bin/sh\n${script}\n`);
    chmodSync(file, 0o755);
  }
  return bin;
}

/** Serves a blob from the real registry (what a storage host behind a redirect would hold). */
async function blobFrom(registryUrl: string, digest: string, authorization?: string): Promise<Buffer> {
  const res = await fetch(`${registryUrl}/v2/app/blobs/${digest}`, { headers: authorization ? { authorization } : {} });
  return Buffer.from(await res.arrayBuffer());
}

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

describe('a redirect from https to http on the same host and port', () => {
  let registry: RunningRegistry;
  let ca: CertSet;
  let front: Awaited<ReturnType<typeof startDualProtocolServer>>;
  before(async () => {
    registry = await startRegistry({ htpasswd: { username: USER, password: PASSWORD } });
    const auth = { url: registry.url, authorization: basic(USER, PASSWORD) };
    await pushImage(auth, 'app', 'amd64', { os: 'linux', architecture: 'amd64' });
    ca = makeServerCerts();
    const cert = makeCertFor(ca, ['127.0.0.1', 'registry.test'], 'front');
    // Scripted: one port speaking TLS and plain HTTP. Over TLS it fronts the real registry, and
    // redirects blob GETs to plain HTTP on the same port, where it serves the blob.
    front = await startDualProtocolServer(
      cert,
      (req, res) => {
        const m = BLOB_PATH.exec(req.url ?? '');
        if (req.method === 'GET' && m) {
          req.resume();
          res.writeHead(307, { location: `http://${req.headers.host}/plain/${m[1]}`, 'content-length': '0' }).end();
          return;
        }
        forward(req, res, registry.url);
      },
      async (req) => {
        const digest = /^\/plain\/(sha256:[a-f0-9]{64})$/.exec(req.url)?.[1];
        if (!digest) return { status: 400, body: 'Client sent an HTTP request to an HTTPS server.\n' };
        return { status: 200, headers: { 'content-type': 'application/octet-stream' }, body: await blobFrom(registry.url, digest, basic(USER, PASSWORD)) };
      },
    );
  });
  after(async () => {
    await front?.stop();
    await registry?.stop();
  });
  const redirected = () => front.plainRequests.filter((r) => r.url.startsWith('/plain/'));

  it('to a loopback host: followed, without the Authorization header', async () => {
    const from = front.plainRequests.length;
    const run = await runAction(
      { sources: `${front.host}/app:amd64`, tags: `${front.host}/app:loopback`, username: USER, password: PASSWORD },
      { NODE_EXTRA_CA_CERTS: ca.caCert },
    );
    const hops = redirected().filter((r) => front.plainRequests.indexOf(r) >= from);
    assert.ok(hops.length > 0, `the redirect to plain HTTP was followed: ${run.stdout}`);
    assert.deepEqual(hops.map((r) => r.authorization), hops.map(() => undefined), 'no credentials over plain HTTP');
    assert.equal(run.code, 0, run.stdout);
  });

  it('to a host that is neither loopback nor listed: refused, nothing sent over plain HTTP', async () => {
    const names = { [`registry.test:${front.port}`]: front.port };
    const proxy = await startMappingProxy(names);
    const from = front.plainRequests.length;
    try {
      const name = `registry.test:${front.port}`;
      const run = await runAction(
        { sources: `${name}/app:amd64`, tags: `${name}/app:refused`, username: USER, password: PASSWORD },
        { NODE_EXTRA_CA_CERTS: ca.caCert, HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url, NO_PROXY: '', https_proxy: undefined, http_proxy: undefined, no_proxy: undefined },
      );
      assert.ok(front.tlsRequests.some((r) => r.host === name), `the registry was reached over TLS through the mapping proxy: ${run.stdout}`);
      const plain = front.plainRequests.slice(from);
      assert.deepEqual(plain.map((r) => `${r.url} ${r.authorization ?? '(none)'}`), [], 'no request over plain HTTP');
      assert.notEqual(run.code, 0);
      assert.match(errorLines(run).join('\n'), /http:\/\/registry\.test/, 'the error names the refused plain-HTTP location');
      assert.match(errorLines(run).join('\n'), /insecure-registries/, 'and says how to allow it');
    } finally {
      await proxy.stop();
    }
  });
});

describe("a redirect target does not inherit the registry's insecure-registries TLS setting", () => {
  let registry: RunningRegistry;
  let proxy: Awaited<ReturnType<typeof startRewritingProxy>>;
  let storage: ScriptedServer;
  before(async () => {
    registry = await startRegistry();
    await pushImage({ url: registry.url }, 'app', 'amd64', { os: 'linux', architecture: 'amd64' });
    // Certificates from a CA the action is never told about: unverifiable for it.
    const untrusted = makeServerCerts();
    proxy = await startRewritingProxy(registry.url, { tls: { cert: untrusted.cert, key: untrusted.key } });
    // Scripted: a storage host on another port, also with an unverifiable certificate.
    storage = await startScriptedServer(async (req) => {
      const digest = /^\/signed\/(sha256:[a-f0-9]{64})/.exec(req.url)?.[1];
      return digest ? { status: 200, body: await blobFrom(registry.url, digest) } : { status: 404 };
    }, makeCertFor(untrusted, ['127.0.0.1'], 'storage'));
    proxy.setRule((r) => {
      const m = BLOB_PATH.exec(r.url);
      return r.status === undefined && r.method === 'GET' && m ? { answer: { status: 307, headers: { location: `${storage.url}/signed/${m[1]}` } } } : undefined;
    });
  });
  after(async () => {
    await proxy?.stop();
    await storage?.stop();
    await registry?.stop();
  });

  it('an unlisted storage host with an unverifiable certificate is refused', async () => {
    const from = storage.requests.length;
    const run = await runAction(
      { sources: `${proxy.host}/app:amd64`, tags: `${proxy.host}/app:tls-policy`, 'insecure-registries': proxy.host },
      { NODE_EXTRA_CA_CERTS: undefined },
    );
    assert.ok(proxy.log.some((r) => r.status === 307), `the registry redirected: ${run.stdout}`);
    assert.equal(storage.requests.length - from, 0, 'no request got past the TLS handshake');
    assert.notEqual(run.code, 0);
    const line = errorLines(run).join('\n');
    assert.match(line, /certificate|CERT/i);
    assert.match(line, new RegExp(escapeRe(storage.host)), 'the error names the storage host');
  });

  it('through a proxy as well: the registry unverified, the unlisted storage host verified', async () => {
    const forwarder = await startMappingProxy({ [proxy.host]: proxy.port, [storage.host]: storage.port });
    try {
      const env = { NODE_EXTRA_CA_CERTS: undefined, HTTPS_PROXY: forwarder.url, HTTP_PROXY: forwarder.url, NO_PROXY: '', https_proxy: undefined, http_proxy: undefined, no_proxy: undefined };
      const from = storage.requests.length;
      const refused = await runAction({ sources: `${proxy.host}/app:amd64`, tags: `${proxy.host}/app:tls-proxied`, 'insecure-registries': proxy.host }, env);
      assert.ok(forwarder.carried.some((c) => c.target === storage.host), `the storage host was reached through the proxy: ${refused.stdout}`);
      assert.equal(storage.requests.length - from, 0, 'no request got past the TLS handshake');
      assert.notEqual(refused.code, 0);
      assert.match(errorLines(refused).join('\n'), new RegExp(`certificate|CERT[^]*${escapeRe(storage.host)}|${escapeRe(storage.host)}[^]*certificate`, 'i'));
      const listed = await runAction({ sources: `${proxy.host}/app:amd64`, tags: `${proxy.host}/app:tls-proxied-both`, 'insecure-registries': `${proxy.host}\n${storage.host}` }, env);
      assert.equal(listed.code, 0, listed.stdout);
    } finally {
      await forwarder.stop();
    }
  });

  it('the storage host listed too: accepted', async () => {
    const run = await runAction(
      { sources: `${proxy.host}/app:amd64`, tags: `${proxy.host}/app:tls-both`, 'insecure-registries': `${proxy.host}\n${storage.host}` },
      { NODE_EXTRA_CA_CERTS: undefined },
    );
    assert.equal(run.code, 0, run.stdout);
    assert.ok(storage.requests.length > 0);
  });
});

describe('Docker credential helpers', () => {
  let registry: RunningRegistry;
  let shortRegistry: RunningRegistry;
  const SHORT = 'pw7';
  before(async () => {
    registry = await startRegistry({ htpasswd: { username: USER, password: PASSWORD } });
    shortRegistry = await startRegistry({ htpasswd: { username: 'u', password: SHORT } });
    await pushImage({ url: registry.url, authorization: basic(USER, PASSWORD) }, 'app', 'amd64', { os: 'linux', architecture: 'amd64' });
    await pushImage({ url: shortRegistry.url, authorization: basic('u', SHORT) }, 'app', 'amd64', { os: 'linux', architecture: 'amd64' });
  });
  after(async () => {
    await registry?.stop();
    await shortRegistry?.stop();
  });
  const inputs = (tag: string) => ({ sources: `${registry.host}/app:amd64`, tags: `${registry.host}/app:${tag}` });

  it('a helper value with a path and arguments runs nothing and is refused naming the config key', async () => {
    const work = mkdtempSync(join(tmpdir(), 'helper-injection-'));
    const marker = join(work, 'pwned');
    const invoked = join(work, 'invoked');
    // The attacker's value: a path out of any directory, to /bin/sh, with a command.
    const value = `x/${'../'.repeat(16)}bin/sh -c "touch ${marker}"`;
    // A real helper named `x` is on PATH too: it must not be run with the attacker's arguments.
    const bin = helperBin({ x: `echo "$@" >> ${invoked}; exit 1` });
    const before = await registry.mark();
    const run = await runInProcess(inputs('injection'), { DOCKER_CONFIG: dockerConfig({ credHelpers: { [registry.host]: value } }), PATH: `${bin}:${process.env.PATH}` });
    assert.equal(existsSync(marker), false, 'the command in the helper value did not run');
    assert.equal(existsSync(invoked), false, 'no helper ran at all');
    assert.notEqual(run.code, 0);
    const line = errorLines(run).join('\n');
    assert.match(line, new RegExp(`credHelpers.*${escapeRe(registry.host)}`), 'the error names the config key');
    assert.deepEqual(await registry.writesSince(before), []);
  });

  it('a valid helper name runs docker-credential-<name> from PATH with `get` and the server on stdin', async () => {
    const work = mkdtempSync(join(tmpdir(), 'helper-ok-'));
    const record = join(work, 'record');
    const bin = helperBin({ 'ok.helper_1-x': `read server; echo "$# $1 $server" > ${record}; printf '{"Username":"${USER}","Secret":"${PASSWORD}"}'` });
    const run = await runInProcess(inputs('helper-ok'), { DOCKER_CONFIG: dockerConfig({ credHelpers: { [registry.host]: 'ok.helper_1-x' } }), PATH: `${bin}:${process.env.PATH}` });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.equal(readFileSync(record, 'utf8').trim(), `1 get ${registry.host}`);
    assert.ok(!visible(run).includes(PASSWORD));
  });

  it("a failing helper's error names the helper and its exit code, never its output", async () => {
    const leak = 'LEAKED-helper-output-6f1c2e';
    const bin = helperBin({ leaky: `echo '{"Secret":"${leak}"}'; echo "${leak} on stderr" >&2; exit 3` });
    const run = await runInProcess(inputs('leaky'), { DOCKER_CONFIG: dockerConfig({ credHelpers: { [registry.host]: 'leaky' } }), PATH: `${bin}:${process.env.PATH}` });
    assert.notEqual(run.code, 0);
    assert.ok(!visible(run).includes('LEAKED'), `the helper's output was printed: ${run.stdout}`);
    const line = errorLines(run).join('\n');
    assert.match(line, /docker-credential-leaky/);
    assert.match(line, /exit code 3/);
  });

  it('a password too short to mask is not passed to add-mask; the run says so and still works', async () => {
    // The runner masks any value it is given, with no minimum length (actions/runner
    // SecretMasker.AddValue), so `::add-mask::pw7` would turn every "pw7" in the job's log into
    // *** — and show where the secret occurs. The Basic header's base64 is long enough to mask.
    const auth = Buffer.from(`u:${SHORT}`).toString('base64');
    const run = await runInProcess(
      { sources: `${shortRegistry.host}/app:amd64`, tags: `${shortRegistry.host}/app:short` },
      { DOCKER_CONFIG: dockerConfig({ auths: { [shortRegistry.host]: { auth } } }) },
    );
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.ok(!run.stdout.split('\n').includes(`::add-mask::${SHORT}`), 'the short password was not sent to add-mask');
    assert.ok(run.stdout.split('\n').includes(`::add-mask::${auth}`), 'the Basic value is masked');
    assert.match(run.stdout, /::warning[^\n]*too short to mask/, 'a warning says why');
  });
});

describe('deadlines', () => {
  let registry: RunningRegistry;
  let target: RunningRegistry;
  let proxy: Awaited<ReturnType<typeof startRewritingProxy>>;
  const LAYER = 3 * 1024 * 1024;
  before(async () => {
    registry = await startRegistry();
    target = await startRegistry();
    await pushImage({ url: registry.url }, 'app', 'amd64', { os: 'linux', architecture: 'amd64' });
    const { randomBytes } = await import('node:crypto');
    await pushImage({ url: registry.url }, 'app', 'big', { os: 'linux', architecture: 'arm64', layers: [randomBytes(LAYER)] });
    proxy = await startRewritingProxy(registry.url);
  });
  after(async () => {
    await proxy?.stop();
    await registry?.stop();
    await target?.stop();
  });

  it('a response trickling a byte every 0.4 s ends with a timeout error', async () => {
    // Each byte comes within the 1 s timeout; the request's deadline (twice the timeout) ends it.
    proxy.setRule((r) => (r.status === 200 && r.method === 'GET' && r.url === '/v2/app/manifests/amd64' ? { trickle: { intervalMs: 400, giveUpMs: 20_000 } } : undefined));
    const run = await runInProcess({ sources: `${proxy.host}/app:amd64`, tags: `${proxy.host}/app:trickle`, timeout: '1', retries: '0' });
    // The proxy sees the connection close a moment after the action has given up.
    const closed = () => proxy.log.filter((r) => r.url === '/v2/app/manifests/amd64' && r.clientClosedEarly !== undefined);
    for (const until = Date.now() + 2000; closed().length === 0 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 10));
    const trickled = closed();
    assert.ok(trickled.length > 0, 'the manifest was trickled');
    assert.equal(trickled.at(-1)?.clientClosedEarly, true, 'the action gave up before the trickling server did');
    assert.notEqual(run.code, 0);
    assert.match(errorLines(run).join('\n'), /deadline|timed out|timeout/i);
  });

  it('a large blob slower than the timeout but steady still copies (the deadline scales with its size)', async () => {
    // 3 MiB at 1 MiB/s: three seconds, past twice the 1-second timeout. Guards the deadline.
    proxy.setRule((r) => (r.status === 200 && r.method === 'GET' && BLOB_PATH.test(r.url) ? { bytesPerSecond: 1024 * 1024 } : undefined));
    const run = await runInProcess({ sources: `${proxy.host}/app:big`, tags: `${target.host}/app:big`, timeout: '1' });
    assert.equal(run.code, 0, run.stdout);
    assert.match(run.stdout, /[1-9]\d* copied \(3\.\d MiB\)/);
    assert.equal((await getManifestBytes({ url: target.url }, 'app', 'big')).status, 200);
  });
});

describe('refused writes keep the registry error detail', () => {
  let registry: RunningRegistry;
  const refusal = JSON.stringify({ errors: [{ code: 'DENIED', message: 'quota exceeded for namespace dst', detail: { limit: '10GiB', used: '10GiB' } }] });
  before(async () => {
    registry = await startRegistry();
    await pushImage({ url: registry.url }, 'src', 'amd64', { os: 'linux', architecture: 'amd64' });
  });
  after(async () => registry?.stop());

  const cases: Array<[string, (proxyHost: string) => Record<string, string>, (r: { method: string; url: string }) => boolean]> = [
    ['a refused mount', (p) => ({ sources: `${p}/src:amd64`, tags: `${p}/dst:mount` }), (r) => r.method === 'POST' && r.url.includes('mount=')],
    ['a refused upload start', (p) => ({ sources: `${registry.host}/src:amd64`, tags: `${p}/dst:start` }), (r) => r.method === 'POST' && r.url.startsWith('/v2/dst/blobs/uploads/')],
  ];
  for (const [name, inputs, refused] of cases) {
    it(`${name}: the error carries the registry's message and detail`, async () => {
      const proxy = await startFaultProxy(registry.url, (r) => (refused(r) ? { kind: 'status', status: 403, body: refusal } : undefined));
      try {
        const run = await runInProcess({ ...inputs(proxy.host), retries: '0' });
        assert.ok(proxy.log.some((r) => r.fault === 'status'), `the refusal was injected: ${run.stdout}`);
        assert.notEqual(run.code, 0);
        const line = errorLines(run).join('\n');
        assert.match(line, /DENIED/);
        assert.match(line, /quota exceeded for namespace dst/);
        assert.match(line, /10GiB/);
      } finally {
        await proxy.stop();
      }
    });
  }

  it('a refused PATCH (chunked upload after a failed monolithic PUT): message and detail kept', async () => {
    const proxy = await startFaultProxy(registry.url, (r) => {
      if (r.method === 'PUT' && r.url.startsWith('/v2/dst/blobs/uploads/')) return { kind: 'status', status: 500 };
      if (r.method === 'PATCH') return { kind: 'status', status: 403, body: refusal };
      return undefined;
    });
    try {
      const run = await runInProcess({ sources: `${registry.host}/src:amd64`, tags: `${proxy.host}/dst:patch`, retries: '0' });
      assert.ok(proxy.log.some((r) => r.method === 'PATCH'), `a chunked upload was tried: ${run.stdout}`);
      const line = errorLines(run).join('\n');
      assert.match(line, /quota exceeded for namespace dst/);
      assert.match(line, /10GiB/);
    } finally {
      await proxy.stop();
    }
  });

  it('a huge error detail is bounded in the error line', async () => {
    const huge = JSON.stringify({ errors: [{ code: 'DENIED', message: 'refused', detail: 'x'.repeat(40_000) }] });
    const proxy = await startFaultProxy(registry.url, (r) => (r.method === 'POST' && r.url.includes('mount=') ? { kind: 'status', status: 403, body: huge } : undefined));
    try {
      const run = await runInProcess({ sources: `${proxy.host}/src:amd64`, tags: `${proxy.host}/dst:huge`, retries: '0' });
      const line = errorLines(run).join('\n');
      assert.match(line, /refused/);
      assert.match(line, /xxxx/, 'the detail is there');
      assert.ok(line.length < 4096, `the error line is ${line.length} characters`);
    } finally {
      await proxy.stop();
    }
  });
});

describe('start-up connections', () => {
  it('open only to hosts named in references that parse', async () => {
    const listener = await startCountingListener();
    try {
      const host = `127.0.0.1:${listener.port}`;
      // Each run names the listener only in an invalid reference; the valid ones name a port
      // where nothing listens.
      const closed = '127.0.0.1:9';
      const runs = [
        { sources: `${host}/App:amd64`, tags: `${closed}/app:1` },
        { sources: `${closed}/app:amd64 , ${host}/app@sha256:${'z'.repeat(64)}`, tags: `${closed}/app:1` },
        { sources: `${closed}/app:amd64`, tags: `${host}/app:-bad` },
        { sources: `${host}:x/app:amd64`, tags: `${closed}/app:1` },
      ];
      for (const inputs of runs) {
        const run = await runAction(inputs, { MULTIARCH_NO_PRECONNECT: undefined });
        assert.notEqual(run.code, 0, 'invalid input');
        assert.match(errorLines(run).join('\n'), /Invalid input/);
      }
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(listener.accepted(), 0, 'no connection to a host named only by an invalid reference');
    } finally {
      await listener.stop();
    }
  });
});
