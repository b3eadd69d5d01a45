/**
 * The retry layer: one policy per host. Transient failures are sent again, with exponential
 * backoff and jitter, or after the server's Retry-After (seconds or an HTTP date; one that would
 * pass the request's retry-max-seconds budget is not waited, and its answer stands). The wait is
 * the host's, not only the failed request's: every request to that host, new ones included,
 * waits it out before it goes (a 429 slows all of them, as regclient does). One budget per request covers failures before the headers and, for requests whose body
 * is read whole (`readBody`), while reading it. Every retry is counted and logged with its reason.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ActionError, describeError } from '../errors.ts';
import { log } from '../log.ts';
import type { TransportStats } from './base.ts';
import { splitHostPort } from '../hosts.ts';
import { type HttpRequest, type Layer, type Method, RedirectTargetError, type Response, discard, errorCode, foreignHost, header, isTlsProtocolMismatch, redactUrl } from './http.ts';

export interface RetryPolicy {
  /** Attempts after the first, for retryable failures. */
  retries: number;
  /** Upper bound in seconds on the time spent retrying one request. */
  retryMaxSeconds: number;
  /** Base delay for exponential backoff (ms); tests lower it. */
  backoffBaseMs?: number;
}

/** `host[:port]` of a URL, for the per-host wait. */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '';
  }
}

/** Seconds as a log line says them: whole when whole ("2 s"), else to a tenth. */
export function seconds(ms: number): string {
  return Number.isInteger(ms / 1000) ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

export const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
  // The overall deadline (deadline.ts) passed.
  'DEADLINE_EXCEEDED',
  // A body that broke off mid-way.
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'ERR_STREAM_PREMATURE_CLOSE',
]);
const IDEMPOTENT = new Set<Method>(['GET', 'HEAD', 'PUT', 'DELETE']);

/** A connection-level failure worth another attempt. */
export function isRetryableNetworkError(e: unknown): boolean {
  return RETRYABLE_CODES.has(errorCode(e) ?? '');
}

/** Parses Retry-After (seconds or HTTP date) into milliseconds. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Exponential backoff with jitter: between half and all of base × 2^(attempt−1), at most 30 s. */
export function backoffMs(policy: RetryPolicy, attempt: number, random = Math.random()): number {
  const backoff = Math.min(30_000, (policy.backoffBaseMs ?? 500) * 2 ** (attempt - 1));
  return Math.round(backoff / 2 + random * (backoff / 2));
}

/** Only what is safe to replay is retried: idempotent methods (and POST), with a body that can be produced again. */
export function isReplayable(req: HttpRequest): boolean {
  return (
    (IDEMPOTENT.has(req.method) || req.method === 'POST') &&
    (req.body === undefined || Buffer.isBuffer(req.body) || req.replayable === true)
  );
}

export class RetryTransport implements Layer {
  private readonly next: Layer;
  private readonly policy: RetryPolicy;
  private readonly stats: TransportStats;
  /** Per host: no request goes before this time (ms since epoch), set by the last retryable failure there. */
  private readonly notBefore = new Map<string, number>();

  constructor(next: Layer, policy: RetryPolicy, stats: TransportStats) {
    this.next = next;
    this.policy = policy;
    this.stats = stats;
  }

  send(req: HttpRequest): Promise<Response> {
    return this.attempts(req, () => this.next.send(req));
  }

  /**
   * Runs `once` (one attempt of `req`) until it succeeds, fails for good, or the budget is spent.
   * A connection-level failure ends as `failed(failure, attempts)` (by default networkError).
   */
  async attempts(req: HttpRequest, once: () => Promise<Response>, failed = (e: unknown, attempts: number) => networkError(req, e, attempts)): Promise<Response> {
    const started = Date.now();
    const maxAttempts = isReplayable(req) && req.retry !== false ? this.policy.retries + 1 : 1;
    const host = hostOf(req.url);
    for (let attempt = 1; ; attempt++) {
      // The host asked for a pause (or is backing off): every request to it waits it out.
      const hold = (this.notBefore.get(host) ?? 0) - Date.now();
      if (hold > 0) await sleep(hold);
      let res: Response | undefined;
      let failure: unknown;
      try {
        res = await once();
      } catch (e) {
        failure = e;
      }
      const retryable = res ? RETRYABLE_STATUS.has(res.status) : isRetryableNetworkError(failure);
      const give = () => {
        if (res) return res;
        throw failed(failure, attempt);
      };
      if (!retryable || attempt >= maxAttempts) return give();
      const maxMs = this.policy.retryMaxSeconds * 1000;
      const retryAfter = res ? parseRetryAfter(header(res, 'retry-after')) : undefined;
      const wait = retryAfter ?? backoffMs(this.policy, attempt);
      // A wait past the request's budget (retry-max-seconds) is not waited: the answer stands.
      if (Date.now() - started + wait > maxMs) return give();
      if (res) await discard(res);
      this.notBefore.set(host, Math.max(this.notBefore.get(host) ?? 0, Date.now() + wait));
      const reason = res ? String(res.status) : (errorCode(failure) ?? describeError(failure, 'outside'));
      log.info(`${reason} from ${host}, waiting ${seconds(wait)} ${retryAfter !== undefined ? 'as it asked' : '(backoff)'}: retry ${attempt}/${maxAttempts - 1} of ${req.method} ${redactUrl(req.url)}`);
      this.stats.retries++;
    }
  }
}

/** A TLS certificate the runner does not trust (self-signed, unknown CA, wrong name). */
const isCertificateError = (code: string | undefined) => /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/i.test(code ?? '');
/** A name that does not resolve (for good, or for now). */
const isNameError = (code: string | undefined) => ['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL'].includes(code ?? '');

/** The error for a request that failed at the connection level (after its retries). */
export function networkError(req: { method: string; url: string }, e: unknown, attempts: number): ActionError {
  if (e instanceof ActionError) return e;
  const code = errorCode(e);
  const certificate = isCertificateError(code);
  // A redirect target is its own host, with its own TLS settings: the hint names it.
  const elsewhere = e instanceof RedirectTargetError ? foreignHost(e.url) : undefined;
  const hint = certificate
    ? elsewhere
      ? `The TLS certificate of ${elsewhere} (a redirect target) is not trusted: add its CA with NODE_EXTRA_CA_CERTS, or list ${elsewhere} in insecure-registries`
      : 'The registry’s TLS certificate is not trusted: add its CA with NODE_EXTRA_CA_CERTS, or list the registry in insecure-registries'
    : 'Check that the registry is reachable from the runner (address, port, proxy settings)';
  const said = describeError(e, 'outside');
  return ActionError.network(`${req.method} ${redactUrl(req.url)} failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${code ? `${code} ` : ''}${said}`, {
    code,
    hint,
    cause: e,
    detail: said.split(';')[0],
  });
}

/**
 * The error for a registry that could not be reached (its ping failed at the connection level,
 * after its retries): it names the registry and the image that needed it, as the user wrote
 * them, not the ping's URL; keeps the cause; and says what to do about that cause.
 */
export function unreachableError(where: { registry: string; host: string; subject?: string }, e: unknown, attempts: number): ActionError {
  if (e instanceof ActionError) return e;
  const { registry, host, subject } = where;
  const code = errorCode(e);
  const dialled = host === registry ? '' : ` (dialled as ${host})`;
  const hint = isCertificateError(code)
    ? `The TLS certificate of ${registry} is not trusted: add its CA with NODE_EXTRA_CA_CERTS, or list ${registry} in insecure-registries (a self-signed registry)`
    : isNameError(code)
      ? `${splitHostPort(host).hostname} does not resolve from the runner: check the registry name in the reference`
      : isTlsProtocolMismatch(e)
        ? `${registry} does not speak TLS: if it serves plain HTTP, list it in insecure-registries`
        : `Check the registry's host and port in the reference, and that ${registry} is reachable from the runner (firewall, proxy settings)`;
  const said = describeError(e, 'outside');
  return ActionError.network(
    `cannot reach the registry ${registry}${dialled}${subject ? ` for ${subject}` : ''}: ${code ? `${code} (${said})` : said}, after ${attempts} attempt${attempts === 1 ? '' : 's'}`,
    { code, hint, cause: e, detail: said.split(';')[0] },
  );
}
