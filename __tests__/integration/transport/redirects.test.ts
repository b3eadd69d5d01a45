/**
 * Redirects and TLS per origin (issue 12): a redirect from https to plain http is followed without
 * the Authorization header only to a loopback host, and refused to any other; a redirect target
 * (a storage host) keeps its own TLS setting, never the registry's insecure-registries one, with or
 * without a proxy. The bundled action runs (Node reads NODE_EXTRA_CA_CERTS at start) against a real
 * registry behind a rewriting proxy; the storage hosts and the port speaking both TLS and plain
 * HTTP are scripted servers (no real registry redirects this way), each saying so.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runAction } from '../../helpers/action.ts';
import { type CertSet, makeServerCerts } from '../../helpers/certs.ts';
import { basic } from '../../helpers/docker-config.ts';
import {
  BLOB_PATH,
  type ScriptedServer,
  blobFrom,
  forward,
  makeCertFor,
  startDualProtocolServer,
  startMappingProxy,
  startRewritingProxy,
  startScriptedServer,
} from '../../helpers/hostile-servers.ts';
import { pushImage } from '../../helpers/images.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';
import { errorLines, escapeRe } from '../../helpers/runner-text.ts';

const USER = 'ci-bot';
const PASSWORD = 'hostile-Pa55word-42';

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
