/**
 * A TCP proxy that adds a round-trip time: every chunk is held for half the RTT in each direction,
 * and a new connection costs one more round trip before its first byte goes through (the TCP
 * handshake a real network charges). Order is kept. Binds to 127.0.0.1 only.
 */
import { type Server, type Socket, connect, createServer } from 'node:net';

export interface LatencyProxy {
  host: string;
  port: number;
  stop(): Promise<void>;
}

export async function startLatencyProxy(upstreamPort: number, rttMs: number): Promise<LatencyProxy> {
  const half = rttMs / 2;
  const sockets = new Set<Socket>();
  const forward = (from: Socket, to: Socket, openedAt: number | undefined) => {
    from.on('data', (chunk) => {
      // Until one RTT after the connection opened, data waits as if the handshake were under way.
      const handshake = openedAt === undefined ? 0 : Math.max(0, openedAt + rttMs - Date.now());
      setTimeout(() => {
        if (!to.destroyed) to.write(chunk);
      }, half + handshake);
    });
    from.on('end', () => setTimeout(() => to.end(), half));
    from.on('error', () => to.destroy());
  };
  const server: Server = createServer((client) => {
    const upstream = connect(upstreamPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('close', () => sockets.delete(client));
    upstream.on('close', () => sockets.delete(upstream));
    forward(client, upstream, Date.now());
    forward(upstream, client, undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    host: `127.0.0.1:${port}`,
    port,
    stop: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
