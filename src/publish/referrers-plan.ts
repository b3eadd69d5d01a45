/**
 * Referrers plan: pure decisions, no I/O. Which images' referrers travel to which target
 * repositories (none where a target is the image's own repository: that costs nothing), which
 * attestations become referrers of which image, what goes where in one target, and whether a
 * target's fallback tag must be written for a subject.
 */
import { type IndexEntry, REFERENCE_DIGEST_ANNOTATION } from '../oci/assemble.ts';
import type { Digest } from '../oci/digest.ts';
import type { Descriptor } from '../oci/descriptor.ts';
import type { FetchedManifest } from '../oci/manifest.ts';
import { type Target, presenceKey, presenceQuestions } from './plan.ts';

/** A manifest that travels with an image: a referrer of it (or of one of its referrers), or a cosign tag. */
export interface Attached {
  /** referrer: listed by subject; cosign: copied by tag; attestation: a buildx attestation made a referrer. */
  kind: 'referrer' | 'cosign' | 'attestation';
  /** The manifest it is attached to (the image, or a referrer of it). */
  subject: Digest;
  /** Where it and its blobs are read from. */
  registry: string;
  repository: string;
  /** Its bytes (for attestations, rewritten with subject), digest and media type. */
  fetched: FetchedManifest;
  /** Its entry in the subject's referrers index (referrers and attestations). */
  descriptor?: Descriptor;
  /** cosign: the tag it is copied to (`sha256-<hex>.sig`, `.att`, `.sbom`). */
  tag?: string;
  /** attestation: its digest as an index entry, before `subject` was added. */
  from?: Digest;
}

/** What was done with one attached manifest in one target, for the summary and the output. */
export interface Travelled {
  /** The index entry (image) it travels with, and the target repository. */
  image: Digest;
  target: string;
  /**
   * image: the entry itself, which the target already held (outcome `left`); fallback-tag: the
   * target's `sha256-<hex>` tag listing the subject's referrers, which the target refused (outcome `refused`).
   */
  kind: Attached['kind'] | 'image' | 'fallback-tag';
  subject: Digest;
  digest: Digest;
  artifactType?: string;
  tag?: string;
  from?: Digest;
  /**
   * copied: written now; present: already there; kept: the target's own cosign tag differs and was
   * left alone; refused: the target would not take it (a warning named it; referrers-refused: fail
   * makes that fatal); left: the image was already in the target, whose referrers and cosign tags
   * were left as it had them (none copied from the source).
   */
  outcome: 'copied' | 'present' | 'kept' | 'refused' | 'left';
}

/** Attached manifests bound for one target repository, with the image each travels with. */
export interface AttachWork {
  target: Target;
  image: Digest;
  items: Attached[];
}

/**
 * The (target, image) pairs whose referrers and cosign tags are copied: image entries this run
 * places in a repository other than their own (absent there: not in `present`, keys of
 * presenceKey), in target then index order. An image the target already holds gets nothing from
 * a source (leftAsFound). Attestation entries have none.
 */
export function referrerCopies(targets: Target[], entries: IndexEntry[], present: ReadonlySet<string>): Array<{ target: Target; image: IndexEntry }> {
  return presenceQuestions(
    targets,
    entries.filter((e) => !e.attestation),
  )
    .filter(({ target, entry }) => !present.has(presenceKey(target, entry)))
    .map(({ target, entry }) => ({ target, image: entry }));
}

/**
 * The (target, image) pairs left as the target had them: image entries from another repository
 * that the target already held, so that a source re-serving a target image's bytes cannot attach
 * referrers or cosign tags to it there.
 */
export function leftAsFound(targets: Target[], entries: IndexEntry[], present: ReadonlySet<string>): Travelled[] {
  return presenceQuestions(
    targets,
    entries.filter((e) => !e.attestation),
  )
    .filter(({ target, entry }) => present.has(presenceKey(target, entry)))
    .map(({ target, entry }) => {
      const d = entry.descriptor.digest;
      return { image: d, target: `${target.registry}/${target.repository}`, kind: 'image', subject: d, digest: d, outcome: 'left' };
    });
}

/** Each detached attestation with the image entry it describes (by vnd.docker.reference.digest). */
export function attestationSubjects(detached: IndexEntry[], entries: IndexEntry[]): Array<{ attestation: IndexEntry; image: IndexEntry }> {
  const images = new Map(entries.filter((e) => !e.attestation).map((e) => [e.descriptor.digest as string, e]));
  return detached.flatMap((attestation) => {
    const image = images.get(attestation.descriptor.annotations?.[REFERENCE_DIGEST_ANNOTATION] ?? '');
    return image ? [{ attestation, image }] : [];
  });
}

/** The listed items (those with a descriptor) of one target, grouped by subject in first-seen order. */
export function bySubject(items: Attached[]): Map<Digest, Attached[]> {
  const groups = new Map<Digest, Attached[]>();
  for (const item of items) {
    if (!item.descriptor) continue;
    const group = groups.get(item.subject) ?? [];
    if (!group.some((g) => g.fetched.digest === item.fetched.digest)) group.push(item);
    groups.set(item.subject, group);
  }
  return groups;
}

/**
 * Whether a target's referrers API must be asked before its fallback tag is left alone: `ask`
 * when every PUT of this run's referrers came back with OCI-Subject (or none was PUT), `fallback`
 * when one came back without it (the registry did not take the subject: keep the `sha256-<hex>`
 * tag). OCI-Subject alone proves nothing: ECR answered it while listing nothing
 * (sigstore/sigstore-js#1183), so `ask` is settled by what the API lists (listedByApi).
 */
export function discoverability(puts: Array<{ subjectTracked: boolean } | undefined>): 'ask' | 'fallback' {
  return puts.every((p) => p === undefined || p.subjectTracked) ? 'ask' : 'fallback';
}

/** Whether a referrers API's answer lists every one of these digests. */
export function listsAll(listed: readonly Descriptor[] | undefined, digests: readonly Digest[]): boolean {
  if (!listed) return false;
  const there = new Set(listed.map((d) => d.digest as string));
  return digests.every((d) => there.has(d));
}

/**
 * A target's refusal of a referrer or cosign manifest (the registry does not take what it is,
 * e.g. ECR's 405 to a manifest with `subject`, aws/containers-roadmap#2783, or its 400 to a media
 * type with parameters): 405 and 415 always; 400 unless it says a blob or manifest is missing
 * (that is a failure to place, not a refusal of the kind).
 */
export function isRefusal(status: number | undefined, code: string | undefined): boolean {
  if (status === 405 || status === 415) return true;
  return status === 400 && code !== 'MANIFEST_BLOB_UNKNOWN' && code !== 'BLOB_UNKNOWN';
}
