/**
 * The registry's ping: one `GET /v2/` before its first real request, as go-containerregistry's
 * transport does. It learns the scheme and the auth challenge; every request on the registry
 * waits for it (concurrent first requests wait on the one ping), and a path (`/v2/…`) is then
 * completed into a URL on that scheme.
 *
 * HTTPS always, except for loopback and listed insecure registries, where the ping finds out:
 * loopback asks plain HTTP first and switches to HTTPS when the server answers that it speaks TLS
 * (a reset, or a 400 saying so); listed registries ask HTTPS first and fall back to plain HTTP
 * when the server does not speak TLS. A host that speaks TLS is never downgraded because of a
 * certificate error. The ping is retried like any request (one policy per host, retry.ts), and
 * carries no credentials.
 */
import { Readable } from 'node:stream';
import { log } from '../log.ts';
import { type Challenge, parseChallenges } from './challenge.ts';
import { type HttpRequest, type Layer, type Response, discard, errorCode, isTlsProtocolMismatch } from './http.ts';
import { type RetryTransport, unreachableError } from './retry.ts';

export type Scheme = 'https' | 'http';

/** What the ping learnt: its status (after retries) and the challenges of a 401. */
export interface PingResult {
  status: number;
  challenges: Challenge[];
}

/** A plain-HTTP request that a TLS server cut off. */
function isPlainToTlsMismatch(e: unknown): boolean {
  const code = errorCode(e) ?? '';
  return code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code.startsWith('HPE_');
}

/** At most 4 KiB of a body (what a 400 says about TLS). */
async function readSmall(body: Response['body']): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    chunks.push(chunk as Buffer);
    total += (chunk as Buffer).length;
    if (total > 4096) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks);
}

/** A response body from bytes already read, with the parts of undici's body the layers use. */
function bufferBody(bytes: Buffer): Response['body'] {
  const stream = Readable.from([bytes]) as unknown as Response['body'] & { dump: () => Promise<void> };
  stream.dump = async () => {
    stream.resume();
  };
  return stream;
}

export class Ping {
  /** host[:port] the registry is dialled at. */
  private readonly host: string;
  /** One attempt, no retries (user agent → base). */
  private readonly next: Layer;
  private readonly retry: RetryTransport;
  private readonly label: string;
  private readonly preferred: Scheme;
  private scheme: Scheme | undefined;
  private pending: Promise<PingResult> | undefined;

  /**
   * `negotiate`: learn the scheme from the ping (loopback and listed insecure hosts), asking
   * `preferred` first. Otherwise always `preferred`.
   */
  constructor(next: Layer, retry: RetryTransport, host: string, options: { preferred: Scheme; negotiate: boolean; label: string }) {
    this.next = next;
    this.retry = retry;
    this.host = host;
    this.label = options.label;
    this.preferred = options.preferred;
    this.scheme = options.negotiate ? undefined : options.preferred;
  }

  /** The registry's origin, once its scheme is known. */
  origin(): string | undefined {
    return this.scheme ? `${this.scheme}://${this.host}` : undefined;
  }

  /** A path on the registry as a URL (after the ping). */
  url(path: string): string {
    return `${this.scheme ?? this.preferred}://${this.host}${path}`;
  }

  /**
   * The one ping: every caller shares it. A ping that failed (the registry unreachable) fails
   * every request waiting on it, naming `subject`, the image the first of them needed the
   * registry for; the next request asks again.
   */
  run(subject?: string): Promise<PingResult> {
    this.pending ??= this.ping(subject).catch((e: unknown) => {
      this.pending = undefined;
      throw e;
    });
    return this.pending;
  }

  private async ping(subject: string | undefined): Promise<PingResult> {
    const req: HttpRequest = { method: 'GET', url: this.url('/v2/') };
    const where = { registry: this.label, host: this.host, subject };
    const res = await this.retry.attempts(req, () => this.once(), (e, attempts) => unreachableError(where, e, attempts));
    const challenges = res.status === 401 ? parseChallenges(res.headers['www-authenticate']) : [];
    // Only the headers matter: the body is drained meanwhile (within its deadline), so a body that
    // drips holds no request.
    void discard(res);
    log.debug(`${this.label}: ping ${this.origin() ?? this.url('')}/v2/ → ${res.status}${challenges.length ? ` (${challenges.map((c) => c.scheme).join(', ')})` : ''}`);
    return { status: res.status, challenges };
  }

  private at(scheme: Scheme): HttpRequest {
    return { method: 'GET', url: `${scheme}://${this.host}/v2/` };
  }

  private settle(scheme: Scheme): void {
    if (!this.scheme) log.debug(`${this.label}: using ${scheme}`);
    this.scheme ??= scheme;
  }

  /** One attempt of the ping; while the scheme is unknown, it finds it out. */
  private async once(): Promise<Response> {
    if (this.scheme) return this.next.send(this.at(this.scheme));
    const first = this.preferred;
    let res: Response;
    try {
      res = await this.next.send(this.at(first));
    } catch (e) {
      if (first === 'https' && isTlsProtocolMismatch(e)) {
        this.settle('http');
        return this.next.send(this.at('http'));
      }
      if (first === 'http' && isPlainToTlsMismatch(e)) {
        // A reset may be a TLS server refusing plain HTTP, or a transient fault: ask over TLS once.
        let tls: Response;
        try {
          tls = await this.next.send(this.at('https'));
        } catch (overTls) {
          if (isTlsProtocolMismatch(overTls)) throw e; // not TLS either: the reset was a fault
          this.settle('https');
          throw overTls;
        }
        this.settle('https');
        return tls;
      }
      throw e; // nothing learnt: the next attempt asks again
    }
    if (first === 'http' && res.status === 400) {
      // A TLS server answers plain HTTP with 400 ("Client sent an HTTP request to an HTTPS server").
      const text = await readSmall(res.body);
      if (/https|tls|ssl/i.test(text.toString('utf8'))) {
        this.settle('https');
        return this.next.send(this.at('https'));
      }
      res = { ...res, body: bufferBody(text) };
    }
    this.settle(first);
    return res;
  }
}
