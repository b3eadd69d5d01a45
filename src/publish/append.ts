/**
 * `append`: what the index at the first tag holds becomes the base of the new one, and keeps what it
 * had unless the inputs change it: its media type (an OCI index stays one; `auto` means keep), its
 * index annotations (an input line of the same key replaces one), its entries with their
 * descriptors' annotations (a new source of the same platform replaces an entry). Pure code.
 */
import { ActionError } from '../errors.ts';
import { type AssembleOptions, type IndexEntry, isAttestation } from '../oci/assemble.ts';
import { type FetchedManifest, MediaType, parseManifest } from '../oci/manifest.ts';
import type { Reference } from '../oci/reference.ts';

export interface AppendBase {
  entries: IndexEntry[];
  /** The assembly options with what the base keeps folded in. */
  options: AssembleOptions;
}

/**
 * The base of an appending run: the entries of the index at `tag` (none when the tag is absent)
 * and the options that keep its format and annotations.
 */
export function appendBase(tag: Reference, fetched: FetchedManifest | undefined, inputs: AssembleOptions): AppendBase {
  if (!fetched) return { entries: [], options: inputs }; // nothing there yet: start empty
  const parsed = parseManifest(fetched, tag.toString());
  if (parsed.kind !== 'index') {
    throw ActionError.input(`append: ${tag} is an image, not an index`, { hint: 'Append needs an existing index at the first tag, or none' });
  }
  const index = parsed.manifest;
  const entries = index.manifests.map((d) => ({
    descriptor: d,
    line: `${tag} (existing)`,
    registry: tag.domain,
    repository: tag.path,
    attestation: isAttestation(d),
  }));
  const isOci = parsed.mediaType === MediaType.OciIndex;
  const baseAnnotations = index.annotations ?? {};
  if (inputs.mediaType === 'docker') {
    const annotated = index.manifests.filter((d) => d.annotations && Object.keys(d.annotations).length > 0);
    if (Object.keys(baseAnnotations).length > 0 || annotated.length > 0) {
      throw ActionError.input(
        `append: media-type is docker, but ${tag} (${fetched.digest}) is an OCI index with ${Object.keys(baseAnnotations).length} index annotation(s) and ${annotated.length} annotated entr${annotated.length === 1 ? 'y' : 'ies'}: a Docker manifest list would lose them; nothing was written`,
        { hint: "Use media-type 'auto' (keeps an OCI index one) or 'oci'" },
      );
    }
  }
  return {
    entries,
    options: {
      ...inputs,
      mediaType: inputs.mediaType === 'auto' && isOci ? 'oci' : inputs.mediaType,
      indexAnnotations: { ...baseAnnotations, ...inputs.indexAnnotations },
    },
  };
}

