/**
 * The `metadata` output (and the CLI's --metadata-file): one JSON object with
 * docker/build-push-action's keys where they exist, so signing, attesting and deploying steps
 * written for that action read this one's result too.
 */
import type { PublishResult } from './publish/result.ts';
import type { Reference } from './oci/reference.ts';

export interface Metadata {
  'containerimage.digest': string;
  'containerimage.descriptor': { mediaType: string; digest: string; size: number };
  /** The tags now at the digest, comma-separated (build-push-action: the names pushed). */
  'image.name': string;
  tags: string[];
  'platform-digests': PublishResult['platformDigests'];
  referrers: PublishResult['referrers'];
}

/** The tags that point at the digest after the run (written, or already there), in the order given. */
export function tagsAtDigest(result: Pick<PublishResult, 'pushed' | 'unchanged'>, tags: Reference[]): string[] {
  const at = new Set([...result.pushed, ...result.unchanged]);
  return tags.map(String).filter((t) => at.has(t));
}

export function metadataOf(result: PublishResult, tags: Reference[]): Metadata {
  const written = tagsAtDigest(result, tags);
  return {
    'containerimage.digest': result.digest,
    'containerimage.descriptor': { mediaType: result.mediaType, digest: result.digest, size: Buffer.byteLength(result.manifest, 'utf8') },
    'image.name': written.join(','),
    tags: written,
    'platform-digests': result.platformDigests,
    referrers: result.referrers,
  };
}
