/**
 * Referrers (OCI 1.1) and cosign tags: pure document handling. Reading a referrers index (from
 * the API or the `sha256-<hex>` fallback tag) with bounds, the descriptor a referrer gets in such
 * an index, merging new referrers into an index already there, and attaching a `subject` to a
 * buildx attestation manifest. Everything parsed here came from a registry and is checked first.
 */
import { quote } from '../escape.ts';
import { ActionError } from '../errors.ts';
import { type Digest, referrersTag } from './digest.ts';
import type { Descriptor } from './descriptor.ts';
import { type FetchedManifest, type ImageIndex, type ImageManifest, IMAGE_TYPES, MANIFEST_SIZE_LIMIT, MediaType, parseManifest } from './manifest.ts';
import { checkMediaType } from './validate.ts';

/** Referrers read per subject at most; an index listing more is refused (not silently cut). */
export const MAX_REFERRERS = 64;
/**
 * Levels of referrers followed: 1 = the image's referrers, 2 = theirs too (a signature of an
 * SBOM). Deeper ones are not looked for, nor anything attached to signatures.
 */
export const MAX_REFERRER_DEPTH = 2;
/** The artifactType buildx attestations get as referrers (what BuildKit writes with oci-artifact=true). */
export const ATTESTATION_ARTIFACT_TYPE = 'application/vnd.docker.attestation.manifest.v1+json';
/** cosign's tags next to an image: signatures, attestations, SBOMs (`sha256-<hex>.sig`, …). */
export const COSIGN_SUFFIXES = ['sig', 'att', 'sbom'] as const;
export type CosignSuffix = (typeof COSIGN_SUFFIXES)[number];

/** Referrers are manifests this action can place: image manifests (artifacts are OCI manifests). */
const REFERRER_TYPES: ReadonlySet<string> = IMAGE_TYPES;
/** A media type (RFC 6838 type/subtype), as image-spec requires of artifactType. */
export function isMediaType(v: unknown): v is string {
  try {
    checkMediaType(v, 'artifactType', true);
    return true;
  } catch {
    return false;
  }
}

/**
 * Tags this action never pushes an index to: the names the referrers fallback
 * (`sha256-<hex>`, a sha512 digest cut to 64 hex characters) and cosign (`.sig`, `.att`, `.sbom`)
 * use, which hold another image's referrers and signatures. A shorter `sha256-…` tag is allowed.
 */
const RESERVED_TAG = new RegExp(`^(sha256|sha512)-[0-9a-f]{64}(\\.(${COSIGN_SUFFIXES.join('|')}))?$`);

export function isReservedTag(tag: string): boolean {
  return RESERVED_TAG.test(tag);
}

export function cosignTag(subject: Digest, suffix: CosignSuffix): string {
  return `${referrersTag(subject)}.${suffix}`;
}

/** The descriptors a referrers index lists that can be copied, and why the others cannot. */
export interface ListedReferrers {
  descriptors: Descriptor[];
  skipped: string[];
}

/**
 * Reads a referrers index (API answer or fallback tag): an index (parseManifest checks every
 * descriptor) of at most MAX_REFERRERS entries, each an image manifest of a plausible size.
 * Entries listed twice are read once.
 */
export function readReferrersIndex(fetched: FetchedManifest, where: string): ListedReferrers {
  const parsed = parseManifest(fetched, where);
  if (parsed.kind !== 'index') {
    throw ActionError.integrity(`the referrers of ${where} are not an index (${quote(parsed.mediaType)})`, { code: 'MANIFEST_INVALID', hint: 'Set referrers: skip to publish without them' });
  }
  const listed = parsed.manifest.manifests;
  if (listed.length > MAX_REFERRERS) {
    throw ActionError.limit(`${where} lists ${listed.length} referrers, more than the ${MAX_REFERRERS} this action copies`, {
      hint: 'Set referrers: skip to publish without them, and copy them with oras or regctl',
    });
  }
  const descriptors: Descriptor[] = [];
  const skipped: string[] = [];
  const seen = new Set<string>();
  for (const d of listed) {
    if (seen.has(d.digest)) continue;
    seen.add(d.digest);
    if (!REFERRER_TYPES.has(d.mediaType)) skipped.push(`${d.digest}: media type ${quote(d.mediaType)} is not an image manifest`);
    else if (d.size > MANIFEST_SIZE_LIMIT) skipped.push(`${d.digest}: ${d.size} bytes, larger than a manifest may be`);
    else descriptors.push({ mediaType: d.mediaType, digest: d.digest, size: d.size });
  }
  return { descriptors, skipped };
}

/** A referrer manifest as read by digest: parsed, and checked to refer to `subject` when given. */
export function readReferrer(fetched: FetchedManifest, where: string, subject?: Digest): ImageManifest {
  const parsed = parseManifest(fetched, where);
  if (parsed.kind !== 'image') {
    throw ActionError.integrity(`referrer ${where} is an index; only image manifests are copied as referrers`, { code: 'MANIFEST_INVALID' });
  }
  const m = parsed.manifest;
  if (subject !== undefined && m.subject?.digest !== subject) {
    throw ActionError.integrity(`referrer ${where} does not name ${subject} as its subject`, { code: 'MANIFEST_INVALID' });
  }
  if (m.artifactType !== undefined && !isMediaType(m.artifactType)) {
    throw ActionError.integrity(`referrer ${where} has an artifactType that is not a media type (${quote(m.artifactType)})`, { code: 'MANIFEST_INVALID' });
  }
  return m;
}

/**
 * The descriptor a referrer gets in a referrers index (distribution-spec): its media type,
 * digest and size from the bytes, `artifactType` (or the config's media type), its annotations.
 */
export function referrerDescriptor(fetched: FetchedManifest, manifest: ImageManifest): Descriptor {
  const artifactType = manifest.artifactType ?? manifest.config.mediaType;
  const d: Descriptor = { mediaType: fetched.mediaType, digest: fetched.digest, size: fetched.bytes.length };
  if (isMediaType(artifactType)) d.artifactType = artifactType;
  // parseManifest checked them: strings only.
  if (manifest.annotations && Object.keys(manifest.annotations).length) d.annotations = manifest.annotations;
  return d;
}

/**
 * A fallback-tag index with `add` merged in: the entries already there kept as they are, each
 * new descriptor appended unless its digest is listed. Undefined when nothing is new (no write).
 */
export function mergeReferrers(existing: ImageIndex | undefined, add: Descriptor[]): { bytes: Buffer; added: Descriptor[] } | undefined {
  const doc: ImageIndex = existing ? { ...existing, manifests: [...existing.manifests] } : { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
  const listed = new Set(doc.manifests.map((d) => d.digest as string));
  const added: Descriptor[] = [];
  for (const d of add) {
    if (listed.has(d.digest)) continue;
    listed.add(d.digest);
    added.push(d);
  }
  if (!added.length) return undefined;
  doc.mediaType ??= MediaType.OciIndex;
  doc.manifests.push(...added);
  return { bytes: Buffer.from(JSON.stringify(doc)), added };
}

/**
 * A buildx attestation manifest made a referrer of its image: `artifactType` and `subject` added
 * (its other fields kept in order). Its digest changes; the same input always gives the same bytes.
 */
export function attachSubject(attestation: Buffer, subject: Descriptor, where: string): Buffer {
  let doc: unknown;
  try {
    doc = JSON.parse(attestation.toString('utf8'));
  } catch {
    doc = undefined;
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw ActionError.integrity(`attestation ${where} is not a JSON object`, { code: 'MANIFEST_INVALID' });
  }
  const { artifactType: _a, subject: _s, ...rest } = doc as Record<string, unknown>;
  return Buffer.from(JSON.stringify({ ...rest, artifactType: ATTESTATION_ARTIFACT_TYPE, subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size } }));
}
