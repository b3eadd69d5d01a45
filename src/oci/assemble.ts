/**
 * Index assembly: pure code from resolved index entries to the index document. Deterministic: the same
 * inputs always give the same bytes.
 */
import type { Readable } from 'node:stream';
import { ActionError } from '../errors.ts';
import { type DescriptorAnnotation, descriptorAnnotationsFor, hasAnnotations } from './annotations.ts';
import type { Descriptor } from './descriptor.ts';
import { type IndexFormat, MANIFEST_SIZE_LIMIT, MediaType, serializeIndex } from './manifest.ts';
import { type Platform, formatPlatform, formatPlatformAll, platformKey } from './platform.ts';

export const ATTESTATION_TYPE = 'attestation-manifest';
export const REFERENCE_TYPE_ANNOTATION = 'vnd.docker.reference.type';
export const REFERENCE_DIGEST_ANNOTATION = 'vnd.docker.reference.digest';

/** One entry of the index to be, with where it came from. */
export interface IndexEntry {
  descriptor: Descriptor;
  /**
   * The source line it came from, as written (SourceSpec.line), or `<tag> (existing)` for an entry
   * kept by append: for messages and the summary.
   */
  line: string;
  /** Where the manifest it points at lives now. */
  registry: string;
  repository: string;
  attestation: boolean;
  /** That manifest's bytes, when already fetched. */
  manifestBytes?: Buffer;
  /** Set when the entry was read from an OCI layout: its blobs come from there, not a registry. */
  layout?: BlobSource;
}

/** Where the blobs of an entry read from files come from (src/layout.ts). */
export interface BlobSource {
  openBlob(blob: Descriptor): Readable;
}

/** buildx's attestation manifests: an index entry whose reference type is `attestation-manifest`. */
export function isAttestation(d: Pick<Descriptor, 'annotations'>): boolean {
  return d.annotations?.[REFERENCE_TYPE_ANNOTATION] === ATTESTATION_TYPE;
}

export interface AssembleOptions {
  mediaType: 'auto' | 'oci' | 'docker';
  /** referrers: left out of the index, returned as `detached` to be attached to their images. */
  attestations: 'keep' | 'drop' | 'referrers';
  requirePlatforms: Platform[];
  indexAnnotations: Record<string, string>;
  descriptorAnnotations: DescriptorAnnotation[];
}

export interface AssembledIndex {
  bytes: Buffer;
  mediaType: string;
  format: IndexFormat;
  entries: IndexEntry[];
  /** os[(os.version+features)]/arch[/variant] of each image entry, in index order. */
  platforms: string[];
  /** With attestations: referrers, the attestations left out (each names an image in `entries`). */
  detached: IndexEntry[];
}

/**
 * Orders entries (images in input order, then attestations in the same order), refuses duplicate
 * platforms and missing required ones, picks the format and serialises.
 */
export function assembleIndex(input: IndexEntry[], options: AssembleOptions): AssembledIndex {
  const images = input.filter((c) => !c.attestation);
  const imageDigests = new Set(images.map((c) => c.descriptor.digest));
  let attestations = input.filter((c) => c.attestation);
  if (options.attestations === 'drop') attestations = [];
  // An attestation is kept only while the image it describes is in the result.
  attestations = attestations.filter((a) => {
    const subject = a.descriptor.annotations?.[REFERENCE_DIGEST_ANNOTATION];
    return !subject || imageDigests.has(subject as Descriptor['digest']);
  });
  let detached: IndexEntry[] = [];
  if (options.attestations === 'referrers') {
    // Only an attestation that names its image can become that image's referrer.
    detached = attestations.filter((a) => a.descriptor.annotations?.[REFERENCE_DIGEST_ANNOTATION] !== undefined);
    attestations = [];
  }

  const byPlatform = new Map<string, IndexEntry>();
  for (const c of images) {
    const p = c.descriptor.platform;
    if (!p) {
      throw ActionError.input(`source '${c.line}' has an image ${c.descriptor.digest} with no platform`, {
        hint: 'Give one with platform=os/arch[/variant] after the reference',
      });
    }
    const key = platformKey(p);
    const other = byPlatform.get(key);
    if (other) {
      throw ActionError.input(
        `two images have platform ${formatPlatform(p)}${p['os.version'] ? ` (os.version ${p['os.version']})` : ''}: '${other.line}' and '${c.line}'`,
        { hint: 'Each platform may appear once in an index: remove one source, or set platform=… to tell them apart' },
      );
    }
    byPlatform.set(key, c);
  }
  for (const required of options.requirePlatforms) {
    const found = images.some((c) => platformSatisfies(c.descriptor.platform as Platform, required));
    if (!found) {
      throw ActionError.input(`required platform ${formatPlatform(required)} is not among the sources (${images.map((c) => formatPlatform(c.descriptor.platform as Platform)).join(', ')})`, {
        hint: 'Add a source for it, or remove it from require-platforms',
      });
    }
  }

  const annotated = hasAnnotations(options);
  const entries = [...images, ...attestations];
  let format: IndexFormat;
  if (options.mediaType === 'oci') format = 'oci';
  else if (options.mediaType === 'docker') {
    if (annotated) {
      throw ActionError.input('annotations were given, but media-type is docker: a Docker manifest list cannot carry them', {
        hint: "Use media-type 'auto' or 'oci' to publish an OCI image index, or remove the annotations",
      });
    }
    refuseInDockerList(entries);
    format = 'docker';
  } else {
    const allDocker = entries.every((c) => c.descriptor.mediaType === MediaType.DockerManifest);
    format = allDocker && !annotated && entries.length > 0 ? 'docker' : 'oci';
  }

  const descriptors = entries.map((c) => {
    const given = descriptorAnnotationsFor(options.descriptorAnnotations, c.descriptor.platform);
    // An attestation's own annotations say what it is: an input does not override them.
    const annotations = c.attestation ? { ...given, ...c.descriptor.annotations } : { ...c.descriptor.annotations, ...given };
    const d: Descriptor = { ...c.descriptor };
    if (Object.keys(annotations).length) d.annotations = annotations;
    else delete d.annotations;
    if (format === 'docker') delete d.annotations;
    return d;
  });
  const { bytes, mediaType } = serializeIndex(format, descriptors, format === 'oci' ? options.indexAnnotations : undefined);
  refuseOversize(bytes, entries, descriptors);
  return {
    bytes,
    mediaType,
    format,
    entries,
    // containerd's full form: two Windows versions of one architecture stay apart.
    platforms: images.map((c) => formatPlatformAll(c.descriptor.platform as Platform)),
    detached,
  };
}

/**
 * A Docker manifest list holds Docker image manifests only: an OCI manifest in it is not what
 * Docker's schema allows, and an attestation entry would lose the `vnd.docker.reference.*`
 * annotations that say what it is, leaving an anonymous unknown/unknown image.
 */
function refuseInDockerList(entries: IndexEntry[]): void {
  const attestation = entries.find((c) => c.attestation);
  if (attestation) {
    throw ActionError.input(`media-type is docker, but '${attestation.line}' brings an attestation manifest (${attestation.descriptor.digest}): a Docker manifest list cannot say what it is`, {
      hint: "Use media-type 'auto' or 'oci' to keep attestations in an OCI image index, or set attestations: drop",
    });
  }
  const oci = entries.find((c) => c.descriptor.mediaType !== MediaType.DockerManifest);
  if (oci) {
    throw ActionError.input(`media-type is docker, but '${oci.line}' is a ${oci.descriptor.mediaType} (${oci.descriptor.digest}), not a Docker image manifest`, {
      hint: "Use media-type 'auto' or 'oci' to publish an OCI image index, or build the sources as Docker manifests (buildx: --output type=image,oci-mediatypes=false)",
    });
  }
}

/** Refuses, before anything is written, an index that the registry would refuse at the tag PUT. */
function refuseOversize(bytes: Buffer, entries: IndexEntry[], descriptors: Descriptor[]): void {
  if (bytes.length <= MANIFEST_SIZE_LIMIT) return;
  const annotationBytes = descriptors.reduce((n, d) => n + Buffer.byteLength(JSON.stringify(d.annotations ?? {})), 0);
  const attestations = entries.filter((c) => c.attestation).length;
  throw ActionError.limit(
    `the index would be ${bytes.length} bytes, over the ${MANIFEST_SIZE_LIMIT} bytes (4 MiB) a registry accepts for a manifest: it has ${entries.length} entries (${attestations} attestations) and ${annotationBytes} bytes of descriptor annotations; nothing was written`,
    { code: 'SIZE_INVALID', hint: 'Publish fewer entries per index (split the platforms over several tags), drop attestations (attestations: drop), or shorten the descriptor annotations' },
  );
}

/** A required platform is satisfied by an image with the same os/arch and, if given, variant. */
export function platformSatisfies(p: Platform, required: Platform): boolean {
  if (p.os !== required.os || p.architecture !== required.architecture) return false;
  if (required.variant && (p.variant ?? '') !== required.variant) {
    // arm64 without a variant is v8.
    if (!(required.architecture === 'arm64' && required.variant === 'v8' && !p.variant)) return false;
  }
  if (required['os.version'] && p['os.version'] !== required['os.version']) return false;
  return true;
}
