import { createHash } from 'node:crypto';
import { ActionError } from '../errors.ts';

/**
 * Digests as go-digest v1 validates them, with the algorithms the OCI image spec registers:
 * sha256 (64 hex) and sha512 (128 hex). sha384 is recognised by go-digest but not by OCI.
 */
const ENCODED_LENGTH: Record<string, number> = { sha256: 64, sha512: 128 };
const DIGEST_GRAMMAR = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export type Digest = `${string}:${string}`;

function digestError(message: string, sentinel: string, value: string): ActionError {
  return ActionError.reference(message, { sentinel, hint: `got '${value}'` });
}

/** Validates a digest string; throws ActionError with go-digest's messages. */
export function parseDigest(value: string): Digest {
  const i = value.indexOf(':');
  if (i <= 0 || i + 1 === value.length) {
    throw digestError('invalid checksum digest format', 'digest.ErrDigestInvalidFormat', value);
  }
  const algorithm = value.slice(0, i);
  const encoded = value.slice(i + 1);
  const length = ENCODED_LENGTH[algorithm];
  if (length === undefined) {
    if (!DIGEST_GRAMMAR.test(value)) {
      throw digestError('invalid checksum digest format', 'digest.ErrDigestInvalidFormat', value);
    }
    throw digestError('unsupported digest algorithm', 'digest.ErrDigestUnsupported', value);
  }
  if (encoded.length !== length) {
    throw digestError('invalid checksum digest length', 'digest.ErrDigestInvalidLength', value);
  }
  if (!/^[a-f0-9]+$/.test(encoded)) {
    throw digestError('invalid checksum digest format', 'digest.ErrDigestInvalidFormat', value);
  }
  return value as Digest;
}

export function sha256(data: Uint8Array | string): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Computes data's digest with the algorithm of `expected`. */
export function digestWithAlgorithmOf(expected: Digest, data: Uint8Array): Digest {
  const algorithm = expected.slice(0, expected.indexOf(':'));
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}` as Digest;
}

/**
 * The referrers fallback tag for a digest (distribution-spec): `<alg>-<encoded>` with the algorithm
 * cut to 32 characters, the encoded part to 64, and characters outside the tag set replaced by '-'.
 */
export function referrersTag(digest: string): string {
  const i = digest.indexOf(':');
  const algorithm = digest.slice(0, i).slice(0, 32);
  const encoded = digest.slice(i + 1).slice(0, 64);
  return `${algorithm}-${encoded}`.replace(/[^a-zA-Z0-9._-]/g, '-');
}
