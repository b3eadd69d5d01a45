/**
 * A fault-injecting HTTP proxy in front of a real registry. Every request is numbered; a rule
 * decides per request whether to pass it through or inject a fault: a status (429 with
 * Retry-After, 5xx), a connection reset, a delay, a slow body, a truncated or corrupted body, or a rewritten
 * header, or a replaced body (a registry serving content it would not itself accept). The registry
 * behind it is real; nothing here answers as a registry would.
 */
import { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse, request } from 'node:http';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { serveOnLoopback } from './loopback-http.ts';

export type Fault =
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string }
  | { kind: 'reset' }
  | { kind: 'delay'; ms: number }
  /** The registry's answer, its body passed on at this rate (a slow link). */
  | { kind: 'throttle'; bytesPerSecond: number }
  | { kind: 'truncate' }
  | { kind: 'corrupt' }
  | { kind: 'header'; name: string; value: string }
  | { kind: 'oversize'; bytes: number }
  /** The registry's answer with this body instead (Content-Length and Docker-Content-Digest to match). */
  | { kind: 'body'; body: Buffer }
  /**
   * Runs `run` (e.g. a write of its own to the registry), then passes the request through, or
   * answers `status` instead when given (`run` did what the request asks, as another registry would).
   */
  | { kind: 'hook'; run: () => Promise<void>; status?: number }
  /** Passes the request through, then answers `status` instead of the registry: a write that landed, its answer lost. */
  | { kind: 'applied'; status: number }
  /** Passes the request on to another path of the registry (e.g. a mount's query dropped, as a registry ignoring it). */
  | { kind: 'rewrite'; url: string };

export interface ProxiedRequest {
  n: number;
  method: string;
  url: string;
  /** The request's Content-Length (0 when absent). */
  length: number;
  headers: IncomingHttpHeaders;
  /** A manifest PUT's body (read before the rule is asked). */
  body?: Buffer;
  /** Body bytes received from the client and passed on to the registry so far. */
  received?: number;
  /** The exchange is over (the answer's connection closed or the answer ended). */
  closed?: boolean;
  /** The answer was cut before its end (the client dropped the request, or its body). */
  cut?: boolean;
}

/** Decides per request; may ask the registry first (a promise), as a registry consults its own state. */
export type Rule = (req: ProxiedRequest) => Fault | undefined | Promise<Fault | undefined>;

export interface FaultProxy {
  host: string;
  url: string;
  log: Array<ProxiedRequest & { fault?: Fault['kind']; status?: number }>;
  setRule(rule: Rule): void;
  stop(): Promise<void>;
}

/** The tag a request writes, when it is a manifest PUT by tag (not by digest). */
export function tagPut(r: ProxiedRequest): string | undefined {
  const m = /^\/v2\/.+\/manifests\/([^/?]+)$/.exec(r.url);
  if (r.method !== 'PUT' || !m || /:|%3A/i.test(m[1] as string)) return undefined;
  return m[1];
}

/**
 * A rule refusing manifest PUTs by tag with `status` (500 an outage, 405 a read-only mirror):
 * every one, or only the `only`-th (1-based, counted from when the rule is made).
 */
export function refuseTagPuts(status: number, only?: number): Rule {
  let seen = 0;
  return (r) => {
    if (tagPut(r) === undefined) return undefined;
    seen++;
    if (only !== undefined && seen !== only) return undefined;
    const code = status === 405 ? 'UNSUPPORTED' : 'UNAVAILABLE';
    return { kind: 'status', status, body: JSON.stringify({ errors: [{ code, message: 'injected: tag writes refused' }] }) };
  };
}

export async function startFaultProxy(upstream: string, rule: Rule = () => undefined): Promise<FaultProxy> {
  const target = new URL(upstream);
  let current = rule;
  let n = 0;
  const log: FaultProxy['log'] = [];

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const entry = { n: ++n, method: req.method ?? 'GET', url: req.url ?? '/', length: Number(req.headers['content-length'] ?? 0), headers: req.headers } as FaultProxy['log'][number];
    log.push(entry);
    res.once('close', () => {
      entry.closed = true;
      entry.cut = !res.writableFinished;
    });
    if (entry.method === 'PUT' && /^\/v2\/.+\/manifests\/[^/?]+$/.test(entry.url)) {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      entry.body = Buffer.concat(chunks);
    }
    const fault = await current(entry);
    entry.fault = fault?.kind;
    if (fault?.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'status') {
      req.resume();
      entry.status = fault.status;
      res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers });
      res.end(fault.body ?? JSON.stringify({ errors: [{ code: fault.status === 429 ? 'TOOMANYREQUESTS' : 'UNAVAILABLE', message: 'injected' }] }));
      return;
    }
    if (fault?.kind === 'oversize') {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json', 'content-length': String(fault.bytes) });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let sent = 0;
      while (sent < fault.bytes && !res.destroyed) {
        const size = Math.min(chunk.length, fault.bytes - sent);
        if (!res.write(chunk.subarray(0, size))) await new Promise((r) => res.once('drain', r).once('close', r));
        sent += size;
      }
      res.end();
      return;
    }
    if (fault?.kind === 'delay') await sleep(fault.ms);
    if (fault?.kind === 'hook') {
      await fault.run();
      if (fault.status !== undefined) {
        req.resume();
        entry.status = fault.status;
        res.writeHead(fault.status, { 'content-length': '0' });
        res.end();
        return;
      }
    }
    const upstreamReq = request(
      { host: target.hostname, port: target.port, method: req.method, path: fault?.kind === 'rewrite' ? fault.url : req.url, headers: req.headers },
      (up) => {
        entry.status = up.statusCode;
        if (fault?.kind === 'applied') {
          up.resume();
          up.on('end', () => {
            entry.status = fault.status;
            res.writeHead(fault.status, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ errors: [{ code: 'UNKNOWN', message: 'injected after the registry applied the request' }] }));
          });
          return;
        }
        const headers = { ...up.headers };
        if (fault?.kind === 'header') headers[fault.name.toLowerCase()] = fault.value;
        if (fault?.kind === 'body') {
          up.resume();
          up.on('end', () => {
            headers['content-length'] = String(fault.body.length);
            headers['docker-content-digest'] = `sha256:${createHash('sha256').update(fault.body).digest('hex')}`;
            res.writeHead(up.statusCode ?? 502, headers);
            res.end(req.method === 'HEAD' ? undefined : fault.body);
          });
          return;
        }
        if (fault?.kind === 'truncate' || fault?.kind === 'corrupt') {
          const chunks: Buffer[] = [];
          up.on('data', (c: Buffer) => chunks.push(c));
          up.on('end', () => {
            const body = Buffer.concat(chunks);
            res.writeHead(up.statusCode ?? 502, headers);
            if (fault.kind === 'truncate') {
              res.write(body.subarray(0, Math.floor(body.length / 2)));
              res.socket?.destroy();
            } else {
              const bad = Buffer.from(body);
              if (bad.length) bad[bad.length - 2] = (bad[bad.length - 2] as number) ^ 0x01;
              res.end(bad);
            }
          });
          return;
        }
        res.writeHead(up.statusCode ?? 502, headers);
        if (fault?.kind === 'throttle') {
          // A twentieth of the rate every 50 ms.
          const slice = Math.max(1, Math.floor(fault.bytesPerSecond / 20));
          void (async () => {
            for await (const chunk of up as AsyncIterable<Buffer>) {
              for (let i = 0; i < chunk.length && !res.destroyed; i += slice) {
                res.write(chunk.subarray(i, i + slice));
                await sleep(50);
              }
            }
            res.end();
          })().catch(() => res.destroy());
          return;
        }
        up.pipe(res);
      },
    );
    upstreamReq.on('error', () => res.destroy());
    if (entry.body) upstreamReq.end(entry.body);
    else {
      entry.received = 0;
      req.on('data', (c: Buffer) => (entry.received = (entry.received ?? 0) + c.length));
      req.pipe(upstreamReq);
    }
  };

  const server = await serveOnLoopback(handle);
  return {
    ...server,
    log,
    setRule: (r) => {
      current = r;
    },
  };
}
