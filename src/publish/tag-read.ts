/**
 * Reading a tag: what it holds now, with a HEAD (a GET only when the registry sends no
 * Docker-Content-Digest). Used for the tags' states before the run, the `append` re-check, a
 * failed write's tag, and rollback's re-read before it puts a tag back or deletes it.
 */
import { describeError } from '../errors.ts';
import type { Reference } from '../oci/reference.ts';
import type { Registries } from '../registry/registries.ts';
import type { Observed, TagState } from './result.ts';

/**
 * What a tag holds now: a HEAD (404: absent); a GET only when the registry sends no
 * Docker-Content-Digest (the spec's SHOULD), the digest then computed from the bytes.
 */
export async function readTag(registries: Registries, tag: Reference): Promise<TagState> {
  const client = registries.client(tag.domain);
  const head = await client.headManifest(tag.path, tag.tag as string);
  if (!head) return { present: false };
  if (head.digest) return { present: true, digest: head.digest, mediaType: head.mediaType, size: head.size };
  const m = await client.getManifest(tag.path, tag.tag as string, `read the current state of ${tag}`);
  return { present: true, digest: m.digest, mediaType: m.mediaType, size: m.bytes.length };
}

/** readTag, with a failure kept as the reason the tag could not be read. */
export async function observeTag(registries: Registries, tag: Reference): Promise<Observed> {
  try {
    const now = await readTag(registries, tag);
    return now.present ? { present: true, digest: now.digest } : { present: false };
  } catch (e) {
    return { unknown: describeError(e, 'brief') };
  }
}
