/**
 * Registry error responses → one-line ActionErrors with the distribution-spec code and a hint.
 */
import type { Readable } from 'node:stream';
import { ActionError } from '../errors.ts';

export const ERROR_BODY_LIMIT = 64 * 1024;

/**
 * Reads a body into memory, refusing (and discarding) anything over `limit` bytes: a hostile or
 * broken registry cannot make the action buffer an unbounded body.
 */
export async function readLimited(body: Readable, limit: number, what: string, declared?: number): Promise<Buffer> {
  if (declared !== undefined && declared > limit) {
    body.destroy();
    throw new ActionError(`${what} is ${declared} bytes, over the limit of ${limit}`, {
      kind: 'integrity',
      code: 'SIZE_INVALID',
      hint: 'Refusing to read it into memory',
    });
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    const buf = chunk as Buffer;
    total += buf.length;
    if (total > limit) {
      body.destroy();
      throw new ActionError(`${what} is over the limit of ${limit} bytes`, {
        kind: 'integrity',
        code: 'SIZE_INVALID',
        hint: 'Refusing to read it into memory',
      });
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks, total);
}

export interface RegistryErrorEntry {
  code: string;
  message?: string;
}

/** Parses `{"errors":[{"code","message","detail"}]}`; anything else yields no entries. */
export function parseErrorBody(text: string): RegistryErrorEntry[] {
  try {
    const doc = JSON.parse(text) as { errors?: Array<{ code?: unknown; message?: unknown }> };
    if (!Array.isArray(doc.errors)) return [];
    return doc.errors
      .filter((e) => typeof e?.code === 'string' && e.code !== '')
      .map((e) => ({ code: e.code as string, message: typeof e.message === 'string' ? e.message : undefined }));
  } catch {
    return [];
  }
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
}

export function hintFor(code: string, ctx: RequestContext): string | undefined {
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
  let entries: RegistryErrorEntry[] = [];
  try {
    const text = (await readLimited(res.body, ERROR_BODY_LIMIT, 'error body')).toString('utf8');
    entries = parseErrorBody(text);
  } catch {
    res.body.destroy();
  }
  const first = entries[0];
  const code = first?.code ?? STATUS_CODES[res.status] ?? (res.status >= 500 ? 'UNAVAILABLE' : `HTTP_${res.status}`);
  const message = first?.message ? `: ${first.message}` : '';
  return new ActionError(
    `${ctx.what} failed: ${ctx.method} ${ctx.registry}/${ctx.repository} answered HTTP ${res.status} ${code}${message} (expected ${expected})`,
    {
      kind: code === 'UNAUTHORIZED' || code === 'DENIED' ? 'auth' : 'registry',
      code,
      status: res.status,
      hint: hintFor(code, ctx),
      detail: first?.message ?? `HTTP ${res.status}`,
    },
  );
}
