/** Replacements for connections the server closed, opened before anything waits on them. */
import type { Socket } from 'node:net';
import type { buildConnector } from 'undici';

/**
 * Connections opened ahead of need to replace ones the server closed. undici's pool gives the
 * next request to the first free slot, connected or not, so a slot whose connection was closed
 * would connect only when a request is already waiting on it. Here the replacement is opened as
 * soon as the close is seen, with the same connector (TLS settings, timeouts) and the same
 * parameters undici used for that origin; the slot's next connect takes it. At most `limit` wait
 * per origin; idle ones never keep the process alive and are closed with the endpoint.
 */
export class SpareConnections {
  private readonly waiting = new Map<string, Array<Promise<Socket | undefined>>>();
  /** Connect parameters undici used, per origin (`http://host:port`). */
  private readonly seen = new Map<string, buildConnector.Options>();
  private readonly opened = new Set<Socket>();
  private readonly connect: buildConnector.connector;
  private readonly limit: number;

  constructor(connect: buildConnector.connector, limit: number) {
    this.connect = connect;
    this.limit = limit;
  }

  /** A replacement for this origin, when one was opened; records the parameters otherwise. */
  take(opts: buildConnector.Options): Promise<Socket | undefined> | undefined {
    const origin = this.originOf(opts);
    this.seen.set(origin, opts);
    const next = this.waiting.get(origin)?.shift();
    return next?.then((socket) => {
      if (!socket || socket.destroyed) return undefined;
      this.opened.delete(socket);
      socket.removeAllListeners('error');
      socket.ref();
      return socket;
    });
  }

  /** Holds a connection opened for the origin of `opts` (its first) until the pool's next connect takes it. */
  offer(opts: buildConnector.Options, socket: Socket): void {
    const origin = this.originOf(opts);
    this.seen.set(origin, opts);
    this.waiting.set(origin, [...(this.waiting.get(origin) ?? []), Promise.resolve(this.hold(socket))]);
  }

  /** Opens a replacement for a connection to the origin of `url` that the server closed. */
  replace(url: string): void {
    const u = new URL(url);
    const origin = `${u.protocol}//${u.host}`;
    const opts = this.seen.get(origin);
    const list = this.waiting.get(origin) ?? [];
    if (!opts || list.length >= this.limit) return;
    this.waiting.set(origin, list);
    list.push(
      new Promise((resolve) => {
        this.connect(opts, (err, socket) => resolve(err || !socket ? undefined : this.hold(socket)));
      }),
    );
  }

  private originOf(opts: buildConnector.Options): string {
    return `${opts.protocol}//${opts.host ?? `${opts.hostname}:${opts.port}`}`;
  }

  /** Keeps a connection until it is taken: it never keeps the process alive meanwhile. */
  private hold(socket: Socket): Socket {
    socket.unref();
    socket.on('error', () => socket.destroy());
    this.opened.add(socket);
    socket.once('close', () => this.opened.delete(socket));
    return socket;
  }

  close(): void {
    for (const socket of this.opened) socket.destroy();
    this.opened.clear();
    this.waiting.clear();
  }
}
