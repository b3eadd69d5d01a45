/**
 * Cold-start overlap: while the rest of the bundle is still being evaluated, open the connections
 * the first requests will need (TCP, and TLS where the registry will be reached over HTTPS), so
 * that the handshakes run during start-up instead of after it. Imported first by the entry point;
 * it reads only the raw INPUT_SOURCES / INPUT_TAGS variables and needs nothing but node:net/tls.
 *
 * Nothing here decides anything: a connection is handed to the HTTP client only when it asks for
 * that exact scheme, host and port; sockets nobody takes are closed. A wrong guess costs nothing
 * but an idle socket.
 */
import { type Socket, connect as netConnect } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';

interface Warm {
  socket: Socket | TLSSocket;
  ready: boolean;
  failed: boolean;
}

const pool = new Map<string, Warm[]>();
const MAX_PER_HOST = 64;

const key = (protocol: string, hostname: string, port: string | number) => `${protocol}//${hostname}:${port}`;

function isLoopbackHost(h: string): boolean {
  return h === 'localhost' || h === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** registry host:port of a reference, with Docker's rule for what counts as a registry. */
function registryOf(reference: string): string {
  const slash = reference.indexOf('/');
  const first = slash === -1 ? '' : reference.slice(0, slash);
  if (first && (first.includes('.') || first.includes(':') || first === 'localhost') && first.toLowerCase() === first) {
    return first === 'docker.io' || first === 'index.docker.io' ? 'registry-1.docker.io' : first;
  }
  return 'registry-1.docker.io';
}

function open(protocol: 'http:' | 'https:', hostname: string, port: number): void {
  const list = pool.get(key(protocol, hostname, port)) ?? [];
  pool.set(key(protocol, hostname, port), list);
  const host = hostname.replace(/^\[|\]$/g, '');
  const socket =
    protocol === 'https:'
      ? tlsConnect({ host, port, servername: /^[\d.]+$|:/.test(host) ? undefined : host, ALPNProtocols: ['http/1.1'] })
      : netConnect({ host, port });
  const warm: Warm = { socket, ready: false, failed: false };
  socket.setNoDelay(true);
  socket.unref(); // never keeps the process alive
  socket.once(protocol === 'https:' ? 'secureConnect' : 'connect', () => {
    warm.ready = true;
  });
  socket.once('error', () => {
    warm.failed = true;
  });
  socket.once('close', () => {
    const i = list.indexOf(warm);
    if (i !== -1) list.splice(i, 1);
  });
  list.push(warm);
}

/** Opens connections for the registries named in the action's inputs (once, at import). */
export function preconnectFromEnv(env: NodeJS.ProcessEnv = process.env): void {
  if (env.MULTIARCH_NO_PRECONNECT) return;
  // Through a proxy the connections go elsewhere; the HTTP client handles that alone.
  if (env.HTTPS_PROXY || env.https_proxy || env.HTTP_PROXY || env.http_proxy) return;
  const entries = `${env.INPUT_SOURCES ?? ''}\n${env.INPUT_TAGS ?? ''}`
    .split(/[\n,]/)
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((l) => l && !l.startsWith('#') && !l.includes('='));
  const insecure = new Set((env['INPUT_INSECURE-REGISTRIES'] ?? '').split(/[\n,]/).map((s) => s.trim()).filter(Boolean));
  const counts = new Map<string, number>();
  for (const e of entries) {
    const r = registryOf(e);
    counts.set(r, (counts.get(r) ?? 0) + 1);
  }
  for (const [registry, count] of counts) {
    if (insecure.has(registry)) continue;
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(registry);
    if (!m) continue;
    const hostname = m[1] as string;
    // Loopback registries are tried over plain HTTP first; everything else is HTTPS.
    const protocol = isLoopbackHost(hostname) ? 'http:' : 'https:';
    const port = m[2] ? Number(m[2]) : protocol === 'https:' ? 443 : 80;
    for (let i = 0; i < Math.min(count, MAX_PER_HOST); i++) open(protocol, hostname, port);
  }
}

/**
 * A connection opened at start-up for exactly this scheme, host and port, once it is up; or
 * undefined (the caller then connects as usual).
 */
export function takeWarmSocket(protocol: string, hostname: string, port: string): Promise<Socket | undefined> | undefined {
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
  return new Promise((resolve) => {
    warm.socket.once(protocol === 'https:' ? 'secureConnect' : 'connect', () => resolve(claim()));
    warm.socket.once('error', () => resolve(undefined));
    warm.socket.once('close', () => resolve(undefined));
  });
}

/** Closes the connections nobody took. */
export function closeWarmSockets(): void {
  for (const list of pool.values()) for (const w of list.splice(0)) w.socket.destroy();
}
