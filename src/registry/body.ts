/** Reading response bodies into memory, bounded. */
import type { Readable } from 'node:stream';
import { ActionError } from '../errors.ts';

/**
 * Reads a body into memory, refusing (and discarding) anything over `limit` bytes: a hostile or
 * broken registry cannot make the action buffer an unbounded body.
 */
export async function readLimited(body: Readable, limit: number, what: string, declared?: number): Promise<Buffer> {
  if (declared !== undefined && declared > limit) {
    discardUnread(body);
    throw overLimit(`${what} is ${declared} bytes, over the limit of ${limit}`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    const buf = chunk as Buffer;
    total += buf.length;
    if (total > limit) {
      discardUnread(body);
      throw overLimit(`${what} is over the limit of ${limit} bytes`);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks, total);
}

/** Ends a body that will not be read; the abort it causes is expected, not an error. */
function discardUnread(body: Readable): void {
  body.on('error', () => undefined);
  body.destroy();
}

function overLimit(message: string): ActionError {
  return ActionError.integrity(message, { code: 'SIZE_INVALID', hint: 'Refusing to read it into memory' });
}
