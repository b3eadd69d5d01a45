/**
 * The latency proxy the benchmark and the connection tests run through (helpers/latency-proxy.ts)
 * must keep each direction's bytes in order: a burst of small writes on one connection (what
 * HTTP/2 sends) once came out reordered (a timer per chunk), which broke TLS records.
 */
import assert from 'node:assert/strict';
import { type Socket, connect, createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type LatencyProxy, startLatencyProxy } from '../../helpers/latency-proxy.ts';

describe('latency proxy', () => {
  let proxy: LatencyProxy;
  let received: Buffer[] = [];
  const server = createServer((s: Socket) => s.on('data', (d) => received.push(d)).on('error', () => undefined));
  before(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    proxy = await startLatencyProxy((server.address() as { port: number }).port, 20);
  });
  after(async () => {
    await proxy.stop();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('keeps a burst of small writes in order, during the simulated handshake and after it', async () => {
    for (let trial = 0; trial < 5; trial++) {
      received = [];
      const c = connect(proxy.port, '127.0.0.1');
      c.setNoDelay(true);
      await new Promise((r) => c.once('connect', r));
      const sent: number[] = [];
      for (let i = 0; i < 200; i++) {
        sent.push(i % 256);
        c.write(Buffer.from([i % 256]));
        // Pauses of 1-3 ms: writes fall due in the same millisecond with different delays.
        if (i % 20 === 0) await new Promise((r) => setTimeout(r, 1 + (i % 3)));
      }
      const until = Date.now() + 2000;
      while (Buffer.concat(received).length < sent.length && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
      c.destroy();
      assert.deepEqual([...Buffer.concat(received)], sent, `trial ${trial}`);
    }
  });

  it('adds the round trip: a new connection’s first byte arrives one RTT plus half an RTT later', async () => {
    received = [];
    const c = connect(proxy.port, '127.0.0.1');
    await new Promise((r) => c.once('connect', r));
    const t0 = Date.now();
    c.write('x');
    while (!received.length && Date.now() < t0 + 2000) await new Promise((r) => setTimeout(r, 1));
    const ms = Date.now() - t0;
    c.destroy();
    assert.ok(ms >= 28 && ms < 1000, `${ms} ms`);
  });
});
