/**
 * Push: everything that touches tags. The tags' states before the run (a GET each, started while
 * the sources resolve), the `overwrite: false` check, phase 1's tail (the index by digest into
 * every target repository), the `append` re-check, and phase 2: the identical index bytes to
 * every tag not already at the digest, in parallel. A tag write that fails hands over to
 * rollback.ts, which puts back what had moved.
 */
import { mapAll, mapSettled } from '../concurrency.ts';
import { ActionError } from '../errors.ts';
import { log } from '../log.ts';
import type { Digest } from '../oci/digest.ts';
import type { Reference } from '../oci/reference.ts';
import type { Registries } from '../registry/registries.ts';
import type { Target } from './plan.ts';
import { type Observed, type WriteOutcome, rollBack, short } from './rollback.ts';

/** The bytes to push and their digest. */
export interface IndexToPush {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
}

/** What a tag held before the run: nothing, or a manifest whose exact bytes can be put back. */
export type TagState = { present: false } | { present: true; digest: Digest; bytes: Buffer; mediaType: string };

/** Every tag's state, by `tag.toString()`: GETs started early, awaited before the first write. */
export type TagStates = Map<string, Promise<TagState>>;

/**
 * Starts a GET of every tag (a 404 is `absent`), one request per tag. A GET rather than a HEAD:
 * the bytes are what a failed run puts back. (On Docker Hub a GET counts as a pull.)
 */
export function readTagStates(registries: Registries, tags: Reference[]): TagStates {
  return new Map(
    tags.map((tag) => {
      const p = registries
        .client(tag.domain)
        .getManifest(tag.path, tag.tag as string, `read the current state of ${tag}`)
        .then(
          (m): TagState => ({ present: true, digest: m.digest, bytes: m.bytes, mediaType: m.mediaType }),
          (e: unknown): TagState => {
            if (e instanceof ActionError && e.status === 404) return { present: false };
            throw e;
          },
        );
      p.catch(() => undefined); // reported when awaited
      return [tag.toString(), p] as const;
    }),
  );
}

/** Awaits every tag's state, in the tags' order (the first failure is thrown). */
export async function settleTagStates(tags: Reference[], states: TagStates): Promise<TagState[]> {
  return Promise.all(tags.map((t) => states.get(t.toString()) as Promise<TagState>));
}

/**
 * `overwrite: false`: the tags that exist at another digest than the one to publish. A tag
 * already at the digest is fine (a re-run on an immutable-tag registry).
 */
export function overwriteConflicts(tags: Reference[], before: TagState[], digest: Digest): Array<{ tag: string; current: Digest }> {
  return tags.flatMap((t, i) => {
    const s = before[i] as TagState;
    return s.present && s.digest !== digest ? [{ tag: t.toString(), current: s.digest }] : [];
  });
}

export function overwriteError(conflicts: Array<{ tag: string; current: Digest }>, digest: Digest): ActionError {
  const list = conflicts.map((c) => `${c.tag} is at ${c.current}`).join('; ');
  return ActionError.input(`overwrite is false and ${conflicts.length === 1 ? 'a tag exists' : `${conflicts.length} tags exist`} at another digest than ${digest}: ${list}`, {
    code: 'TAG_EXISTS',
    hint: 'Publish to a new tag, or set overwrite: true to move these tags',
  });
}

/**
 * Phase 1's tail: the index PUT by digest into every target repository, so that phase 2 only
 * moves tags, and a refusal of the index (auth, quota, schema, size, no OCI index support)
 * surfaces before any tag moves. A repository where a tag is already at the digest holds the
 * index already. When at most one tag moves, that tag's PUT is the first and only write that can
 * fail, so the extra round trip would protect nothing: it is skipped. Returns whether the index is
 * now in every target repository.
 */
export async function pushIndexByDigest(registries: Registries, index: IndexToPush, targets: Target[], states: Map<string, TagState>, limit: number): Promise<boolean> {
  const atDigest = (tag: Reference) => {
    const s = states.get(tag.toString());
    return Boolean(s?.present && s.digest === index.digest);
  };
  const moving = targets.flatMap((t) => t.tags).filter((tag) => !atDigest(tag));
  if (moving.length === 1) return false;
  const needed = targets.filter((t) => !t.tags.some(atDigest));
  await mapAll(needed, limit, async (t) => {
    await registries.client(t.registry).putManifest(t.repository, index.digest, index.bytes, index.mediaType);
    log.info(`${t.registry}/${t.repository}@${index.digest}: index in place`);
  });
  return true;
}

/**
 * `append`: the first tag must still hold the index the new one was built from. Re-read just
 * before the tags move (a HEAD); a change since the first read fails the run with no tag moved.
 */
export async function checkAppendBase(registries: Registries, tag: Reference, before: TagState): Promise<void> {
  const client = registries.client(tag.domain);
  const head = await client.headManifest(tag.path, tag.tag as string);
  let now: Digest | undefined = head?.digest;
  if (head && !now) now = (await client.getManifest(tag.path, tag.tag as string, `re-read ${tag}`)).digest; // no Docker-Content-Digest
  const was = before.present ? before.digest : undefined;
  if (now === was) return;
  throw ActionError.registry(
    `append: ${tag} changed while this run was publishing (${was ?? 'absent'} when read, ${now ?? 'absent'} now): another run moved it`,
    { code: 'TAG_MOVED', hint: 'Run again to append to what the tag holds now' },
  );
}

/**
 * Phase 2: writes the index to every tag not already at its digest, at most `limit` at once, and
 * waits for every write to settle. When one fails, the tags already moved are put back
 * (rollback.ts) and the whole outcome is thrown as a TagsFailedError.
 */
export async function pushTags(
  registries: Registries,
  index: IndexToPush,
  tags: Reference[],
  before: TagState[],
  limit: number,
  insecure: (registry: string) => boolean,
): Promise<{ pushed: string[]; unchanged: string[] }> {
  const settled = await mapSettled(tags, limit, async (tag, i): Promise<'unchanged' | 'moved'> => {
    const s = before[i] as TagState;
    if (s.present && s.digest === index.digest) {
      log.info(`${tag} already at ${index.digest}`);
      return 'unchanged';
    }
    await registries.client(tag.domain).putManifest(tag.path, tag.tag as string, index.bytes, index.mediaType);
    log.info(`${tag} → ${index.digest}`);
    return 'moved';
  });
  if (settled.some((s) => s.status === 'rejected')) {
    const outcomes: WriteOutcome[] = await mapAll(settled, limit, async (s, i) => {
      if (s.status === 'fulfilled') return { kind: s.value };
      const tag = tags[i] as Reference;
      log.info(`${tag}: the write failed (${short(s.reason)}); reading the tag again`);
      return { kind: 'failed', error: s.reason, now: await reread(registries, tag) };
    });
    throw await rollBack(registries, index, tags, before, outcomes, limit, insecure);
  }
  const named = (which: 'moved' | 'unchanged') => tags.filter((_, i) => (settled[i] as PromiseFulfilledResult<string>).value === which).map(String);
  return { pushed: named('moved'), unchanged: named('unchanged') };
}

/**
 * What a tag holds after a failed write: the write may have landed anyway (the registry applied
 * it, then the answer was lost or a timeout struck), so the tag is read again.
 */
async function reread(registries: Registries, tag: Reference): Promise<Observed> {
  try {
    const client = registries.client(tag.domain);
    const head = await client.headManifest(tag.path, tag.tag as string);
    if (!head) return { present: false };
    return { present: true, digest: head.digest ?? (await client.getManifest(tag.path, tag.tag as string, `re-read ${tag}`)).digest };
  } catch (e) {
    return { unknown: short(e) };
  }
}
