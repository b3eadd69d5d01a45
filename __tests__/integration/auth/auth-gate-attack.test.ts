/**
 * Attack review of the registry's ping (scheme.ts, auth.ts): every request on a registry waits for
 * its one `GET /v2/`, and the first burst shares one token fetch. A hostile or broken registry or
 * token realm must not turn that wait into more than the ping itself: a stalled request holds no
 * other, a dripped ping body holds nobody, and the burst shares the token fetch (its token or its
 * failure) instead of starting its own.
 *
 * Scripted servers, not the real registry: the point is a registry or realm misbehaving (stalling
 * one request, dripping a 401's body, never answering a token request) as distribution never does.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, describe, it } from 'node:test';
import { ActionError } from '../../../src/errors.ts';
import { Registries } from '../../../src/registry/registries.ts';
import { serveOnLoopback } from '../../helpers/loopback-http.ts';

const noDockerConfig = { DOCKER_CONFIG: '/nonexistent-docker-config' };
const MANIFEST = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: {}, layers: [] }));

interface Served {
  host: string;
  requests: string[];
  stop(): Promise<void>;
}

const servers: Served[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

/** A scripted server on loopback answering with `handle` (which may never answer); it records each request line. */
async function serve(handle: (req: IncomingMessage, res: ServerResponse, n: number) => void): Promise<Served> {
  const requests: string[] = [];
  const server = await serveOnLoopback(async (req, res) => {
    requests.push(`${req.method} ${req.url}`);
    req.resume();
    handle(req, res, requests.length);
  });
  const served: Served = { host: server.host, requests, stop: () => server.stop() };
  servers.push(served);
  return served;
}

/** Registries with credentials for `host`, short timeouts and `retries`. */
const registriesWithCredentials = (host: string, retries: number) =>
  new Registries({
    transport: { connectTimeoutSeconds: 1, requestTimeoutSeconds: 1, retries, retryMaxSeconds: 60, backoffBaseMs: 1 },
    credentials: { env: noDockerConfig, explicit: { registry: host, username: 'ci-bot', password: 's3cret-Pa55word-xyz' } },
  });

const bearer = (realm: Served) => `Bearer realm="http://${realm.host}/token",service="registry.test"`;

/** A registry that answers every request with a bearer challenge naming `realm`. */
const challenging = (realm: Served) =>
  serve((_req, res) => {
    res.writeHead(401, { 'www-authenticate': bearer(realm), 'content-length': '0' });
    res.end();
  });

describe('attack: the ping and the shared token fetch hold the burst no longer than they must', () => {
  it('a registry that stalls the first request: the others are answered without waiting for its retries', async () => {
    // The first request (a manifest that never comes) stalls each attempt until the headers
    // timeout (1 s), five attempts in all; every other request is answered at once.
    const reg = await serve((req, res) => {
      if (req.url?.startsWith('/v2/slow/')) return;
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': String(MANIFEST.length) });
      res.end(req.method === 'HEAD' ? undefined : MANIFEST);
    });
    const registries = registriesWithCredentials(reg.host, 3);
    try {
      const client = registries.client(reg.host);
      const started = Date.now();
      const probe = client.headManifest('slow', '1').then(
        () => Date.now() - started,
        () => Date.now() - started,
      );
      const others = await Promise.all(Array.from({ length: 3 }, () => client.headManifest('fast', '1').then(() => Date.now() - started)));
      const probeMs = await probe;
      assert.ok(probeMs >= 4000, `the stalled request took its retries (${probeMs} ms)`);
      // Before the fix the others waited for all of them (about 5 s here; with the defaults up to
      // the 120 s retry budget, and as long again for their own attempts when the registry stalls them too).
      for (const ms of others) assert.ok(ms < 3500, `a request behind the stalled one was answered after ${ms} ms (the first took ${probeMs} ms)`);
    } finally {
      await registries.close();
    }
  });

  it('a token server refusing the credentials is asked once for the burst, and every request gets its refusal', async () => {
    const realm = await serve((_req, res) => {
      res.writeHead(401, { 'content-length': '0' });
      res.end();
    });
    const reg = await challenging(realm);
    const registries = registriesWithCredentials(reg.host, 1);
    try {
      const client = registries.client(reg.host);
      const settled = await Promise.allSettled(Array.from({ length: 4 }, () => client.headManifest('app', '1')));
      for (const s of settled) {
        assert.equal(s.status, 'rejected');
        const e = (s as PromiseRejectedResult).reason as ActionError;
        assert.equal(e.kind, 'auth');
        assert.match(e.message, /refused the credentials/);
      }
      // Before the fix: two (the first request's, then the waiting requests' own once it failed):
      // a second failed login with the job's credentials.
      assert.equal(realm.requests.length, 1, realm.requests.join('\n'));
      assert.equal(reg.requests.length, 1, reg.requests.join('\n'));
    } finally {
      await registries.close();
    }
  });

  it('a token realm that never answers costs the burst one token fetch (its retries), not two', async () => {
    const realm = await serve(() => undefined);
    const reg = await challenging(realm);
    const registries = registriesWithCredentials(reg.host, 1);
    try {
      const client = registries.client(reg.host);
      const started = Date.now();
      const settled = await Promise.allSettled(Array.from({ length: 4 }, () => client.headManifest('app', '1')));
      const ms = Date.now() - started;
      for (const s of settled) assert.match(String((s as PromiseRejectedResult).reason?.message), /token.*UND_ERR_HEADERS_TIMEOUT/);
      // One fetch: two attempts of 1 s. Before the fix four (about 6 s): the waiting requests
      // fetched again, with the same retries, once the first request's fetch had failed.
      assert.equal(realm.requests.length, 2, realm.requests.join('\n'));
      assert.ok(ms < 4500, `${ms} ms`);
    } finally {
      await registries.close();
    }
  });

  it('a ping whose 401 body drips does not hold the requests behind it until the body is read', async () => {
    // Basic: the ping's 401 declares 40 bytes and sends one every 100 ms (4 s in all, within its
    // deadline with timeout 3); the requests are answered at once with the credentials.
    const reg = await serve((req, res, n) => {
      if (n === 1) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="registry.test"', 'content-length': '40' });
        let sent = 0;
        const drip = setInterval(() => {
          if (res.destroyed || sent === 40) return clearInterval(drip);
          sent++;
          res.write('x');
          if (sent === 40) res.end();
        }, 100);
        res.on('close', () => clearInterval(drip));
        return;
      }
      if (!req.headers.authorization?.startsWith('Basic ')) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="registry.test"', 'content-length': '0' });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': String(MANIFEST.length) });
      res.end(MANIFEST);
    });
    const registries = new Registries({
      transport: { requestTimeoutSeconds: 3, retries: 0, backoffBaseMs: 1 },
      credentials: { env: noDockerConfig, explicit: { registry: reg.host, username: 'ci-bot', password: 's3cret-Pa55word-xyz' } },
    });
    try {
      const client = registries.client(reg.host);
      const started = Date.now();
      const all = await Promise.all(Array.from({ length: 4 }, () => client.getManifest('app', '1').then(() => Date.now() - started)));
      assert.equal(reg.requests[0], 'GET /v2/');
      // Waiting for the whole body, they would take 4 s.
      for (const ms of all) assert.ok(ms < 1000, `a request behind the dripped 401 was answered after ${ms} ms`);
    } finally {
      await registries.close();
    }
  });
});
