/**
 * Cold-start overlap: while the rest of the bundle is still being evaluated, open the connections
 * the first requests will need (TCP, and TLS where the registry will be reached over HTTPS), so
 * that the handshakes run during start-up instead of after it. Imported first by the entry point;
 * it reads only the raw INPUT_SOURCES / INPUT_TAGS variables and needs only node:net/tls and the
 * pure host and reference rules.
 *
 * Nothing here decides anything: a connection is handed to the HTTP client only when it asks for
 * that exact scheme, host and port; sockets nobody takes are closed. A wrong guess costs nothing
 * but an idle socket.
 */
import { type Socket, isIP, connect as netConnect } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { parseNormalizedNamed } from './oci/reference.ts';
import { alpnProtocols, dialHost, isListedInsecure, isLoopback, parseInsecureRegistries, proxyEnvironment, splitHostPort, usesProxy } from './hosts.ts';

interface Warm {
  socket: Socket | TLSSocket;
  ready: boolean;
  failed: boolean;
}

const pool = new Map<string, Warm[]>();
const MAX_PER_HOST = 64;
/**
 * A start-up connection not up by then is dropped, as the transport's own connects time out
 * (transport.ts, connectTimeoutSeconds): a server that accepts and never completes the handshake
 * would otherwise hold the request waiting on it (and the process) forever.
 */
const CONNECT_TIMEOUT_MS = 15_000;
/** One per connection opened: settles once its address is known and its connect issued (or it failed). */
const dialing: Array<Promise<void>> = [];

const key = (protocol: string, hostname: string, port: string | number) => `${protocol}//${hostname}:${port}`;

/**
 * host:port to dial for an input entry, only when it parses as a reference: whatever else the
 * inputs hold (a typo, a hostile value) opens no connection.
 */
function dialHostOf(entry: string): string | undefined {
  try {
    return dialHost(parseNormalizedNamed(entry).domain);
  } catch {
    return undefined;
  }
}

/**
 * Opens `count` connections to one registry. Over TLS one goes first: when it negotiates HTTP/2 it
 * is the only one the transport needs; only an HTTP/1.1 answer opens the others.
 */
function open(protocol: 'http:' | 'https:', hostname: string, port: number, count: number, alpn: string[], timeoutMs: number): void {
  const list = pool.get(key(protocol, hostname, port)) ?? [];
  pool.set(key(protocol, hostname, port), list);
  const host = hostname.replace(/^\[|\]$/g, '');
  const one = () => {
    const socket =
      protocol === 'https:'
        ? tlsConnect({ host, port, servername: /^[\d.]+$|:/.test(host) ? undefined : host, ALPNProtocols: alpn })
        : netConnect({ host, port });
    const warm: Warm = { socket, ready: false, failed: false };
    // A host name is looked up first (libuv's thread pool) and its connect issued from the lookup's
    // callback, which would wait for the whole bundle to load if the entry went on at once: the
    // entry waits for the lookups (dialed()). Waiting for the TCP connect as well (the ClientHello
    // is written from its callback) gains nothing on a real network: the answer to the
    // ClientHello cannot come before the load ends either way. (Through the benchmark's latency
    // proxy, which completes loopback connects at once, it only looked faster.)
    if (!isIP(host)) dialing.push(new Promise((resolve) => socket.once('lookup', () => resolve()).once('error', () => resolve())));
    socket.setNoDelay(true);
    socket.unref(); // never keeps the process alive until the transport takes it
    const timer = setTimeout(() => socket.destroy(Object.assign(new Error('start-up connection timed out'), { code: 'ETIMEDOUT' })), timeoutMs);
    timer.unref();
    socket.once(protocol === 'https:' ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      warm.ready = true;
    });
    socket.once('error', () => {
      warm.failed = true;
    });
    socket.once('close', () => {
      clearTimeout(timer);
      const i = list.indexOf(warm);
      if (i !== -1) list.splice(i, 1);
    });
    list.push(warm);
    return socket;
  };
  if (protocol === 'http:') {
    for (let i = 0; i < count; i++) one();
    return;
  }
  const first = one() as TLSSocket;
  first.once('secureConnect', () => {
    if (first.alpnProtocol !== 'h2') for (let i = 1; i < count; i++) one();
  });
}

/** Opens connections for the registries named in the action's inputs (once, at import). */
export function preconnectFromEnv(env: NodeJS.ProcessEnv = process.env, connectTimeoutMs = CONNECT_TIMEOUT_MS): void {
  if (env.MULTIARCH_NO_PRECONNECT) return;
  // Through a proxy the connections go elsewhere; the HTTP client handles that alone.
  if (usesProxy(proxyEnvironment(env))) return;
  const entries = `${env.INPUT_SOURCES ?? ''}\n${env.INPUT_TAGS ?? ''}`
    .split(/[\n,]/)
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((l) => l && !l.startsWith('#') && !l.includes('='));
  const insecure = parseInsecureRegistries(env['INPUT_INSECURE-REGISTRIES'] ?? '');
  const counts = new Map<string, number>();
  for (const e of entries) {
    const host = dialHostOf(e);
    if (host) counts.set(host, (counts.get(host) ?? 0) + 1);
  }
  for (const [host, count] of counts) {
    if (isListedInsecure(host, insecure)) continue;
    const { hostname, port: explicitPort } = splitHostPort(host);
    if (!hostname) continue;
    // Loopback registries are tried over plain HTTP first; everything else is HTTPS.
    const protocol = isLoopback(hostname) ? 'http:' : 'https:';
    const port = explicitPort ? Number(explicitPort) : protocol === 'https:' ? 443 : 80;
    // The same ALPN list the transport's own connections offer: a warm one negotiates what they would.
    open(protocol, hostname, port, Math.min(count, MAX_PER_HOST), alpnProtocols(env), connectTimeoutMs);
  }
}

/**
 * Resolves once every start-up connection to a host name has its address and has issued its
 * connect, or after `maxMs`: the entry waits for it before loading the rest of the action, so the
 * handshakes run during the load instead of after it. Connections to IP addresses need no wait.
 */
export function dialed(maxMs: number): Promise<void> {
  if (!dialing.length) return Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    Promise.all(dialing).then(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, maxMs);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * A connection opened at start-up for exactly this scheme, host and port, once it is up; or
 * undefined (the caller then connects as usual).
 */
function takeWarmSocket(protocol: string, hostname: string, port: string): Promise<Socket | undefined> | undefined {
  const effectivePort = port || (protocol === 'https:' ? '443' : '80');
  const list = pool.get(key(protocol, hostname, effectivePort));
  const warm = list?.find((w) => !w.failed);
  if (!list || !warm) return undefined;
  list.splice(list.indexOf(warm), 1);
  const claim = (): Socket | undefined => {
    if (warm.failed || warm.socket.destroyed) return undefined;
    warm.socket.removeAllListeners('error');
    warm.socket.ref();
    return warm.socket;
  };
  if (warm.ready) return Promise.resolve(claim());
  // Waited on now: it keeps the process alive from here (unreferenced, a handshake still under
  // way would let the event loop end with the request waiting on it).
  warm.socket.ref();
  return new Promise((resolve) => {
    warm.socket.once(protocol === 'https:' ? 'secureConnect' : 'connect', () => resolve(claim()));
    warm.socket.once('error', () => resolve(undefined));
    warm.socket.once('close', () => resolve(undefined));
  });
}

/** Closes the connections nobody took. */
function closeWarmSockets(): void {
  for (const list of pool.values()) for (const w of list.splice(0)) w.socket.destroy();
}

/** What the HTTP client is handed (registry/base.ts's WarmSockets): take one, close the rest. */
export const startupConnections = { take: takeWarmSocket, close: closeWarmSockets };
