/**
 * The digest check of a blob being copied: a stream that hashes what passes through it and holds
 * it to its descriptor (size and digest), cutting off a source that sends more than it declares.
 */
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { ActionError } from '../errors.ts';
import type { Digest } from '../oci/digest.ts';
import { BLOB_STREAM_BUFFER } from '../registry/client.ts';
import { digestMismatch } from '../registry/response-errors.ts';

/**
 * Hashes a stream as it passes and holds it to its descriptor. The chunk that completes the
 * declared size passes on only once the whole blob has hashed to its digest, so an upload never
 * completes with wrong bytes (whatever the target checks): a mismatch fails the stream instead.
 * Past the declared size it stops: it passes on nothing more, ends its output short and drops the
 * source, so that a source that never ends its body cannot fill the target's upload (the copy then
 * fails with `overflowError`). Counts what arrives into `progress`, which the GET's deadline reads.
 */
export class DigestVerifier extends Transform {
  private readonly hash;
  readonly expected: Digest;
  readonly size: number;
  /** Bytes arrived so far (the GET's deadline and the progress lines read it). */
  readonly progress = { bytes: 0 };
  /** The source sent more than the descriptor declares. */
  overflowed = false;
  /** The stream being verified, dropped on overflow. */
  source?: { destroy(): void };
  constructor(expected: Digest, size: number) {
    super({ highWaterMark: BLOB_STREAM_BUFFER });
    this.expected = expected;
    this.size = size;
    this.hash = createHash(expected.slice(0, expected.indexOf(':')));
  }
  get bytes(): number {
    return Math.min(this.progress.bytes, this.size);
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.overflowed) return cb();
    const room = this.size - this.progress.bytes;
    this.progress.bytes += chunk.length;
    if (chunk.length > room) {
      this.overflowed = true;
      this.source?.destroy();
      this.push(null);
      return cb();
    }
    this.hash.update(chunk);
    if (chunk.length < room) return cb(null, chunk);
    const mismatch = this.mismatch();
    return mismatch ? cb(mismatch) : cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    if (this.overflowed) return cb();
    if (this.progress.bytes !== this.size) return cb(sizeMismatch(this.expected, `${this.progress.bytes} bytes, not the ${this.size} its descriptor declares`));
    // An empty blob has no completing chunk: its digest is checked here.
    cb(this.size === 0 ? this.mismatch() : undefined);
  }
  /** A verifier that fails or is dropped drops its source: an unread GET body would hold its connection until its deadline. */
  override _destroy(error: Error | null, cb: (error?: Error | null) => void): void {
    this.source?.destroy();
    cb(error);
  }
  /** The error when what was hashed (the whole blob) is not the expected digest. */
  private mismatch(): ActionError | undefined {
    const got = `${this.expected.slice(0, this.expected.indexOf(':'))}:${this.hash.digest('hex')}`;
    return got === this.expected ? undefined : digestMismatch('a blob being copied', this.expected, got, 'The source registry returned corrupted content; nothing was tagged');
  }
  /** The error of a copy whose source sent more than declared (the upload got less than declared). */
  overflowError(): ActionError {
    return sizeMismatch(this.expected, `more than the ${this.size} bytes its descriptor declares`);
  }
}

function sizeMismatch(digest: Digest, what: string): ActionError {
  return ActionError.integrity(`blob ${digest} being copied: the source sent ${what}`, {
    code: 'SIZE_INVALID',
    hint: 'The source registry returned content that does not match its manifest; nothing was tagged',
  });
}
