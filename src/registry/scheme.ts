/**
 * The scheme layer: completes a path on the registry (`/v2/…`) into a URL. HTTPS always, except
 * for loopback and listed insecure registries, where the scheme is learnt from the first request
 * itself (no separate probe): loopback tries plain HTTP first and switches to HTTPS when the
 * server answers that it speaks TLS; listed registries try HTTPS first and fall back to HTTP when
 * the server does not speak TLS. A host that speaks TLS is never downgraded because of a
 * certificate error. Absolute URLs (upload locations, token realms) pass through unchanged.
 */
import { Readable } from 'node:stream';
import { log } from '../log.ts';
import { type HttpRequest, type Layer, RedirectTargetError, type Response, discard, errorCode } from './http.ts';
import { RETRYABLE_STATUS } from './retry.ts';

export type Scheme = 'https' | 'http';

/** A plain-HTTP request that a TLS server cut off (the registry itself, not a redirect target). */
function isPlainToTlsMismatch(e: unknown): boolean {
  if (e instanceof RedirectTargetError) return false;
  const code = errorCode(e) ?? '';
  return code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code.startsWith('HPE_');
}

/** A TLS handshake with a server that speaks plain HTTP (the registry itself, not a redirect target). */
function isTlsProtocolMismatch(e: unknown): boolean {
  if (e instanceof RedirectTargetError) return false;
  const code = errorCode(e) ?? '';
  const message = String((e as Error)?.message ?? '');
  return (
    code === 'ERR_SSL_WRONG_VERSION_NUMBER' ||
    code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' ||
    code === 'EPROTO' ||
    /wrong version number|packet length too long|http request/i.test(message)
  );
}

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

/** A response body from bytes already read, with the parts of undici's body the client uses. */
function bufferBody(bytes: Buffer): Response['body'] {
  const stream = Readable.from([bytes]) as unknown as Response['body'] & { dump: () => Promise<void> };
  stream.dump = async () => {
    stream.resume();
  };
  return stream;
}

export class SchemeTransport implements Layer {
  /** host[:port] the registry is dialled at. */
  private readonly host: string;
  private readonly next: Layer;
  private readonly label: string;
  private scheme: Scheme | undefined;
  private readonly preferred: Scheme;

  /**
   * `negotiate`: learn the scheme from the first answer (loopback and listed insecure hosts),
   * trying `preferred` first. Otherwise always `preferred`.
   */
  constructor(next: Layer, host: string, options: { preferred: Scheme; negotiate: boolean; label: string }) {
    this.next = next;
    this.host = host;
    this.label = options.label;
    this.preferred = options.preferred;
    this.scheme = options.negotiate ? undefined : options.preferred;
  }

  /** The registry's origin, once its scheme is known. */
  origin(): string | undefined {
    return this.scheme ? `${this.scheme}://${this.host}` : undefined;
  }

  async send(req: HttpRequest): Promise<Response> {
    if (!req.url.startsWith('/')) return this.next.send(req);
    const at = (scheme: Scheme, retry = req.retry): HttpRequest => ({ ...req, url: `${scheme}://${this.host}${req.url}`, retry });
    if (this.scheme) return this.next.send(at(this.scheme));
    // Not known yet: this request finds out (concurrent first requests each do, in parallel).
    const first = this.preferred;
    const settle = (scheme: Scheme) => {
      if (!this.scheme) log.debug(`${this.label}: using ${scheme}`);
      this.scheme ??= scheme;
    };
    /** Asks over TLS once; undefined when the host does not speak TLS at all. */
    const overTls = async (): Promise<Response | undefined> => {
      let tls: Response;
      try {
        tls = await this.next.send(at('https', false));
      } catch (e) {
        if (isTlsProtocolMismatch(e)) return undefined;
        settle('https');
        throw e;
      }
      settle('https');
      if (!RETRYABLE_STATUS.has(tls.status)) return tls;
      await discard(tls);
      return this.next.send(at('https'));
    };
    let res: Response;
    try {
      res = await this.next.send(at(first, false));
    } catch (e) {
      if (first === 'https' && isTlsProtocolMismatch(e)) {
        settle('http');
        return this.next.send(at('http'));
      }
      if (first === 'http' && isPlainToTlsMismatch(e)) {
        // A reset may be a TLS server refusing plain HTTP, or a transient fault: ask over TLS once.
        const tls = await overTls();
        if (tls) return tls;
      }
      settle(first);
      return this.next.send(at(first));
    }
    if (first === 'http' && res.status === 400) {
      // A TLS server answers plain HTTP with 400 ("Client sent an HTTP request to an HTTPS
      // server"). A HEAD carries no body to tell, so HEAD asks over TLS once.
      const text = (await readSmall(res.body)).toString('utf8');
      if (req.method === 'HEAD') {
        const tls = await overTls();
        if (tls) return tls;
      } else if (/https|tls|ssl/i.test(text)) {
        settle('https');
        return this.next.send(at('https'));
      }
      res = { ...res, body: bufferBody(Buffer.from(text)) };
    }
    settle(first);
    if (RETRYABLE_STATUS.has(res.status)) {
      // The scheme is settled; the transient failure gets the usual retries.
      await discard(res);
      return this.next.send(at(first));
    }
    return res;
  }
}
