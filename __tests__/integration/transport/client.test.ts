/**
 * The registry client in-process against the real registry (no dist/ rebuild): every operation of
 * the table, the errors it builds from the registry's answers, and the User-Agent on every request
 * (read from the registry's access log).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { type AddressInfo, type LookupFunction } from 'node:net';
import { lookup } from 'node:dns';
import { after, before, describe, it } from 'node:test';
import { ActionError } from '../../../src/errors.ts';
import { type Digest, sha256 } from '../../../src/oci/digest.ts';
import { type RegistryClient } from '../../../src/registry/client.ts';
import { MANIFEST_SIZE_LIMIT } from '../../../src/oci/manifest.ts';
import { Registries } from '../../../src/registry/registries.ts';
import { USER_AGENT } from '../../../src/registry/user-agent.ts';
import { makeServerCerts } from '../../helpers/certs.ts';
import { type ScriptedServer, makeCertFor, startScriptedServer } from '../../helpers/hostile-servers.ts';
import { startFaultProxy } from '../../helpers/fault-proxy.ts';
import { runInProcess } from '../../helpers/in-process.ts';
import { pushImage } from '../../helpers/images.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';
import { FORGED_DIGEST, assertInert, errorLines, escapeRe, failureText } from '../../helpers/runner-text.ts';

const INDEX = 'application/vnd.oci.image.index.v1+json';

describe('registry client against the real registry', () => {
  let reg: RunningRegistry;
  let registries: Registries;
  let client: RegistryClient;
  let image: Awaited<ReturnType<typeof pushImage>>;
  let from = 0;
  before(async () => {
    reg = await startRegistry();
    image = await pushImage({ url: reg.url }, 'src/app', 'v1', { os: 'linux', architecture: 'amd64' });
    from = await reg.mark();
    registries = new Registries({ transport: { backoffBaseMs: 1 } });
    client = registries.client(reg.host);
  });
  after(async () => {
    await registries?.close();
    await reg?.stop();
  });

  it('uploads a blob monolithically and in chunks, and reads it back verified', async () => {
    const data = randomBytes(3000);
    const digest = sha256(data);
    assert.equal(await client.headBlob('blobs/app', digest), undefined, 'absent before');
    const { location } = await client.startUploadSession('blobs/app');
    await client.putUpload('blobs/app', location, digest, data.length, data, true);
    assert.equal(await client.headBlob('blobs/app', digest), data.length);
    assert.deepEqual(await client.getBlobBytes('blobs/app', digest, 4096, 'read back'), data);

    const chunked = randomBytes(2500);
    const session = await client.startUploadSession('blobs/chunked');
    let at = await client.patchChunk('blobs/chunked', session.location, chunked.subarray(0, 1000), 0, 'chunk 1');
    at = await client.patchChunk('blobs/chunked', at, chunked.subarray(1000), 1000, 'chunk 2');
    await client.putUpload('blobs/chunked', at, sha256(chunked), 0, Buffer.alloc(0), true);
    assert.equal(await client.headBlob('blobs/chunked', sha256(chunked)), chunked.length);

    assert.deepEqual(await client.mountBlob('blobs/mounted', digest, 'blobs/app'), { mounted: true });
    assert.equal(await client.headBlob('blobs/mounted', digest), data.length);
    const notThere = sha256(randomBytes(10));
    const refused = await client.mountBlob('blobs/mounted', notThere, 'blobs/app');
    assert.equal(refused.mounted, false, 'an unknown blob opens an upload instead');
  });

  it('pushes and reads manifests by tag and digest, with their digests checked', async () => {
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: [{ mediaType: image.mediaType, digest: image.digest, size: image.size }] }));
    const digest = await client.putManifest('src/app', 'multi', index, INDEX);
    assert.equal(digest, sha256(index));
    const byTag = await client.getManifest('src/app', 'multi');
    assert.deepEqual([byTag.digest, byTag.mediaType, byTag.bytes.equals(index)], [digest, INDEX, true]);
    const byDigest = await client.getManifest('src/app', image.digest);
    assert.equal(byDigest.digest, image.digest);
    assert.deepEqual(await client.headManifest('src/app', 'multi'), { digest, mediaType: INDEX, size: index.length });
    assert.equal(await client.headManifest('src/app', 'nope'), undefined);
    assert.ok(MANIFEST_SIZE_LIMIT >= 4 * 1024 * 1024);
  });

  it('a refused request keeps every error entry of the body: code, message and detail', async () => {
    await assert.rejects(client.getManifest('src/app', 'missing'), (e: ActionError) => {
      assert.equal(e.code, 'MANIFEST_UNKNOWN');
      assert.equal(e.status, 404);
      assert.equal(e.diagnostics[0]?.code, 'MANIFEST_UNKNOWN');
      assert.ok(e.diagnostics[0]?.message, 'message kept');
      assert.match(e.diagnostics[0]?.detail ?? '', /missing/, 'detail kept');
      assert.match(e.message, /^fetch manifest 127\.0\.0\.1:\d+\/src\/app:missing failed: GET .* answered HTTP 404 MANIFEST_UNKNOWN: /);
      assert.doesNotMatch(e.message, /[\n\r]/);
      return true;
    });
    // A manifest naming a blob the repository lacks: distribution lists each missing one.
    const missing = [sha256(randomBytes(8)), sha256(randomBytes(8))];
    const bad = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: missing.map((d) => ({ mediaType: image.mediaType, digest: d, size: 10 })) }));
    await assert.rejects(client.putManifest('src/app', 'bad', bad, INDEX), (e: ActionError) => {
      assert.equal(e.code, 'MANIFEST_BLOB_UNKNOWN');
      assert.equal(e.diagnostics.length, 2, JSON.stringify(e.diagnostics));
      for (const d of missing) assert.ok(e.diagnostics.some((x) => x.detail?.includes(d)), d);
      return true;
    });
  });

  it('a refused upload PATCH keeps the body’s error', async () => {
    const { location } = await client.startUploadSession('blobs/gone');
    // An upload session the registry does not know: refused with an error body (a code the
    // status alone would not give: that came from the body, which was dropped before).
    const unknown = location.replace(/\/uploads\/[^/?]+/, '/uploads/00000000-0000-0000-0000-000000000000');
    await assert.rejects(client.patchChunk('blobs/gone', unknown, Buffer.from('abc'), 0, 'upload chunk'), (e: ActionError) => {
      assert.ok(e.status && e.status >= 400, String(e.status));
      assert.match(e.code ?? '', /^BLOB_UPLOAD_/);
      assert.equal(e.diagnostics[0]?.code, e.code);
      assert.ok(e.diagnostics[0]?.message);
      return true;
    });
  });

  describe('a registry that cannot be reached: one line naming the registry and the image, the cause, what to do', () => {
    // None of these is a registry (nothing answers as one): a port nobody listens on, a TLS server
    // whose certificate no CA the action knows signed, a name under .invalid that the test's
    // resolver refuses (no resolver is asked: nothing leaves 127.0.0.1).
    let closed = '';
    let untrusted: ScriptedServer;
    let plain: ScriptedServer;
    before(async () => {
      const server = createServer();
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      closed = `127.0.0.1:${(server.address() as AddressInfo).port}`;
      await new Promise((r) => server.close(r));
      untrusted = await startScriptedServer(() => ({ status: 200 }), makeCertFor(makeServerCerts(), ['127.0.0.1'], 'untrusted'));
      plain = await startScriptedServer(() => ({ status: 200 }));
    });
    after(async () => {
      await untrusted?.stop();
      await plain?.stop();
    });
    const refused: string[] = [];
    const refuseInvalid: LookupFunction = (hostname, options, callback) => {
      if (!hostname.endsWith('.invalid')) return lookup(hostname, options, callback);
      // plain.invalid: a name that is neither loopback nor listed, for a server on 127.0.0.1.
      if (hostname === 'plain.invalid') return process.nextTick(() => (options.all ? callback(null, [{ address: '127.0.0.1', family: 4 }]) : callback(null, '127.0.0.1', 4)));
      refused.push(hostname);
      const e = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', syscall: 'getaddrinfo', hostname });
      process.nextTick(() => callback(e, '', 0));
    };

    const cases: Array<{ name: string; registry: () => string; code: RegExp; hint: (registry: string) => RegExp }> = [
      { name: 'connection refused', registry: () => closed, code: /^ECONNREFUSED$/, hint: (r) => new RegExp(`^Check the registry's host and port in the reference, and that ${escapeRe(r)} is reachable from the runner`) },
      {
        name: 'TLS certificate not trusted',
        registry: () => untrusted.host,
        code: /SELF_SIGNED|UNABLE_TO_VERIFY|CERT/,
        hint: (r) => new RegExp(`^The TLS certificate of ${escapeRe(r)} is not trusted: add its CA with NODE_EXTRA_CA_CERTS, or list ${escapeRe(r)} in insecure-registries`),
      },
      {
        name: 'plain HTTP where TLS is expected (a host neither loopback nor listed)',
        registry: () => `plain.invalid:${plain.port}`,
        code: /SSL|EPROTO/,
        hint: (r) => new RegExp(`^${escapeRe(r)} does not speak TLS: if it serves plain HTTP, list it in insecure-registries$`),
      },
      { name: 'name unknown', registry: () => 'registry.invalid:5000', code: /^ENOTFOUND$/, hint: () => /^registry\.invalid does not resolve from the runner: check the registry name in the reference$/ },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const unreachable = new Registries({ transport: { retries: 0, lookup: refuseInvalid } });
        const registry = c.registry();
        try {
          await assert.rejects(unreachable.client(registry).headManifest('team/app', '1.0'), (e: ActionError) => {
            assert.equal(e.kind, 'network');
            assert.match(e.code ?? '', c.code);
            assert.match(e.message, new RegExp(`^cannot reach the registry ${escapeRe(registry)} for ${escapeRe(registry)}/team/app:1\\.0: ${e.code} \\(.+\\), after 1 attempt$`));
            assert.doesNotMatch(e.line, /\/v2\//, 'not the ping URL');
            assert.match(e.hint ?? '', c.hint(registry));
            assert.doesNotMatch(e.line, /[\r\n]/);
            return true;
          });
        } finally {
          await unreachable.close();
        }
        if (registry.startsWith('registry.invalid')) assert.deepEqual(refused, ['registry.invalid'], "the test's resolver was asked, not the machine's");
      });
    }

    it('names the first image the user wrote on that registry, whichever request went first', async () => {
      const unreachable = new Registries({ transport: { retries: 0 } });
      unreachable.mention(closed, `${closed}/team/app:2.0`);
      unreachable.mention(closed, `${closed}/team/other:3.0`);
      try {
        await assert.rejects(unreachable.client(closed).headBlob('team/app', image.digest as Digest), (e: ActionError) => e.message.startsWith(`cannot reach the registry ${closed} for ${closed}/team/app:2.0: ECONNREFUSED (`));
      } finally {
        await unreachable.close();
      }
      // The action: sources readable, the tag's registry refused: the tag as written is named.
      const run = await runInProcess({ sources: `${reg.host}/src/app:v1`, tags: `${closed}/team/app:latest`, retries: '0' }, { DOCKER_CONFIG: '/nonexistent' });
      assert.equal(run.code, 1);
      const line = run.stdout.split('\n').find((l) => l.startsWith('::error')) ?? '';
      assert.match(line, new RegExp(`^::error title=Registry did not answer::cannot reach the registry ${escapeRe(closed)} for ${escapeRe(closed)}/team/app:latest: ECONNREFUSED \\(connect ECONNREFUSED ${escapeRe(closed)}\\), after 1 attempt\\. Check the registry's host and port`), run.stdout);
    });
  });

  it('every request carried the User-Agent', async () => {
    const upTo = await reg.mark();
    const lines = reg.requests().slice(from, upTo).filter((l) => !l.includes('/mark-'));
    assert.ok(lines.length >= 15, `${lines.length} requests logged`);
    for (const l of lines) assert.ok(l.endsWith(`"${USER_AGENT}"`), l);
  });
});

describe('refused writes keep the registry error detail, printed inert', () => {
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

  it("an error body's message with \\n, \\r and :: on a refused write: one failure line, no command", async () => {
    await pushImage({ url: registry.url }, 'src', 'plain', { os: 'linux', architecture: 'arm64' });
    const proxy = await startFaultProxy(registry.url, (r) =>
      r.method === 'PUT' && r.url.includes('/manifests/')
        ? { kind: 'status', status: 400, body: JSON.stringify({ errors: [{ code: 'MANIFEST_INVALID', message: `no\n::error title=pwned::owned\r::set-output name=digest::${FORGED_DIGEST}\n##[add-mask]x` }] }) }
        : undefined,
    );
    try {
      const run = await runInProcess({ sources: `${proxy.host}/src:plain`, tags: `${proxy.host}/dst:refused` });
      assert.equal(run.code, 1, run.stdout);
      assertInert(run, { failed: true });
      assert.match(failureText(run), /MANIFEST_INVALID/);
    } finally {
      await proxy.stop();
    }
  });

  it("an error body's message with the legacy ##[command] form, logged on a retried upload: no command", async () => {
    // Sanitising control characters is not enough: `##[set-output …]` needs no line of its own.
    await pushImage({ url: registry.url }, 'src', 'legacy', { os: 'linux', architecture: 's390x' });
    let refused = 0;
    const proxy = await startFaultProxy(registry.url, (r) =>
      r.method === 'PUT' && r.url.includes('/blobs/uploads/') && refused++ === 0
        ? { kind: 'status', status: 400, body: JSON.stringify({ errors: [{ code: 'BLOB_UPLOAD_INVALID', message: `try ##[set-output name=digest;]${FORGED_DIGEST} ##[add-mask]linux` }] }) }
        : undefined,
    );
    try {
      const run = await runInProcess({ sources: `${registry.host}/src:legacy`, tags: `${proxy.host}/dst:legacy` });
      assert.equal(run.code, 0, run.stdout);
      assert.ok(refused > 1, 'the refused upload was retried');
      assert.match(run.stdout, /trying again in chunks/);
      assertInert(run, { failed: false });
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
