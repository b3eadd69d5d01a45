/**
 * Errors built from what a registry answered, one factory per shape: an unexpected response
 * (every entry of its `errors[]` kept, sanitised and bounded) and content that does not match its
 * digest.
 */
import type { Readable } from 'node:stream';
import { ActionError, type RegistryDiagnostic } from '../errors.ts';
import { flatLine, QUOTE_LIMIT } from '../escape.ts';
import { readLimited } from './body.ts';
import { registryHint } from './hints.ts';

export const ERROR_BODY_LIMIT = 64 * 1024;
/** Bounds on what of a registry's error body reaches a message. */
const ENTRIES_LIMIT = 8;
const TOTAL_LIMIT = 1000;

/** Registry text fit for one line (src/escape.ts's flatLine), at most `limit` characters. */
const sanitize = (text: string, limit = QUOTE_LIMIT): string => flatLine(text, limit);

/**
 * Parses `{"errors":[{"code","message","detail"}]}`: every entry with a code, its fields sanitised
 * (a detail that is not a string is shown as JSON); anything else yields no entries.
 */
export function parseErrorBody(text: string): RegistryDiagnostic[] {
  let doc: { errors?: Array<{ code?: unknown; message?: unknown; detail?: unknown }> };
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch {
    return [];
  }
  if (!Array.isArray(doc?.errors)) return [];
  return doc.errors
    .filter((e) => typeof e?.code === 'string' && sanitize(e.code) !== '')
    .map((e) => {
      const entry: RegistryDiagnostic = { code: sanitize(e.code as string, 64) };
      if (typeof e.message === 'string' && sanitize(e.message)) entry.message = sanitize(e.message);
      const detail = e.detail === undefined || e.detail === null ? '' : typeof e.detail === 'string' ? e.detail : JSON.stringify(e.detail);
      if (sanitize(detail)) entry.detail = sanitize(detail);
      return entry;
    });
}

/** `CODE: message (detail); CODE2: …`, at most TOTAL_LIMIT characters. */
export function formatDiagnostics(entries: readonly RegistryDiagnostic[]): string {
  const parts = entries.slice(0, ENTRIES_LIMIT).map((e) => `${e.code}${e.message ? `: ${e.message}` : ''}${e.detail ? ` (${e.detail})` : ''}`);
  if (entries.length > ENTRIES_LIMIT) parts.push(`${entries.length - ENTRIES_LIMIT} more`);
  return sanitize(parts.join('; '), TOTAL_LIMIT);
}

/** The error code assumed for a status when the body names none. */
export const STATUS_CODES: Record<number, string> = {
  401: 'UNAUTHORIZED',
  403: 'DENIED',
  404: 'NOT_FOUND',
  405: 'UNSUPPORTED',
  413: 'SIZE_INVALID',
  429: 'TOOMANYREQUESTS',
};

export interface RequestContext {
  method: string;
  registry: string;
  repository: string;
  /** What the request was for, e.g. "fetch manifest docker.io/library/alpine:3". */
  what: string;
  /** pull or push, for permission hints. */
  access?: 'pull' | 'push';
  /** host[:port] that answered, when it is not the registry's origin (a redirect or upload location elsewhere). */
  answeredBy?: string;
}

export function hintFor(code: string, ctx: RequestContext): string | undefined {
  if (ctx.answeredBy && (code === 'UNAUTHORIZED' || code === 'DENIED')) {
    return `${ctx.answeredBy} is not ${ctx.registry}'s origin, and the registry's credentials go to the registry alone (never to a host it redirects to or names as an upload location); report it to the registry operator`;
  }
  switch (code) {
    case 'UNAUTHORIZED':
    case 'DENIED':
      return `${ctx.registry} refused ${ctx.access ?? ''} access to ${ctx.repository}: check the credentials for ${ctx.registry} (docker/login-action, or the username and password inputs) and that they may ${ctx.access ?? 'access'} ${ctx.repository}`.replace('  ', ' ');
    case 'MANIFEST_UNKNOWN':
      return 'No such manifest: check the tag or digest, and that the image was pushed';
    case 'NAME_UNKNOWN':
      return `No such repository ${ctx.registry}/${ctx.repository}`;
    case 'MANIFEST_BLOB_UNKNOWN':
      return 'A child manifest or blob is missing in the target repository';
    case 'BLOB_UNKNOWN':
      return 'A blob is missing in the repository';
    case 'TOOMANYREQUESTS':
      return `Rate limited by ${ctx.registry}: authenticate, or retry later`;
    case 'SIZE_INVALID':
      return 'The registry refused the size of what was sent';
    case 'UNSUPPORTED':
      return `${ctx.registry} does not support this operation`;
    default:
      return undefined;
  }
}

/** Builds the error for an unexpected response, reading at most 64 KiB of its body. */
export async function responseError(
  res: { status: number; body: Readable },
  ctx: RequestContext,
  expected: string,
): Promise<ActionError> {
  let entries: RegistryDiagnostic[] = [];
  try {
    entries = parseErrorBody((await readLimited(res.body, ERROR_BODY_LIMIT, 'error body')).toString('utf8'));
  } catch {
    res.body.destroy();
  }
  const code = entries[0]?.code ?? STATUS_CODES[res.status] ?? (res.status >= 500 ? 'UNAVAILABLE' : `HTTP_${res.status}`);
  const said = entries.length ? formatDiagnostics(entries) : code;
  const refused = code === 'UNAUTHORIZED' || code === 'DENIED';
  return ActionError[refused ? 'auth' : 'registry'](
    `${ctx.what} failed: ${ctx.method} ${ctx.registry}/${ctx.repository} ${ctx.answeredBy ? `was sent to ${ctx.answeredBy}, which answered` : 'answered'} HTTP ${res.status} ${said} (expected ${expected})`,
    {
      code,
      status: res.status,
      // The registry's own advice first (GHCR's package access, ECR's immutable tags, …), when it is known.
      hint: (ctx.answeredBy ? undefined : registryHint({ registry: ctx.registry, status: res.status, code, message: entries[0]?.message, access: ctx.access })) ?? hintFor(code, ctx),
      detail: entries[0]?.message ?? `HTTP ${res.status}`,
      diagnostics: entries,
    },
  );
}

/**
 * Content that does not hash to the digest it should. `what` names the content, `expected` the
 * digest it should have (and who said so), `actual` what it has.
 */
export function digestMismatch(what: string, expected: string, actual: string, hint: string): ActionError {
  return ActionError.integrity(`${what} does not match its digest: expected ${expected}, got ${actual}`, { code: 'DIGEST_INVALID', hint });
}
