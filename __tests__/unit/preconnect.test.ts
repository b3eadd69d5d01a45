import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { type Server, createServer, createServer as createNetServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { TLSSocket, createServer as createTlsServer, getCACertificates, setDefaultCACertificates } from 'node:tls';
import { buildConnector } from 'undici';
import { preconnectFromEnv, startupConnections } from '../../src/preconnect.ts';
import { promisify } from 'node:util';
import { type CertSet, makeServerCerts } from '../helpers/certs.ts';
import { type LocalName, localName } from '../helpers/local-name.ts';

const execFileAsync = promisify(execFile);
const takeWarmSocket = startupConnections.take;
const closeWarmSockets = startupConnections.close;

/** Waits (up to 2 s) for the server side to have seen `n` connections, then a little more. */
async function settled(count: () => number, n: number): Promise<number> {
  const until = Date.now() + 2000;
  while (count() < n && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 30));
  return count();
}

describe('start-up connections', () => {
  let server: Server;
  let port = 0;
  let accepted = 0;
  const serverSide = new Set<import('node:net').Socket>();
  before(async () => {
    server = createServer((s) => {
      accepted++;
      serverSide.add(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  after(async () => {
    closeWarmSockets();
    for (const s of serverSide) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('opens one connection per reference on a registry, handed out once each', async () => {
    preconnectFromEnv({
      INPUT_SOURCES: `127.0.0.1:${port}/app:amd64\n127.0.0.1:${port}/app:arm64 platform=linux/arm64`,
      INPUT_TAGS: `127.0.0.1:${port}/app:1`,
    });
    const a = await takeWarmSocket('http:', '127.0.0.1', String(port));
    const b = await takeWarmSocket('http:', '127.0.0.1', String(port));
    const c = await takeWarmSocket('http:', '127.0.0.1', String(port));
    assert.ok(a && b && c && a !== b && b !== c, 'three connected sockets');
    assert.equal(takeWarmSocket('http:', '127.0.0.1', String(port)), undefined, 'then none');
    assert.equal(takeWarmSocket('https:', '127.0.0.1', String(port)), undefined, 'only for the scheme it guessed');
    assert.equal(await settled(() => accepted, 3), 3);
    for (const s of [a, b, c]) s?.destroy();
  });

  it('skips insecure-listed registries and proxied runs; closes what nobody took', async () => {
    const before = await settled(() => accepted, 3);
    preconnectFromEnv({ INPUT_SOURCES: `127.0.0.1:${port}/x:1`, INPUT_TAGS: '', 'INPUT_INSECURE-REGISTRIES': `127.0.0.1:${port}` });
    preconnectFromEnv({ INPUT_SOURCES: `127.0.0.1:${port}/x:1`, INPUT_TAGS: '', HTTPS_PROXY: 'http://proxy.invalid:3128' });
    assert.equal(takeWarmSocket('http:', '127.0.0.1', String(port)), undefined);
    preconnectFromEnv({ INPUT_SOURCES: `127.0.0.1:${port}/x:1`, INPUT_TAGS: '' });
    assert.equal(await settled(() => accepted, before + 1), before + 1, 'one connection: the insecure and proxied runs opened none');
    closeWarmSockets();
    assert.equal(takeWarmSocket('http:', '127.0.0.1', String(port)), undefined, 'closed and forgotten');
  });

  it('a connection that fails is not handed out', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const deadPort = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    preconnectFromEnv({ INPUT_SOURCES: `127.0.0.1:${deadPort}/x:1`, INPUT_TAGS: '' });
    const got = takeWarmSocket('http:', '127.0.0.1', String(deadPort));
    assert.equal(got === undefined ? undefined : await got, undefined);
  });
});

describe('start-up connections over TLS', { skip: !(await localName()) && 'this machine has no host name that resolves to loopback' }, () => {
  let local: LocalName;
  let certs: CertSet;
  before(async () => {
    local = (await localName()) as LocalName;
    certs = makeServerCerts([local.name]);
    // Only this test file's process: the warm sockets verify the test CA as they would a public one.
    setDefaultCACertificates([...getCACertificates('default'), readFileSync(certs.caCert, 'utf8')]);
  });
  after(() => closeWarmSockets());

  /** A TLS server offering `alpn`; it records what each client offered and counts connections. */
  async function tlsServer(alpn: string[]) {
    const offered: string[][] = [];
    let accepted = 0;
    const server = createTlsServer({
      cert: readFileSync(certs.cert),
      key: readFileSync(certs.key),
      ALPNCallback: ({ protocols }) => {
        offered.push(protocols);
        return alpn.find((p) => protocols.includes(p));
      },
    });
    server.on('connection', () => accepted++);
    server.on('secureConnection', (s) => s.on('error', () => undefined));
    await new Promise<void>((r) => server.listen(0, local.address, r));
    const port = (server.address() as { port: number }).port;
    return { server, port, offered, accepted: () => accepted, stop: () => new Promise<void>((r) => server.close(() => r())) };
  }

  it('offers the ALPN list undici offers with HTTP/2 allowed, and only HTTP/1.1 with MULTIARCH_HTTP1_ONLY', async () => {
    const srv = await tlsServer(['h2', 'http/1.1']);
    try {
      const viaUndici = await new Promise<TLSSocket>((resolve, reject) =>
        buildConnector({ allowH2: true })({ protocol: 'https:', hostname: local.name, host: `${local.name}:${srv.port}`, port: String(srv.port), servername: null } as never, (e, s) =>
          e ? reject(e) : resolve(s as TLSSocket),
        ),
      );
      viaUndici.destroy();
      preconnectFromEnv({ INPUT_SOURCES: `${local.name}:${srv.port}/app:1`, INPUT_TAGS: '' });
      const warm = (await takeWarmSocket('https:', local.name, String(srv.port))) as TLSSocket;
      assert.ok(warm, 'a warm TLS connection');
      assert.equal(warm.alpnProtocol, 'h2');
      warm.destroy();
      preconnectFromEnv({ INPUT_SOURCES: `${local.name}:${srv.port}/app:1`, INPUT_TAGS: '', MULTIARCH_HTTP1_ONLY: '1' });
      const h1 = (await takeWarmSocket('https:', local.name, String(srv.port))) as TLSSocket;
      assert.equal(h1.alpnProtocol, 'http/1.1');
      h1.destroy();
      assert.deepEqual(srv.offered, [['http/1.1', 'h2'], ['http/1.1', 'h2'], ['http/1.1']]);
    } finally {
      await srv.stop();
    }
  });

  it('opens one connection first; the others only when it negotiated HTTP/1.1', async () => {
    for (const [alpn, want] of [[['h2', 'http/1.1'], 1], [['http/1.1'], 3]] as const) {
      const srv = await tlsServer([...alpn]);
      try {
        preconnectFromEnv({ INPUT_SOURCES: `${local.name}:${srv.port}/app:a\n${local.name}:${srv.port}/app:b`, INPUT_TAGS: `${local.name}:${srv.port}/app:1` });
        assert.equal(await settled(srv.accepted, want), want, `server speaking ${alpn.join(', ')}`);
        closeWarmSockets();
      } finally {
        await srv.stop();
      }
    }
  });

  it('a connection taken while its handshake is under way keeps the process alive until it is up', async () => {
    // The server holds the handshake back for 300 ms. The child process has nothing else keeping
    // it alive: with the warm socket unreferenced while waited on, it would end before the socket is up.
    let accepted = 0;
    const held = createNetServer((raw) => {
      accepted++;
      raw.pause();
      setTimeout(() => {
        const tls = new TLSSocket(raw, { isServer: true, cert: readFileSync(certs.cert), key: readFileSync(certs.key), ALPNProtocols: ['http/1.1'] });
        tls.on('error', () => undefined);
        raw.resume();
      }, 300);
    });
    await new Promise<void>((r) => held.listen(0, local.address, r));
    const port = (held.address() as { port: number }).port;
    try {
      const script = [
        `import { preconnectFromEnv, startupConnections } from ${JSON.stringify(new URL('../../src/preconnect.ts', import.meta.url).href)};`,
        `preconnectFromEnv({ INPUT_SOURCES: '${local.name}:${port}/app:1', INPUT_TAGS: '' });`,
        `const socket = await startupConnections.take('https:', '${local.name}', '${port}');`,
        `console.log(socket ? 'taken ' + socket.alpnProtocol : 'none');`,
        'socket?.destroy();',
      ].join('\n');
      // Asynchronously: the server is in this process.
      const child = await execFileAsync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, NODE_EXTRA_CA_CERTS: certs.caCert }, timeout: 10_000 }).catch(
        (e: { stdout?: string; stderr?: string; code?: unknown }) => ({ stdout: e.stdout ?? '', stderr: `exit ${String(e.code)}: ${e.stderr}` }),
      );
      assert.equal(child.stdout.trim(), 'taken http/1.1', child.stderr);
      assert.equal(accepted, 1);
    } finally {
      await new Promise<void>((r) => held.close(() => r()));
    }
  });
});

describe('attack: a start-up connection whose handshake never completes', { skip: !(await localName()) && 'this machine has no host name that resolves to loopback' }, () => {
  it('is dropped after the connect timeout: the request waiting on it connects on its own instead of waiting forever', async () => {
    // The server accepts the TCP connection and never answers the ClientHello. Before the fix the
    // take() below never settled: no timeout covered a start-up connection, and the transport's
    // first request to the registry (and, behind the auth gate, every other) waited on it for good.
    const local = (await localName()) as LocalName;
    const held = new Set<import('node:net').Socket>();
    const silent = createNetServer((s) => {
      held.add(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => silent.listen(0, local.address, r));
    const port = (silent.address() as { port: number }).port;
    try {
      preconnectFromEnv({ INPUT_SOURCES: `${local.name}:${port}/app:1`, INPUT_TAGS: '' }, 300);
      const taking = takeWarmSocket('https:', local.name, String(port));
      assert.ok(taking, 'a start-up connection was opened');
      let timer: NodeJS.Timeout | undefined;
      const got = await Promise.race([taking, new Promise<'hung'>((r) => (timer = setTimeout(() => r('hung'), 3000)))]).finally(() => clearTimeout(timer));
      assert.equal(got, undefined, 'not handed out (and not still waited on after 3 s)');
      assert.equal(takeWarmSocket('https:', local.name, String(port)), undefined, 'and forgotten');
    } finally {
      closeWarmSockets();
      for (const s of held) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });
});

describe('dialed(): the entry waits for the start-up connections’ lookups before loading the rest', () => {
  // Each case in its own process: the start-up connections are module state, opened once.
  const run = async (lookupDelayMs: number, source: string, maxMs: number) => {
    const script = [
      "import dns from 'node:dns';",
      'const original = dns.lookup;',
      'let looked = false;',
      `dns.lookup = (host, options, callback) => setTimeout(() => original(host, options, (...a) => { looked = true; callback(...a); }), ${lookupDelayMs});`,
      `const { preconnectFromEnv, dialed, startupConnections } = await import(${JSON.stringify(new URL('../../src/preconnect.ts', import.meta.url).href)});`,
      `preconnectFromEnv({ INPUT_SOURCES: '${source}', INPUT_TAGS: '' });`,
      'const t0 = performance.now();',
      `await dialed(${maxMs});`,
      'console.log(JSON.stringify({ ms: performance.now() - t0, looked }));',
      'startupConnections.close();',
    ].join('\n');
    const child = await execFileAsync(process.execPath, ['--input-type=module', '-e', script], { timeout: 10_000 });
    return JSON.parse(child.stdout) as { ms: number; looked: boolean };
  };

  it('resolves once a host name has been looked up (its connect issued)', async () => {
    const r = await run(150, 'localhost:1/app:1', 5000);
    assert.equal(r.looked, true);
    assert.ok(r.ms >= 140, `${r.ms} ms`);
  });

  it('waits no longer than its bound for a slow lookup', async () => {
    const r = await run(600, 'localhost:1/app:1', 50);
    assert.equal(r.looked, false);
    assert.ok(r.ms >= 45 && r.ms < 450, `${r.ms} ms`);
  });

  it('does not wait for connections to IP addresses (nothing to look up)', async () => {
    const r = await run(600, '127.0.0.1:1/app:1', 5000);
    assert.equal(r.looked, false);
    assert.ok(r.ms < 450, `${r.ms} ms`);
  });
});
