/**
 * OCI image layouts as sources: `oci-layout://DIR[:TAG|@DIGEST]`, a directory as
 * `docker buildx build --output type=oci,tar=false` and `skopeo copy … oci:DIR:TAG` write it
 * (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`). Every file is read under the file rules of
 * src/files.ts (regular files, real path under the workspace or RUNNER_TEMP, bounded); manifests and
 * configs are checked against their digests when read, and layers when streamed to a registry.
 * A layout holding an index contributes its entries as any index source does.
 */
import { closeSync, createReadStream, readSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { MAX_SOURCE_INDEX_ENTRIES, budgetExceeded } from './budgets.ts';
import { ActionError } from './errors.ts';
import { type FileRoots, openRegularFile, readBoundedFile } from './files.ts';
import { type IndexEntry, isAttestation } from './oci/assemble.ts';
import { platformFromConfig } from './oci/config.ts';
import { type Digest, sha256 } from './oci/digest.ts';
import type { Descriptor } from './oci/descriptor.ts';
import { IMAGE_TYPES, INDEX_TYPES, MANIFEST_SIZE_LIMIT, parseManifest } from './oci/manifest.ts';
import { type Platform, compact } from './oci/platform.ts';
import { checkDescribes } from './oci/validate.ts';
import { digestMismatch } from './registry/response-errors.ts';

export const LAYOUT_SCHEME = 'oci-layout://';
/** The annotation skopeo, buildx and umoci give an index.json entry for its tag. */
const REF_NAME = 'org.opencontainers.image.ref.name';
/** The registry name of entries read from a layout: never a registry's host, so never mounted from. */
export const LAYOUT_REGISTRY = 'oci-layout:';

/** One `oci-layout://` source line. */
export interface LayoutSpec {
  /** The line as written. */
  line: string;
  /** The directory as written, and resolved against the workspace. */
  dir: string;
  path: string;
  tag?: string;
  digest?: Digest;
  /** `sources`, or the source file the line was read from. */
  origin: string;
  /** Where its files may lie. */
  roots: FileRoots;
}

export function isLayoutLine(line: string): boolean {
  return line.startsWith(LAYOUT_SCHEME);
}

function invalidLine(line: string, why: string): ActionError {
  return ActionError.input(`Invalid source '${line}' (${why}). Expected oci-layout://DIR, oci-layout://DIR:TAG or oci-layout://DIR@sha256:<64 hex>, DIR relative to the workspace`);
}

/** Parses `oci-layout://DIR[:TAG|@DIGEST]`. */
export function parseLayoutLine(line: string, origin: string, workspace: string, roots: FileRoots): LayoutSpec {
  let rest = line.slice(LAYOUT_SCHEME.length);
  if (/\s/.test(rest)) throw invalidLine(line, 'options such as platform= do not apply to a layout: its index or config says the platform');
  let tag: string | undefined;
  let digest: Digest | undefined;
  const at = /@(sha256:[a-f0-9]{64})$/.exec(rest);
  if (at) {
    digest = at[1] as Digest;
    rest = rest.slice(0, at.index);
  } else if (rest.includes('@')) {
    throw invalidLine(line, 'a digest must be sha256:<64 lowercase hex>');
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon > rest.lastIndexOf('/') && colon !== -1) {
      tag = rest.slice(colon + 1);
      rest = rest.slice(0, colon);
      if (!/^[\w][\w.-]{0,127}$/.test(tag)) throw invalidLine(line, `'${tag}' is not a tag`);
    }
  }
  if (!rest) throw invalidLine(line, 'no directory');
  return { line, dir: rest, path: resolve(workspace, rest), tag, digest, origin, roots };
}

/** A layout's files, read under the file rules. */
export class Layout {
  readonly spec: LayoutSpec;
  constructor(spec: LayoutSpec) {
    this.spec = spec;
  }

  private blobPath(digest: Digest): { path: string; shownAs: string } {
    const [alg, hex] = digest.split(':') as [string, string];
    return { path: join(this.spec.path, 'blobs', alg, hex), shownAs: `${this.spec.dir}/blobs/${alg}/${hex}` };
  }

  /** A manifest or config, whole (at most what a registry takes for a manifest), checked against its digest (and size, when known). */
  readDocument(digest: Digest, size: number | undefined): Buffer {
    const { path, shownAs } = this.blobPath(digest);
    const { fd, size: onDisk } = openRegularFile(path, shownAs, this.spec.roots, MANIFEST_SIZE_LIMIT);
    try {
      if (size !== undefined && onDisk !== size) throw this.sizeMismatch(digest, size, onDisk);
      const buf = Buffer.alloc(onDisk);
      let n = 0;
      for (let got = -1; got !== 0 && n < onDisk; n += got) got = readSync(fd, buf, n, onDisk - n, n);
      const bytes = buf.subarray(0, n);
      const got = sha256(bytes);
      if (got !== digest) throw digestMismatch(`${this.spec.line}: ${shownAs}`, digest, got, 'The layout is corrupt: write it again');
      return bytes;
    } finally {
      closeSync(fd);
    }
  }

  /** A blob as a stream of its bytes (verified against its digest by whoever uploads it). */
  openBlob(blob: Descriptor): Readable {
    const { path, shownAs } = this.blobPath(blob.digest);
    const { fd, size } = openRegularFile(path, shownAs, this.spec.roots, Number.MAX_SAFE_INTEGER);
    if (size !== blob.size) {
      closeSync(fd);
      throw this.sizeMismatch(blob.digest, blob.size, size);
    }
    return createReadStream('', { fd, autoClose: true, highWaterMark: 256 * 1024 });
  }

  private sizeMismatch(digest: Digest, declared: number, onDisk: number): ActionError {
    return ActionError.integrity(`source '${this.spec.line}': blob ${digest} has ${onDisk} bytes, not the ${declared} its descriptor declares`, { code: 'SIZE_INVALID', hint: 'The layout is corrupt: write it again' });
  }

  /** The descriptor the line names: by digest, by tag (its ref.name annotation), or the only one. */
  selected(): Descriptor {
    const where = `${this.spec.dir}/index.json`;
    readBoundedFile(join(this.spec.path, 'oci-layout'), `${this.spec.dir}/oci-layout`, this.spec.roots);
    const text = readBoundedFile(join(this.spec.path, 'index.json'), where, this.spec.roots);
    const bytes = Buffer.from(text, 'utf8');
    const parsed = parseManifest({ bytes, digest: sha256(bytes), mediaType: '' }, where);
    if (parsed.kind !== 'index') throw ActionError.input(`source '${this.spec.line}': ${where} is not an image index`, { hint: 'Name the directory that buildx or skopeo wrote' });
    const listed = parsed.manifest.manifests;
    const names = listed.map((d) => d.annotations?.[REF_NAME]).filter((n): n is string => n !== undefined);
    const { tag, digest } = this.spec;
    const found = digest ? listed.filter((d) => d.digest === digest) : tag ? listed.filter((d) => d.annotations?.[REF_NAME] === tag) : listed;
    if (digest && found.length === 0) {
      // Not listed in index.json: any manifest of the layout's blobs may be named by digest.
      const doc = this.readDocument(digest, undefined);
      const m = parseManifest({ bytes: doc, digest, mediaType: '' }, `${this.spec.line}`);
      return { mediaType: m.mediaType, digest, size: doc.length };
    }
    if (found.length !== 1) {
      const what = tag ? `${found.length} entries tagged '${tag}'` : `${found.length} entries`;
      throw ActionError.input(`source '${this.spec.line}': ${where} has ${what}${names.length ? ` (tags: ${names.join(', ')})` : ''}`, {
        hint: 'Name one: oci-layout://DIR:TAG or oci-layout://DIR@sha256:…',
      });
    }
    return found[0] as Descriptor;
  }
}

/**
 * The entries a layout source contributes: its image, or its index's images (and their
 * attestations unless dropped), each manifest read and checked now, before anything is written.
 */
export function resolveLayout(spec: LayoutSpec, attestations: 'keep' | 'drop' | 'referrers'): { entries: IndexEntry[]; isIndex: boolean } {
  const layout = new Layout(spec);
  const top = layout.selected();
  const entry = (descriptor: Descriptor, manifestBytes: Buffer, attestation: boolean): IndexEntry => ({
    descriptor,
    line: spec.line,
    registry: LAYOUT_REGISTRY,
    repository: spec.path,
    attestation,
    manifestBytes,
    layout,
  });
  const image = (d: Descriptor): IndexEntry => {
    const bytes = layout.readDocument(d.digest, d.size);
    const parsed = parseManifest({ bytes, digest: d.digest, mediaType: d.mediaType }, `${spec.line} (${d.digest})`);
    checkDescribes(d, { size: bytes.length, mediaType: parsed.mediaType }, spec.line);
    if (parsed.kind !== 'image') throw ActionError.input(`source '${spec.line}': ${d.digest} is an index inside an index`, { hint: 'Name the inner index by digest' });
    let platform = d.platform?.os && d.platform.architecture ? d.platform : undefined;
    if (!platform) {
      const config = layout.readDocument(parsed.manifest.config.digest, parsed.manifest.config.size);
      let json: unknown;
      try {
        json = JSON.parse(config.toString('utf8'));
      } catch {
        throw ActionError.integrity(`source '${spec.line}': the config ${parsed.manifest.config.digest} is not JSON`, { code: 'MANIFEST_INVALID' });
      }
      const p = platformFromConfig(json, `${spec.line} (config ${parsed.manifest.config.digest})`);
      if (!p.os || !p.architecture) throw ActionError.input(`source '${spec.line}': the image config of ${d.digest} names no os or architecture`);
      platform = p as Platform;
    }
    const descriptor: Descriptor = { mediaType: parsed.mediaType, digest: d.digest, size: bytes.length, platform: compact(platform) };
    if (d.annotations && top.digest !== d.digest) descriptor.annotations = d.annotations;
    return entry(descriptor, bytes, false);
  };
  if (!INDEX_TYPES.has(top.mediaType)) return { entries: [image(top)], isIndex: false };
  const bytes = layout.readDocument(top.digest, top.size);
  const parsed = parseManifest({ bytes, digest: top.digest, mediaType: top.mediaType }, `${spec.line} (${top.digest})`);
  if (parsed.kind !== 'index') throw ActionError.input(`source '${spec.line}': ${top.digest} is not an index`);
  if (parsed.manifest.manifests.length > MAX_SOURCE_INDEX_ENTRIES) {
    throw budgetExceeded(`source '${spec.line}' is an index of too many entries`, parsed.manifest.manifests.length, MAX_SOURCE_INDEX_ENTRIES, 'Write a layout of fewer platforms');
  }
  const entries: IndexEntry[] = [];
  for (const d of parsed.manifest.manifests) {
    if (isAttestation(d)) {
      if (attestations !== 'drop') entries.push(entry(d, layout.readDocument(d.digest, d.size), true));
    } else if (INDEX_TYPES.has(d.mediaType)) {
      throw ActionError.input(`source '${spec.line}' is an index that contains another index (${d.digest})`, { hint: 'Name the inner index by digest: oci-layout://DIR@sha256:…' });
    } else if (IMAGE_TYPES.has(d.mediaType)) {
      entries.push(image(d));
    }
  }
  return { entries, isIndex: true };
}

