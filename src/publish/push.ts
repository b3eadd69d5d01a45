/**
 * Push: everything that touches tags. The tags' states before the run (a HEAD each, started while
 * the sources resolve), the `overwrite: false` check, phase 1's tail (the index by digest into
 * every target repository), the `append` re-check, and phase 2: the identical index bytes to
 * every tag not already at the digest, in parallel. Each tag's facts live in its record
 * (result.ts TagRecord); a tag write that fails hands the records over to rollback.ts, which puts
 * back what had moved.
 */
import { mapAll } from '../concurrency.ts';
import { ActionError, describeError } from '../errors.ts';
import { log } from '../log.ts';
import type { Digest } from '../oci/digest.ts';
import type { Reference } from '../oci/reference.ts';
import type { Registries } from '../registry/registries.ts';
import type { Target } from './plan.ts';
import { type TagRecord, type TagState, digestBefore } from './result.ts';
import { observeTag, readTag } from './tag-read.ts';

/** The bytes to push and their digest. */
export interface IndexToPush {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
}

/** A tag whose state is being read: a HEAD started early, awaited before the first write. */
export interface TagRead {
  tag: Reference;
  before: Promise<TagState>;
}

/**
 * Starts a HEAD of every tag (a 404 is `absent`), one request per tag: the digest is all a run
 * needs of a tag until a failure needs its bytes, and on Docker Hub a manifest GET counts as a pull
 * while a HEAD does not ("HEAD requests aren't counted": docs.docker.com/docker-hub/download-rate-limit,
 * now docs.docker.com/docker-hub/usage/pulls, "version checks do not count").
 */
export function readTagStates(registries: Registries, tags: Reference[]): TagRead[] {
  return tags.map((tag) => {
    const before = readTag(registries, tag);
    before.catch(() => undefined); // reported when awaited
    return { tag, before };
  });
}

/** Awaits every tag's state (the first failure is thrown): one record per tag, in the tags' order. */
export async function settleTagStates(reads: TagRead[]): Promise<TagRecord[]> {
  return Promise.all(reads.map(async ({ tag, before }): Promise<TagRecord> => ({ tag, before: await before, state: { kind: 'untouched' } })));
}

/** The tag already holds the digest to publish (its write is skipped). */
const holds = (r: TagRecord, digest: Digest) => r.before.present && r.before.digest === digest;

/**
 * `overwrite: false`: the tags that exist at another digest than the one to publish. A tag
 * already at the digest is fine (a re-run on an immutable-tag registry).
 */
export function overwriteConflicts(records: readonly TagRecord[], digest: Digest): Array<{ tag: string; current: Digest }> {
  return records.flatMap(({ tag, before }) => (before.present && before.digest !== digest ? [{ tag: tag.toString(), current: before.digest }] : []));
}

export function overwriteError(conflicts: Array<{ tag: string; current: Digest }>, digest: Digest): ActionError {
  const list = conflicts.map((c) => `${c.tag} is at ${c.current}`).join('; ');
  return ActionError.conflict(`overwrite is false and ${conflicts.length === 1 ? 'a tag exists' : `${conflicts.length} tags exist`} at another digest than ${digest}: ${list}`, {
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
export async function pushIndexByDigest(registries: Registries, index: IndexToPush, targets: Target[], records: readonly TagRecord[], limit: number): Promise<boolean> {
  const inTarget = (r: TagRecord, t: Target) => r.tag.domain === t.registry && r.tag.path === t.repository;
  if (records.filter((r) => !holds(r, index.digest)).length === 1) return false;
  const needed = targets.filter((t) => !records.some((r) => inTarget(r, t) && holds(r, index.digest)));
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
export async function checkAppendBase(registries: Registries, { tag, before }: TagRecord): Promise<void> {
  const now = digestBefore(await readTag(registries, tag));
  const was = digestBefore(before);
  if (now === was) return;
  throw ActionError.conflict(
    `append: ${tag} changed while this run was publishing (${was ?? 'absent'} when read, ${now ?? 'absent'} now): another run moved it`,
    { code: 'TAG_MOVED', hint: 'Run again to append to what the tag holds now' },
  );
}

/**
 * Phase 2: writes the index to every tag not already at its digest, at most `limit` at once, and
 * waits for every write to settle; each record gets its write's outcome (a failed write's tag is
 * read again: the write may have landed). Returns whether every write succeeded; when one did not,
 * the caller hands the records to rollback.ts, which puts back what had moved.
 */
export async function pushTags(registries: Registries, index: IndexToPush, records: readonly TagRecord[], limit: number): Promise<boolean> {
  const failures: Array<{ r: TagRecord; error: unknown }> = [];
  await mapAll(records, limit, async (r) => {
    if (holds(r, index.digest)) {
      log.info(`${r.tag} already at ${index.digest}`);
      r.write = { kind: 'unchanged' };
      r.state = { kind: 'unchanged' };
      return;
    }
    try {
      await registries.client(r.tag.domain).putManifest(r.tag.path, r.tag.tag as string, index.bytes, index.mediaType);
      log.info(`${r.tag} → ${index.digest}`);
      r.write = { kind: 'moved' };
      r.state = { kind: 'moved' };
    } catch (error) {
      failures.push({ r, error });
    }
  });
  // The write may have landed anyway (the registry applied it, then the answer was lost or a
  // timeout struck), so each failed write's tag is read again once every write has settled.
  await mapAll(failures, limit, async ({ r, error }) => {
    log.info(`${r.tag}: the write failed (${describeError(error, 'brief')}); reading the tag again`);
    r.write = { kind: 'failed', error, now: await observeTag(registries, r.tag) };
  });
  return !failures.length;
}
