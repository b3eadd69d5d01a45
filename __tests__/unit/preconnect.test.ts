import assert from 'node:assert/strict';
import { type Server, createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { preconnectFromEnv, startupConnections } from '../../src/preconnect.ts';

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
