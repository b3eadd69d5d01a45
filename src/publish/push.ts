/**
 * Push: the tag phase. The identical index bytes to every tag, skipping tags already at the
 * digest. Runs only once every entry is in every target repository.
 */
import { mapAll } from '../concurrency.ts';
import { log } from '../log.ts';
import type { Digest } from '../oci/digest.ts';
import type { Reference } from '../oci/reference.ts';
import type { Registries } from '../registry/registries.ts';

/** The bytes to push and their digest. */
export interface IndexToPush {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
}

/** What each tag held before the run: a HEAD per tag, started early, awaited when pushing. */
export type CurrentDigests = Map<string, Promise<Digest | undefined>>;

/** Starts a HEAD of every tag, at most one request per tag (the registries bound them). */
export function readCurrentDigests(registries: Registries, tags: Reference[]): CurrentDigests {
  return new Map(
    tags.map((tag) => {
      const p = registries
        .client(tag.domain)
        .headManifest(tag.path, tag.tag as string)
        .then((h) => h?.digest);
      p.catch(() => undefined); // reported when awaited
      return [tag.toString(), p] as const;
    }),
  );
}

/**
 * Writes the index to every tag not already at its digest, at most `limit` at once. Returns the
 * tags written and those left unchanged, each in the order the tags were given.
 */
export async function pushTags(
  registries: Registries,
  index: IndexToPush,
  tags: Reference[],
  current: CurrentDigests,
  limit: number,
): Promise<{ pushed: string[]; unchanged: string[] }> {
  const outcome = await mapAll(tags, limit, async (tag) => {
    if ((await current.get(tag.toString())) === index.digest) {
      log.info(`${tag} already at ${index.digest}`);
      return 'unchanged' as const;
    }
    await registries.client(tag.domain).putManifest(tag.path, tag.tag as string, index.bytes, index.mediaType);
    log.info(`${tag} → ${index.digest}`);
    return 'pushed' as const;
  });
  const named = (which: 'pushed' | 'unchanged') => tags.filter((_, i) => outcome[i] === which).map(String);
  return { pushed: named('pushed'), unchanged: named('unchanged') };
}
