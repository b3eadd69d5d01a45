/**
 * Wire types for image manifests and indexes (OCI image-spec and Docker v2 schema 2), parsing of
 * fetched manifests, and deterministic assembly of the index this action pushes.
 */
import { ActionError } from '../errors.ts';
import { jsonWithEscapes, quote } from '../escape.ts';
import type { Descriptor } from './descriptor.ts';
import type { Digest } from './digest.ts';
import type { Platform } from './platform.ts';
import { InvalidField, checkAnnotations, checkDescriptor, checkMediaType, invalidData } from './validate.ts';

export const MediaType = {
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  DockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerForeignLayer: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  OciNondistributableLayerPrefix: 'application/vnd.oci.image.layer.nondistributable.',
} as const;

/**
 * The largest manifest (image, index or referrer) read or written: what registries accept
 * (distribution's default; the spec says registries SHOULD accept at least 4 MB; GHCR, ECR and Hub
 * agree). Nothing larger is read into memory, and an index over it is refused before any write.
 */
export const MANIFEST_SIZE_LIMIT = 4 * 1024 * 1024;

/** Every manifest and index type this action reads, for the Accept header. */
export const MANIFEST_ACCEPT = [
  MediaType.OciIndex,
  MediaType.DockerList,
  MediaType.OciManifest,
  MediaType.DockerManifest,
].join(', ');

export const INDEX_TYPES: ReadonlySet<string> = new Set([MediaType.OciIndex, MediaType.DockerList]);
export const IMAGE_TYPES: ReadonlySet<string> = new Set([MediaType.OciManifest, MediaType.DockerManifest]);

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** A manifest as fetched: the exact bytes, their digest and the media type the registry declared. */
export interface FetchedManifest {
  bytes: Buffer;
  digest: Digest;
  mediaType: string;
}

export type ParsedManifest =
  | { kind: 'image'; mediaType: string; manifest: ImageManifest }
  | { kind: 'index'; mediaType: string; manifest: ImageIndex };

function invalid(what: string, where: string): ActionError {
  return ActionError.integrity(`invalid manifest from ${where}: ${what}`, {
    code: 'MANIFEST_INVALID',
    hint: 'The registry returned something that is not an image manifest or index; check the reference',
  });
}

/** Runs a validate.ts check, turning its InvalidField into this manifest's error. */
function checked<T>(where: string, check: () => T): T {
  try {
    return check();
  } catch (e) {
    if (e instanceof InvalidField) throw invalidData(e, 'manifest', where);
    throw e;
  }
}

/** Strips Content-Type parameters (`; charset=utf-8`) and case. */
export function baseMediaType(contentType: string | undefined | null): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * Parses fetched manifest bytes. The Content-Type is trusted for the kind, but a body whose own
 * mediaType contradicts it is rejected (distribution-spec: SHOULD reject).
 */
export function parseManifest(fetched: FetchedManifest, where: string): ParsedManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(fetched.bytes.toString('utf8'));
  } catch {
    throw invalid('body is not JSON', where);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid('body is not a JSON object', where);
  const m = doc as Record<string, unknown>;
  if (m.schemaVersion !== 2) throw invalid(`schemaVersion ${quote(m.schemaVersion)} is not 2`, where);
  const declared = baseMediaType(fetched.mediaType);
  if (typeof m.mediaType === 'string' && declared && m.mediaType !== declared) {
    throw invalid(`Content-Type ${quote(declared)} contradicts the body's mediaType ${quote(m.mediaType)}`, where);
  }
  const mediaType = typeof m.mediaType === 'string' ? m.mediaType : declared;
  checked(where, () => {
    if (m.mediaType !== undefined) checkMediaType(m.mediaType, 'mediaType');
    else if (declared) checkMediaType(declared, 'Content-Type');
    if (m.annotations !== undefined && m.annotations !== null) checkAnnotations(m.annotations, 'annotations');
    if (m.subject !== undefined && m.subject !== null) checkDescriptor(m.subject, 'subject');
  });
  const isIndex = INDEX_TYPES.has(mediaType) || (!IMAGE_TYPES.has(mediaType) && Array.isArray(m.manifests));
  if (isIndex) {
    if (!Array.isArray(m.manifests)) throw invalid('index has no manifests array', where);
    const manifests: unknown[] = m.manifests;
    checked(where, () => manifests.forEach((d, i) => checkDescriptor(d, `manifests[${i}]`)));
    return { kind: 'index', mediaType: mediaType || MediaType.OciIndex, manifest: m as unknown as ImageIndex };
  }
  if (!m.config) throw invalid('image manifest has no config', where);
  checked(where, () => checkDescriptor(m.config, 'config'));
  if (!Array.isArray(m.layers)) throw invalid('image manifest has no layers array', where);
  const layers: unknown[] = m.layers;
  checked(where, () => layers.forEach((d, i) => checkDescriptor(d, `layers[${i}]`)));
  return { kind: 'image', mediaType: mediaType || MediaType.OciManifest, manifest: m as unknown as ImageManifest };
}

/** Layers that must not be pushed: Docker foreign layers and OCI non-distributable layers. */
export function isNonDistributable(d: Descriptor): boolean {
  return d.mediaType === MediaType.DockerForeignLayer || d.mediaType.startsWith(MediaType.OciNondistributableLayerPrefix);
}

/** Orders a descriptor's keys so that the same content always serialises to the same bytes. */
function canonicalDescriptor(d: Descriptor): Descriptor {
  const out: Record<string, unknown> = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (d.urls?.length) out.urls = d.urls;
  if (d.artifactType) out.artifactType = d.artifactType;
  if (d.annotations && Object.keys(d.annotations).length) out.annotations = sortedRecord(d.annotations);
  if (d.platform) out.platform = canonicalPlatform(d.platform);
  return out as unknown as Descriptor;
}

function canonicalPlatform(p: Platform): Platform {
  const out: Record<string, unknown> = { architecture: p.architecture, os: p.os };
  if (p['os.version']) out['os.version'] = p['os.version'];
  if (p['os.features']?.length) out['os.features'] = p['os.features'];
  if (p.variant) out.variant = p.variant;
  if (p.features?.length) out.features = p.features;
  return out as unknown as Platform;
}

function sortedRecord(r: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export type IndexFormat = 'oci' | 'docker';

/** Serialises an index deterministically: fixed key order, sorted annotations, 2-space JSON. */
export function serializeIndex(
  format: IndexFormat,
  manifests: Descriptor[],
  annotations?: Record<string, string>,
): { bytes: Buffer; mediaType: string } {
  const mediaType = format === 'oci' ? MediaType.OciIndex : MediaType.DockerList;
  const doc: Record<string, unknown> = { schemaVersion: 2, mediaType, manifests: manifests.map(canonicalDescriptor) };
  if (annotations && Object.keys(annotations).length) {
    if (format === 'docker') {
      throw ActionError.input('a Docker manifest list cannot carry annotations', {
        hint: "Use media-type 'oci' (or 'auto') to publish an OCI image index with annotations",
      });
    }
    doc.annotations = sortedRecord(annotations);
  }
  return { bytes: Buffer.from(`${jsonWithEscapes(JSON.stringify(doc, null, 2))}\n`, 'utf8'), mediaType };
}
