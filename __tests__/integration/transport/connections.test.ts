import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Agent } from 'undici';
import { runAction } from '../../helpers/action.ts';
import { type CertSet, makeServerCerts } from '../../helpers/certs.ts';
import { pushImage } from '../../helpers/images.ts';
import { type LatencyProxy, startLatencyProxy } from '../../helpers/latency-proxy.ts';
import { type LocalName, localName } from '../../helpers/local-name.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';

describe('a publish to a TLS registry reuses its connections', { skip: !(await localName()) && 'this machine has no host name that resolves to loopback' }, () => {
  const n = 16;
  let reg: RunningRegistry;
  let certs: CertSet;
  let proxy: LatencyProxy;
  let host: string;
  let dispatcher: Agent;
  before(async () => {
    // The machine's own name, not 127.0.0.1: the action reaches it as it reaches a remote registry
    // (HTTPS only; loopback addresses are tried over plain HTTP first).
    const local = (await localName()) as LocalName;
    certs = makeServerCerts([local.name]);
    reg = await startRegistry({ tls: { certificate: certs.cert, key: certs.key } });
    dispatcher = new Agent({ connect: { ca: readFileSync(certs.caCert) } });
    for (let i = 0; i < n; i++) await pushImage({ url: reg.url, dispatcher }, 'tls/app', `a${i}`, { os: 'linux', architecture: `arch${i}` });
    // Only to count the connections the registry accepts (and a small round trip, so that requests overlap as they do on a network).
    proxy = await startLatencyProxy(reg.port, 4, { upstreamTls: true, listenHost: local.address });
    host = `${local.name}:${proxy.port}`;
  });
  after(async () => {
    await proxy?.stop();
    await dispatcher?.close();
    await reg?.stop();
  });

  const publish = async (tag: string, env: Record<string, string> = {}) => {
    const before = proxy.connections();
    const sources = Array.from({ length: n }, (_, i) => `${host}/tls/app:a${i}`).join('\n');
    const run = await runAction({ sources, tags: `${host}/tls/app:${tag}` }, { NODE_EXTRA_CA_CERTS: certs.caCert, ...env });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const requests = Number(/(\d+) requests, 0 retries/.exec(run.stdout)?.[1]);
    assert.ok(requests > 2 * n && requests <= 2 * n + 4, run.stdout);
    await new Promise((r) => setTimeout(r, 50));
    return proxy.connections() - before;
  };

  it(`HTTP/2 (the registry offers it): the ${n} sources' requests over at most 2 connections`, async () => {
    // distribution answers a HEAD with Connection: close, which Go's HTTP/2 server turns into a
    // GOAWAY: the requests after it may need a second connection.
    const connections = await publish('h2');
    assert.ok(connections >= 1 && connections <= 2, `${connections} connections`);
  });

  it(`HTTP/1.1 only (MULTIARCH_HTTP1_ONLY): no more connections than the first burst of ${n + 1} requests needs, plus one`, async () => {
    // The first burst (N manifests and the tag's HEAD) needs a connection each; everything after
    // reuses them. Without keep-alive reuse this would be about one per request (over ${2 * n}).
    const connections = await publish('h1', { MULTIARCH_HTTP1_ONLY: '1' });
    assert.ok(connections <= n + 2, `${connections} connections`);
  });
});
