/**
 * Servers for the tests where a host must misbehave (credentials, redirects, TLS per origin, deadlines), all on 127.0.0.1:
 * - a rewriting proxy in front of a real registry (plain or TLS on its own side) that can change a
 *   response's status and headers, answer a request itself, or trickle a body;
 * - a scripted server that records every request (which host got which Authorization header) and
 *   answers as the test says: the misbehaving storage hosts, upload targets and token realms that
 *   no real registry would point at;
 * - a server that speaks TLS and plain HTTP on one port (as a misconfigured front end does);
 * - a forward proxy that maps made-up host names (`registry.test`) to loopback ports, so that the
 *   action meets a host that is neither loopback nor listed without leaving the machine.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse, createServer as createHttpServer, request as httpRequest } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, type Socket, connect as netConnect, createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CertSet } from './certs.ts';

export interface SeenRequest {
  method: string;
  url: string;
  host: string | undefined;
  authorization: string | undefined;
  /** 'https' when the request came over TLS. */
  scheme: 'http' | 'https';
  headers: IncomingHttpHeaders;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export interface TlsFiles {
  cert: string;
  key: string;
}

function listen(server: Server | import('node:net').Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function stopper(server: Server | import('node:net').Server, sockets: Set<Socket>): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
}

function track(server: Server | import('node:net').Server, sockets: Set<Socket>): void {
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  });
}

function seen(req: IncomingMessage, scheme: 'http' | 'https'): SeenRequest {
  return { method: req.method ?? 'GET', url: req.url ?? '/', host: req.headers.host, authorization: req.headers.authorization, scheme, headers: req.headers };
}

function answer(res: ServerResponse, a: Answer): void {
  const body = a.body === undefined ? '' : a.body;
  res.writeHead(a.status, { 'content-length': String(Buffer.byteLength(body)), ...a.headers });
  res.end(body);
}

export interface ScriptedServer {
  host: string;
  port: number;
  url: string;
  requests: SeenRequest[];
  stop(): Promise<void>;
}

/**
 * A scripted server: records every request and answers with `respond` (which may also stream the
 * answer itself and return undefined). TLS when `tls` is given.
 */
export async function startScriptedServer(
  respond: (req: SeenRequest, res: ServerResponse) => Answer | undefined | Promise<Answer | undefined>,
  tls?: TlsFiles,
): Promise<ScriptedServer> {
  const requests: SeenRequest[] = [];
  const scheme = tls ? 'https' : 'http';
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const s = seen(req, scheme);
    requests.push(s);
    req.resume();
    req.on('end', () => {
      Promise.resolve(respond(s, res))
        .then((a) => a && answer(res, a))
        .catch(() => res.destroy());
    });
  };
  const server = tls ? createHttpsServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, handler) : createHttpServer(handler);
  const sockets = new Set<Socket>();
  track(server, sockets);
  if (tls) server.on('tlsClientError', () => undefined);
  const port = await listen(server);
  return { host: `127.0.0.1:${port}`, port, url: `${scheme}://127.0.0.1:${port}`, requests, stop: stopper(server, sockets) };
}

export interface Rewrite {
  /** Answer the request here instead of passing it to the registry. */
  answer?: Answer;
  /** Change the registry's status and headers (a header set to undefined is removed). */
  status?: number;
  headers?: Record<string, string | undefined>;
  /** Send the registry's body one byte every `intervalMs`, giving up after `giveUpMs`. */
  trickle?: { intervalMs: number; giveUpMs: number };
  /** Send the registry's body at most this many bytes per second. */
  bytesPerSecond?: number;
}

export interface ProxyEntry {
  method: string;
  url: string;
  status?: number;
  /** For trickled bodies: whether the client closed the connection before the proxy gave up. */
  clientClosedEarly?: boolean;
}

export interface RewritingProxy {
  host: string;
  port: number;
  url: string;
  log: ProxyEntry[];
  setRule(rule: (req: { method: string; url: string; status?: number }) => Rewrite | undefined): void;
  stop(): Promise<void>;
}

/**
 * A proxy in front of a real registry (reached over plain HTTP at `upstream`). The rule is asked
 * twice per request: before forwarding (`status` undefined: may answer itself) and once the
 * registry's status is known (may rewrite status and headers, or slow the body down).
 */
export async function startRewritingProxy(upstream: string, options: { tls?: TlsFiles } = {}): Promise<RewritingProxy> {
  const target = new URL(upstream);
  let rule: Parameters<RewritingProxy['setRule']>[0] = () => undefined;
  const log: ProxyEntry[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const entry: ProxyEntry = { method: req.method ?? 'GET', url: req.url ?? '/' };
    log.push(entry);
    const early = rule({ method: entry.method, url: entry.url });
    if (early?.answer) {
      req.resume();
      entry.status = early.answer.status;
      req.on('end', () => answer(res, early.answer as Answer));
      return;
    }
    const headers = { ...req.headers, host: target.host };
    const up = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers }, (ur) => {
      const late = rule({ method: entry.method, url: entry.url, status: ur.statusCode ?? 502 });
      const status = late?.status ?? ur.statusCode ?? 502;
      entry.status = status;
      const outHeaders: Record<string, string | string[] | undefined> = { ...ur.headers };
      for (const [k, v] of Object.entries(late?.headers ?? {})) {
        if (v === undefined) delete outHeaders[k.toLowerCase()];
        else outHeaders[k.toLowerCase()] = v;
      }
      if (late?.trickle) {
        void trickle(ur, res, status, outHeaders, late.trickle, entry);
        return;
      }
      if (late?.bytesPerSecond) {
        void throttle(ur, res, status, outHeaders, late.bytesPerSecond);
        return;
      }
      res.writeHead(status, outHeaders);
      ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  };
  const server = options.tls ? createHttpsServer({ cert: readFileSync(options.tls.cert), key: readFileSync(options.tls.key) }, handler) : createHttpServer(handler);
  if (options.tls) server.on('tlsClientError', () => undefined);
  const sockets = new Set<Socket>();
  track(server, sockets);
  const port = await listen(server);
  const scheme = options.tls ? 'https' : 'http';
  return {
    host: `127.0.0.1:${port}`,
    port,
    url: `${scheme}://127.0.0.1:${port}`,
    log,
    setRule: (r) => {
      rule = r;
    },
    stop: stopper(server, sockets),
  };
}

async function bodyOf(stream: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function trickle(
  from: IncomingMessage,
  res: ServerResponse,
  status: number,
  headers: Record<string, string | string[] | undefined>,
  how: { intervalMs: number; giveUpMs: number },
  entry: ProxyEntry,
): Promise<void> {
  const body = await bodyOf(from);
  res.writeHead(status, { ...headers, 'content-length': String(body.length) });
  res.flushHeaders();
  let closed = false;
  res.on('close', () => (closed = true));
  const until = Date.now() + how.giveUpMs;
  for (let i = 0; i < body.length && !closed; i++) {
    if (Date.now() > until) {
      entry.clientClosedEarly = false;
      res.destroy();
      return;
    }
    res.write(body.subarray(i, i + 1));
    await sleep(how.intervalMs);
  }
  entry.clientClosedEarly = closed;
  if (!closed) res.end();
}

async function throttle(from: IncomingMessage, res: ServerResponse, status: number, headers: Record<string, string | string[] | undefined>, bytesPerSecond: number): Promise<void> {
  const body = await bodyOf(from);
  res.writeHead(status, { ...headers, 'content-length': String(body.length) });
  const slice = Math.max(1, Math.floor(bytesPerSecond / 10));
  for (let i = 0; i < body.length && !res.destroyed; i += slice) {
    res.write(body.subarray(i, i + slice));
    await sleep(100);
  }
  res.end();
}

export interface DualProtocolServer {
  host: string;
  port: number;
  /** Requests that came over TLS and over plain HTTP, on the same port. */
  tlsRequests: SeenRequest[];
  plainRequests: SeenRequest[];
  stop(): Promise<void>;
}

/**
 * One port that speaks TLS and plain HTTP (the first byte of a connection decides): a front end
 * configured to redirect its own HTTPS traffic to plain HTTP on the same port. No registry does
 * this; a misconfigured or hostile front end can.
 */
export async function startDualProtocolServer(
  tls: TlsFiles,
  onTls: (req: IncomingMessage, res: ServerResponse) => void,
  onPlain: (req: SeenRequest, res: ServerResponse) => Answer | undefined | Promise<Answer | undefined>,
): Promise<DualProtocolServer> {
  const tlsRequests: SeenRequest[] = [];
  const plainRequests: SeenRequest[] = [];
  const https = createHttpsServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, (req, res) => {
    tlsRequests.push(seen(req, 'https'));
    onTls(req, res);
  });
  https.on('tlsClientError', () => undefined);
  const http = createHttpServer((req, res) => {
    const s = seen(req, 'http');
    plainRequests.push(s);
    req.resume();
    req.on('end', () => {
      Promise.resolve(onPlain(s, res))
        .then((a) => a && answer(res, a))
        .catch(() => res.destroy());
    });
  });
  const sockets = new Set<Socket>();
  const front = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.once('data', (first: Buffer) => {
      socket.pause();
      socket.unshift(first);
      (first[0] === 0x16 ? https : http).emit('connection', socket);
      process.nextTick(() => socket.resume());
    });
  });
  const port = await listen(front);
  return { host: `127.0.0.1:${port}`, port, tlsRequests, plainRequests, stop: stopper(front, sockets) };
}

/** Forwards a request to a plain-HTTP upstream (the real registry) and streams the answer back. */
export function forward(req: IncomingMessage, res: ServerResponse, upstream: string, change?: (status: number, headers: IncomingHttpHeaders) => { status: number; headers: IncomingHttpHeaders }): void {
  const target = new URL(upstream);
  const up = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } }, (ur) => {
    const out = change ? change(ur.statusCode ?? 502, ur.headers) : { status: ur.statusCode ?? 502, headers: ur.headers };
    res.writeHead(out.status, out.headers);
    ur.pipe(res);
  });
  up.on('error', () => res.destroy());
  req.pipe(up);
}

export interface MappingProxy {
  url: string;
  /** Every CONNECT target and absolute-URI request (`host:port`), with the Authorization sent on plain requests. */
  carried: Array<{ target: string; kind: 'connect' | 'plain'; authorization?: string }>;
  stop(): Promise<void>;
}

/**
 * A forward proxy (CONNECT and absolute-URI requests) that sends `name:port` to the loopback port
 * `names[name:port]`; anything else is refused with 502.
 */
export async function startMappingProxy(names: Record<string, number>): Promise<MappingProxy> {
  const carried: MappingProxy['carried'] = [];
  const server = createHttpServer((req, res) => {
    const u = new URL(req.url ?? '');
    const port = names[u.host] ?? names[`${u.hostname}:${u.port || 80}`];
    carried.push({ target: u.host, kind: 'plain', authorization: req.headers.authorization });
    if (!port) {
      res.writeHead(502).end();
      return;
    }
    const up = httpRequest({ host: '127.0.0.1', port, method: req.method, path: u.pathname + u.search, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    const target = req.url ?? '';
    carried.push({ target, kind: 'connect' });
    const port = names[target];
    client.on('error', () => undefined);
    if (!port) {
      client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
      return;
    }
    const up = netConnect(port, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    up.on('error', () => client.destroy());
  });
  const sockets = new Set<Socket>();
  track(server, sockets);
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, carried, stop: stopper(server, sockets) };
}

/** A leaf certificate for `names` (DNS names or IPs) signed by the CA of `ca`. */
export function makeCertFor(ca: CertSet, names: string[], stem: string): TlsFiles {
  const san = names.map((n) => (/^[\d.]+$/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: ca.dir, stdio: ['ignore', 'ignore', 'pipe'] });
  run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${stem}.key`, '-out', `${stem}.csr`, '-subj', `/CN=${names[0]}`]);
  writeFileSync(join(ca.dir, `${stem}.cnf`), `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
  run(['x509', '-req', '-in', `${stem}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${stem}.pem`, '-days', '2', '-extfile', `${stem}.cnf`]);
  return { cert: join(ca.dir, `${stem}.pem`), key: join(ca.dir, `${stem}.key`) };
}

export interface CountingListener {
  port: number;
  /** TCP connections accepted so far. */
  accepted(): number;
  stop(): Promise<void>;
}

/** A TCP listener that only counts connections (it never answers). */
export async function startCountingListener(): Promise<CountingListener> {
  let accepted = 0;
  const sockets = new Set<Socket>();
  const server = createNetServer((s) => {
    accepted++;
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  const port = await listen(server);
  return { port, accepted: () => accepted, stop: stopper(server, sockets) };
}

/** A blob GET on the `app` repository (what a registry redirects to a storage host). */
export const BLOB_PATH = /^\/v2\/app\/blobs\/(sha256:[a-f0-9]{64})$/;

/** Serves a blob of `app` from the real registry (what a storage host behind a redirect would hold). */
export async function blobFrom(registryUrl: string, digest: string, authorization?: string): Promise<Buffer> {
  const res = await fetch(`${registryUrl}/v2/app/blobs/${digest}`, { headers: authorization ? { authorization } : {} });
  return Buffer.from(await res.arrayBuffer());
}
