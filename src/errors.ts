/**
 * The project's one error type. Every failure the action reports is an ActionError carrying
 * enough to write one clear line: what failed, on which reference, the registry's error code,
 * and what to do about it.
 */
import { QUOTE_LIMIT, flatLine } from './escape.ts';

export type ErrorKind =
  | 'input' // bad input (or sources that cannot make one index): fails before any network write
  | 'reference' // a reference or digest that does not parse
  | 'platform' // a platform string that does not parse
  | 'missing' // no source exists
  | 'conflict' // a tag holds what this run may not overwrite, or moved during the run
  | 'limit' // over a bound: a manifest's size, entries, referrers, bytes read
  | 'credentials' // the Docker config or a credential helper cannot give credentials
  | 'auth' // the registry (or its token server) refused the credentials
  | 'policy' // a request this action refuses to send (plain HTTP, another URL scheme)
  | 'registry' // the registry answered with an error
  | 'network' // no answer: connection-level failure after retries, or too slow
  | 'integrity' // digest or size mismatch, invalid or hostile content
  | 'outputs' // published, but the step outputs could not be written
  | 'runtime'; // the program runs where it cannot (Node version)

/** The annotation title of each kind: what happened, in a few words. */
export const TITLES: Readonly<Record<ErrorKind, string>> = {
  input: 'Invalid input',
  reference: 'Invalid reference',
  platform: 'Invalid platform',
  missing: 'Source images not found',
  conflict: 'Tag conflict',
  limit: 'Over a size or count limit',
  credentials: 'Docker credentials unusable',
  auth: 'Registry authentication failed',
  policy: 'Request refused for safety',
  registry: 'Registry error',
  network: 'Registry did not answer',
  integrity: 'Registry returned inconsistent content',
  outputs: 'Published, but the step outputs failed',
  runtime: 'Unsupported runtime',
};

/** The title of a failure's annotation; anything but an ActionError is this action's own fault. */
export function errorTitle(e: unknown): string {
  return e instanceof ActionError ? TITLES[e.kind] : 'Publishing failed';
}

/** One entry of a registry's error response (`errors[]`), already sanitised. */
export interface RegistryDiagnostic {
  code: string;
  message?: string;
  detail?: string;
}

export interface ActionErrorDetails {
  kind: ErrorKind;
  /** The distribution-spec error code when the registry gave one (MANIFEST_UNKNOWN, DENIED, …). */
  code?: string;
  /** HTTP status when a response caused this error. */
  status?: number;
  /** What the user can do about it. */
  hint?: string;
  /** Sentinel name for parser errors (mirrors distribution/reference's Err* names). */
  sentinel?: string;
  /** The registry's own short message (or the network error's, or the parser's reason), for compact listings. */
  detail?: string;
  /** Every entry of the registry's error response. */
  diagnostics?: RegistryDiagnostic[];
  cause?: unknown;
}

/** What a factory takes besides the message: everything but the kind, which the factory names. */
type Details = Omit<ActionErrorDetails, 'kind'>;

export class ActionError extends Error {
  readonly kind: ErrorKind;
  readonly code: string | undefined;
  readonly status: number | undefined;
  readonly hint: string | undefined;
  readonly sentinel: string | undefined;
  readonly detail: string | undefined;
  readonly diagnostics: readonly RegistryDiagnostic[];

  constructor(message: string, details: ActionErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'ActionError';
    this.kind = details.kind;
    this.code = details.code;
    this.status = details.status;
    this.hint = details.hint;
    this.sentinel = details.sentinel;
    this.detail = details.detail;
    this.diagnostics = details.diagnostics ?? [];
  }

  // The factories: every ActionError is built by one of these, named by its kind.
  /** Bad input: fails before any network write. */
  static input(message: string, details: Details = {}): ActionError {
    return new ActionError(message, { ...details, kind: 'input' });
  }
  /** A reference (or digest) that does not parse. */
  static reference(message: string, details: Details = {}): ActionError {
    return new ActionError(message, { ...details, kind: 'reference' });
  }
  /** A platform string that does not parse. */
  static platform(message: string, details: Details = {}): ActionError {
    return new ActionError(message, { ...details, kind: 'platform' });
  }
  /** No source exists. */
  static missing(message: string, details: Details = {}): ActionError {
    return new ActionError(message, { ...details, kind: 'missing' });
  }
  /** A tag holds what this run may not overwrite, or moved during the run. */
  static conflict(message: string, details: Details = {}): ActionError {
    return new ActionError(message, { ...details, kind: 'conflict' });
  }
  /** Over one of this action's bounds. */
  static limit(message: string, details: Details = {}): ActionError {
    return new ActionError(message, { ...details, kind: 'limit' });
  }
  /** The Docker config or a credential helper cannot give credentials. */
  static credentials(message: string, details: Details = {}): ActionError {
    return new ActionError(message, { ...details, kind: 'credentials' });
  }
  /** The registry or its token server refused the credentials. */
  static auth(message: string, details: Details = {}): ActionError {
    return new ActionError(message, { ...details, kind: 'auth' });
  }
  /** A request this action refuses to send. */
  static policy(message: string, details: Details = {}): ActionError {
    return new ActionError(message, { ...details, kind: 'policy' });
  }
  /** The registry answered with an error, or an answer this action cannot use. */
  static registry(message: string, details: Details = {}): ActionError {
    return new ActionError(message, { ...details, kind: 'registry' });
  }
  /** A connection-level failure after retries, or no answer in time. */
  static network(message: string, details: Details = {}): ActionError {
    return new ActionError(message, { ...details, kind: 'network' });
  }
  /** Content that does not match its digest, size or schema. */
  static integrity(message: string, details: Details = {}): ActionError {
    return new ActionError(message, { ...details, kind: 'integrity' });
  }
  /** Published, but the step outputs could not be written. */
  static outputs(message: string, details: Details = {}): ActionError {
    return new ActionError(message, { ...details, kind: 'outputs' });
  }
  /** The program runs where it cannot. */
  static runtime(message: string, details: Details = {}): ActionError {
    return new ActionError(message, { ...details, kind: 'runtime' });
  }

  /** The one line shown to the user. */
  get line(): string {
    return this.hint ? `${this.message}. ${this.hint}` : this.message;
  }
}

/**
 * Several independent failures (e.g. every missing source) reported together in one line:
 * `summary: ref1: CODE (detail); ref2: CODE (detail). Hint1. Hint2`.
 */
export class AggregateActionError extends ActionError {
  readonly errors: Array<{ subject: string; error: ActionError }>;
  constructor(summary: string, errors: Array<{ subject: string; error: ActionError }>) {
    const parts = errors.map(({ subject, error }) => {
      const what = error.code ?? error.kind;
      const detail = error.detail ?? error.message;
      return `${subject}: ${what}${detail && detail !== what ? ` (${detail})` : ''}`;
    });
    const hints = [...new Set(errors.map(({ error }) => error.hint).filter((h): h is string => Boolean(h)))];
    super(`${summary}: ${parts.join('; ')}`, {
      kind: errors[0]?.error.kind ?? 'registry',
      code: errors[0]?.error.code,
      status: errors[0]?.error.status,
      hint: hints.join('. ') || undefined,
    });
    this.errors = errors;
  }
}

/**
 * The one function from an error to text, without stack traces. `line`: the line shown to the
 * user (an ActionError's message and hint; any other error's first line). `brief`: a few words
 * for a per-tag or per-source listing (the HTTP status, the registry's code and message).
 * `outside`: a connection-level error (Node, undici, TLS) quoted in a message: its text may carry
 * what a server chose (a certificate's altnames, a redirect's URL), so its first line is flattened
 * and cut to QUOTE_LIMIT, as every registry-supplied string is (escape.ts); an ActionError as `line`.
 */
export function describeError(e: unknown, form: 'line' | 'brief' | 'outside' = 'line'): string {
  if (e instanceof ActionError) {
    if (form !== 'brief') return e.line;
    const status = e.status ? `HTTP ${e.status}` : undefined;
    const code = e.code && !/^HTTP_\d+$/.test(e.code) ? e.code : undefined;
    const detail = e.detail && e.detail !== e.code && e.detail !== status ? e.detail : undefined;
    const parts = [status, code, detail].filter(Boolean);
    return parts.length ? parts.join(' ') : e.message;
  }
  const line = e instanceof Error ? (e.message.split('\n')[0] ?? String(e)) : String(e);
  return form === 'outside' ? flatLine(line, QUOTE_LIMIT) : line;
}
