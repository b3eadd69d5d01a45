/**
 * The project's one error type. Every failure the action reports is an ActionError carrying
 * enough to write one clear line: what failed, on which reference, the registry's error code,
 * and what to do about it.
 */
export type ErrorKind =
  | 'input' // bad input: fails before any network write
  | 'reference' // a reference that does not parse
  | 'platform' // a platform string that does not parse
  | 'registry' // the registry answered with an error
  | 'network' // connection-level failure after retries
  | 'integrity' // digest or size mismatch, hostile response
  | 'auth'; // credentials refused or missing

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
  /** The registry answered with an error, or an answer this action refuses. */
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
  /** Credentials refused or missing. */
  static auth(message: string, details: Details = {}): ActionError {
    return new ActionError(message, { ...details, kind: 'auth' });
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

/** Describes any thrown value in one line, without stack traces. */
export function describeError(e: unknown): string {
  if (e instanceof ActionError) return e.line;
  if (e instanceof Error) return e.message.split('\n')[0] ?? String(e);
  return String(e);
}
