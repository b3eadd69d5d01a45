/**
 * A TCP proxy that adds a round-trip time: every chunk is held for half the RTT in each direction,
 * and a new connection costs one more round trip before its first byte goes through (the TCP
 * handshake a real network charges). Order is kept. Binds to 127.0.0.1 only.
 */
import { type Server, type Socket, connect, createServer } from 'node:net';

export interface LatencyProxy {
  host: string;
  port: number;
  /** Connections accepted so far. */
  connections(): number;
  stop(): Promise<void>;
}

export interface LatencyProxyOptions {
  /** The upstream speaks TLS: pass handshakes through (by default a ClientHello is answered as a plain-HTTP Go server does). */
  upstreamTls?: boolean;
  /** Loopback address to listen on (default 127.0.0.1). */
  listenHost?: string;
}

export async function startLatencyProxy(upstreamPort: number, rttMs: number, options: LatencyProxyOptions = {}): Promise<LatencyProxy> {
  const half = rttMs / 2;
  const sockets = new Set<Socket>();
  const forward = (from: Socket, to: Socket, openedAt: number | undefined) => {
    // Everything from one side leaves in order, data and the final FIN alike: one queue per
    // direction, drained by one timer. (A timer per chunk did not keep the order: timers of
    // different durations that fall due in the same millisecond fire in any order, which
    // reordered the bytes of a burst on one connection and broke TLS records over HTTP/2.)
    const queue: Array<{ at: number; fn: () => void }> = [];
    let timer: NodeJS.Timeout | undefined;
    let releaseAt = 0;
    const drain = () => {
      timer = undefined;
      while (queue.length && (queue[0] as { at: number }).at <= Date.now()) (queue.shift() as { fn: () => void }).fn();
      if (queue.length) timer = setTimeout(drain, Math.max(0, (queue[0] as { at: number }).at - Date.now()));
    };
    const later = (fn: () => void) => {
      const handshakeDone = openedAt === undefined ? 0 : openedAt + rttMs;
      releaseAt = Math.max(releaseAt, Date.now() + half, handshakeDone + half);
      queue.push({ at: releaseAt, fn });
      timer ??= setTimeout(drain, Math.max(0, releaseAt - Date.now()));
    };
    let first = true;
    from.on('data', (chunk: Buffer) => {
      if (first && openedAt !== undefined && !options.upstreamTls && chunk[0] === 0x16 && chunk[1] === 0x03) {
        // A TLS ClientHello to this plain-HTTP registry (a client probing for HTTPS). Go's server
        // would wait for a newline before answering 400, which random handshake bytes may never
        // contain; answer as it eventually does, one round trip later, and close.
        // The upstream connection stays idle and goes when the client closes; closing it here
        // would race the answer and cut the client off without it.
        later(() => from.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n'));
        first = false;
        return;
      }
      first = false;
      later(() => !to.destroyed && to.write(chunk));
    });
    from.on('end', () => later(() => to.end()));
    from.on('error', () => later(() => to.destroy()));
    from.on('close', () => later(() => to.destroy()));
  };
  let accepted = 0;
  const server: Server = createServer((client) => {
    accepted++;
    const upstream = connect(upstreamPort, '127.0.0.1');
    // No Nagle on the proxy's own sockets: it would add delayed-ACK stalls a real path does not
    // have (both clients measured set TCP_NODELAY themselves).
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    sockets.add(client).add(upstream);
    client.on('close', () => sockets.delete(client));
    upstream.on('close', () => sockets.delete(upstream));
    forward(client, upstream, Date.now());
    forward(upstream, client, undefined);
  });
  const listenHost = options.listenHost ?? '127.0.0.1';
  await new Promise<void>((r) => server.listen(0, listenHost, r));
  const port = (server.address() as { port: number }).port;
  return {
    host: `${listenHost}:${port}`,
    port,
    connections: () => accepted,
    stop: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
