/**
 * Plan: pure decisions, no I/O. Which target repositories the tags name, which (repository,
 * entry) pairs must be checked for presence, which entries each repository then lacks (and
 * whether they are mounted or copied), and how `append` merges what the first tag holds.
 */
import { type IndexEntry, REFERENCE_DIGEST_ANNOTATION } from '../oci/assemble.ts';
import { platformKey } from '../oci/platform.ts';
import type { Reference } from '../oci/reference.ts';

/** One target repository and the tags to push there. */
export interface Target {
  registry: string;
  repository: string;
  tags: Reference[];
}

/** What one target repository needs, as reported (result, log, CLI JSON). */
export interface TargetPlan {
  target: string;
  present: number;
  toMount: number;
  toCopy: number;
}

/** A TargetPlan with the entries to place there. */
export interface TargetNeeds extends TargetPlan {
  destination: Target;
  /** Entries the repository lacks, in index order. */
  missing: IndexEntry[];
}

/** The target repositories, in the order their first tag was given. */
export function targetsOf(tags: Reference[]): Target[] {
  const byRepository = new Map<string, Target>();
  for (const t of tags) {
    const key = `${t.domain}/${t.path}`;
    const target = byRepository.get(key) ?? { registry: t.domain, repository: t.path, tags: [] };
    target.tags.push(t);
    byRepository.set(key, target);
  }
  return [...byRepository.values()];
}

const inRepository = (e: IndexEntry, t: Target) => e.registry === t.registry && e.repository === t.repository;

/** The key of a presence fact: this manifest digest exists in this repository. */
export function presenceKey(t: Target, e: IndexEntry): string {
  return `${t.registry}/${t.repository}@${e.descriptor.digest}`;
}

/**
 * The (target, entry) pairs whose presence must be asked (a HEAD each), in target then index
 * order: every entry, except in the repository it already lives in.
 */
export function presenceQuestions(targets: Target[], entries: IndexEntry[]): Array<{ target: Target; entry: IndexEntry }> {
  return targets.flatMap((target) => entries.filter((entry) => !inRepository(entry, target)).map((entry) => ({ target, entry })));
}

/**
 * Which entries each target lacks, given the presence facts (keys of presenceKey). A missing
 * entry from the same registry is mounted, from another registry copied.
 */
export function planTargets(targets: Target[], entries: IndexEntry[], present: ReadonlySet<string>): TargetNeeds[] {
  return targets.map((t) => {
    const missing = entries.filter((e) => !inRepository(e, t) && !present.has(presenceKey(t, e)));
    const toMount = missing.filter((e) => e.registry === t.registry).length;
    return {
      target: `${t.registry}/${t.repository}`,
      present: entries.length - missing.length,
      toMount,
      toCopy: missing.length - toMount,
      destination: t,
      missing,
    };
  });
}

/**
 * Merges the entries at the first tag with new ones for `append`: a new image replaces an
 * existing one of the same platform, and that one's attestations go with it. Images first (kept,
 * then new), then attestations (kept, then new).
 */
export function mergeAppend(existing: IndexEntry[], fresh: IndexEntry[]): IndexEntry[] {
  const key = (e: IndexEntry) => (e.descriptor.platform ? platformKey(e.descriptor.platform) : '');
  const freshKeys = new Set(fresh.filter((e) => !e.attestation).map(key));
  const replaced = new Set(existing.filter((e) => !e.attestation && freshKeys.has(key(e))).map((e) => e.descriptor.digest as string));
  const kept = existing.filter((e) => {
    if (e.attestation) return !replaced.has(e.descriptor.annotations?.[REFERENCE_DIGEST_ANNOTATION] ?? '');
    return !freshKeys.has(key(e));
  });
  return [...kept.filter((e) => !e.attestation), ...fresh.filter((e) => !e.attestation), ...kept.filter((e) => e.attestation), ...fresh.filter((e) => e.attestation)];
}
