/**
 * Resolve: every source line → the index entries it contributes. An image gives one entry, its
 * platform read from its config (src/oci/config.ts) unless the line's overrides make that
 * unnecessary; an index gives its image entries (and, with attestations kept, its attestations).
 * Only reads.
 */
import { ActionError, AggregateActionError, describeError } from '../errors.ts';
import type { SourceSpec } from '../inputs.ts';
import { type LayoutSpec, resolveLayout } from '../layout.ts';
import { log } from '../log.ts';
import { type IndexEntry, isAttestation } from '../oci/assemble.ts';
import { platformFromConfig } from '../oci/config.ts';
import { type FetchedManifest, IMAGE_TYPES, INDEX_TYPES, type ImageManifest, parseManifest } from '../oci/manifest.ts';
import { checkDescribes } from '../oci/validate.ts';
import { selectedBy } from '../oci/match.ts';
import { type Platform, compact, formatPlatform, formatPlatformAll, normalize } from '../oci/platform.ts';
import { CONFIG_LIMIT, type RegistryClient } from '../registry/client.ts';
import type { Registries } from '../registry/registries.ts';
import { MAX_SOURCE_INDEX_ENTRIES, budgetExceeded } from '../budgets.ts';
import { mapAll, mapSettled } from '../concurrency.ts';

/** Applies a source line's overrides over what the config (or index) says. */
export function applyOverrides(spec: SourceSpec, fromImage: Partial<Platform>): Platform {
  const o = spec.overrides;
  let p: Partial<Platform> = { ...fromImage };
  if (o.platform) {
    const fromConfigNormalized = fromImage.os && fromImage.architecture ? normalize(fromImage as Platform) : undefined;
    if (
      fromConfigNormalized &&
      (fromConfigNormalized.os !== o.platform.os || fromConfigNormalized.architecture !== o.platform.architecture)
    ) {
      log.warning(
        `source '${spec.line}': ${o.platformFromTemplate ? 'the template platform ' : 'platform='}${formatPlatform(o.platform)} contradicts the image config (${formatPlatform(fromImage as Platform)}); using the ${o.platformFromTemplate ? 'template platform' : 'override'}`,
      );
    }
    p = {
      ...p,
      os: o.platform.os,
      architecture: o.platform.architecture,
      variant: o.platform.variant ?? (fromImage.architecture === o.platform.architecture ? fromImage.variant : undefined),
    };
    if (o.platform['os.version']) p['os.version'] = o.platform['os.version'];
    if (o.platform['os.features']) p['os.features'] = o.platform['os.features'];
  }
  if (o.variant) p.variant = o.variant;
  if (o.osVersion) p['os.version'] = o.osVersion;
  if (o.osFeatures) p['os.features'] = o.osFeatures;
  if (!p.os || !p.architecture) {
    throw ActionError.input(`source '${spec.line}': the image config names no ${!p.os ? 'os' : 'architecture'}`, {
      hint: 'Give the platform after the reference: platform=os/arch[/variant]',
    });
  }
  return compact(p as Platform);
}

function needsConfig(spec: SourceSpec): boolean {
  // A full platform override makes the config unnecessary, except for Windows where os.version
  // (and os.features) come from the config unless given, and for template expansions, whose
  // platform says which image the name should be and the config says the rest.
  const o = spec.overrides.platform;
  if (!o || spec.overrides.platformFromTemplate) return true;
  return o.os === 'windows' && !spec.overrides.osVersion && !o['os.version'];
}

/** The entry of one image manifest: its platform from the config (when needed) and the overrides. */
async function resolveImage(
  client: RegistryClient,
  spec: SourceSpec,
  repository: string,
  fetched: FetchedManifest,
  manifest: ImageManifest,
  mediaType: string,
  keep: (bytes: Buffer) => boolean = () => true,
): Promise<IndexEntry> {
  let fromImage: Partial<Platform> = {};
  if (needsConfig(spec)) {
    const bytes = await client.getBlobBytes(repository, manifest.config.digest, CONFIG_LIMIT, `fetch config of ${spec.ref}`);
    let config: unknown;
    try {
      config = JSON.parse(bytes.toString('utf8'));
    } catch {
      throw ActionError.integrity(`the config of ${spec.ref} is not JSON`, { code: 'MANIFEST_INVALID' });
    }
    fromImage = platformFromConfig(config, `${spec.ref} (config ${manifest.config.digest})`);
  }
  return {
    descriptor: { mediaType, digest: fetched.digest, size: fetched.bytes.length, platform: applyOverrides(spec, fromImage) },
    line: spec.line,
    registry: spec.ref.domain,
    repository,
    attestation: false,
    // Kept for the copy while the run's budget allows; else read again (digest-checked) then.
    ...(keep(fetched.bytes) ? { manifestBytes: fetched.bytes } : {}),
  };
}

/** What resolving does with a source that does not exist: fail, or leave it out (ignore-missing). */
export interface ResolveOptions {
  attestations: 'keep' | 'drop' | 'referrers';
  ignoreMissing: boolean;
  /** Most sources read at once (each holds one request at a time). */
  limit: number;
  /** Whether a manifest read now may be kept for its copy (a byte budget); else it is read again then. */
  keep?: (bytes: Buffer) => boolean;
  /** The platforms the result keeps (empty: all): index sources are filtered, image sources checked. */
  platforms: Platform[];
  /** OCI layout sources, read from files (after the registry sources in the index). */
  layouts: LayoutSpec[];
  /** Told of an image source's digest as soon as its manifest is read (before its config). */
  onImage?: (image: { registry: string; repository: string; digest: string }) => void;
}

/** A source's own manifest is absent (404): the only failure ignore-missing forgives. */
const MISSING = Symbol('missing source');

/** Reads one source: an image (platform from its config) or an index (flattened). */
async function resolveSource(registries: Registries, spec: SourceSpec, options: ResolveOptions): Promise<IndexEntry[] | typeof MISSING> {
  const { attestations } = options;
  const client = registries.client(spec.ref.domain);
  const repository = spec.ref.path;
  let fetched: FetchedManifest;
  try {
    fetched = await client.getManifest(repository, spec.ref.identifier, `fetch source ${spec.ref}`);
  } catch (e) {
    if (options.ignoreMissing && e instanceof ActionError && e.status === 404) return MISSING;
    throw e;
  }
  const parsed = parseManifest(fetched, spec.ref.toString());
  if (parsed.kind === 'image') {
    options.onImage?.({ registry: spec.ref.domain, repository, digest: fetched.digest });
    return selectPlatforms(spec.line, [await resolveImage(client, spec, repository, fetched, parsed.manifest, parsed.mediaType, options.keep)], false, options.platforms);
  }
  // An index: its image entries join the result with their platforms; attestations come along.
  const listed = parsed.manifest.manifests;
  if (listed.length > MAX_SOURCE_INDEX_ENTRIES) {
    throw budgetExceeded(`source ${spec.ref} is an index of too many entries`, listed.length, MAX_SOURCE_INDEX_ENTRIES, 'Name the images it should contribute (by digest) as sources instead');
  }
  const images = listed.filter((d) => !isAttestation(d));
  const nested = images.find((d) => INDEX_TYPES.has(d.mediaType));
  if (nested) {
    throw ActionError.input(`source ${spec.ref} is an index that contains another index (${nested.digest})`, {
      hint: 'Name the inner index or its images as sources instead: an index is never nested',
    });
  }
  const hasOverrides = Object.keys(spec.overrides).length > 0;
  if (hasOverrides && images.length !== 1) {
    throw ActionError.input(`source '${spec.line}' is an index of ${images.length} images; platform overrides apply to a single image`, {
      hint: 'Name one image of it by digest to override its platform',
    });
  }
  // Entries without a platform are read (manifest, then config) with the run's concurrency.
  const resolvedImages = await mapAll(images, options.limit, async (d): Promise<IndexEntry | undefined> => {
    if (!IMAGE_TYPES.has(d.mediaType)) {
      log.warning(`source ${spec.ref}: skipping entry ${d.digest} of unknown media type ${d.mediaType}`);
      return undefined;
    }
    if (d.platform?.os && d.platform.architecture && !(hasOverrides && needsConfig(spec))) {
      return {
        descriptor: { mediaType: d.mediaType, digest: d.digest, size: d.size, platform: applyOverrides(spec, d.platform), ...(d.annotations ? { annotations: d.annotations } : {}) },
        line: spec.line,
        registry: spec.ref.domain,
        repository,
        attestation: false,
      };
    }
    // No platform in the index entry: read the image manifest and its config.
    const image = await client.getManifest(repository, d.digest, `fetch ${spec.ref} entry ${d.digest}`);
    const imageParsed = parseManifest(image, `${spec.ref.name}@${d.digest}`);
    checkDescribes(d, { size: image.bytes.length, mediaType: imageParsed.mediaType }, spec.ref.toString());
    if (imageParsed.kind !== 'image') return undefined;
    return resolveImage(client, spec, repository, image, imageParsed.manifest, imageParsed.mediaType, options.keep);
  });
  const entries = resolvedImages.filter((e) => e !== undefined);
  if (attestations !== 'drop') {
    for (const d of listed.filter(isAttestation)) {
      entries.push({ descriptor: d, line: spec.line, registry: spec.ref.domain, repository, attestation: true });
    }
  }
  return selectPlatforms(spec.line, entries, true, options.platforms);
}

/**
 * What `platforms` keeps of a source's entries: an index contributes the entries it lists (their
 * attestations follow them, in assembly); an image of a platform it does not list fails the run.
 */
function selectPlatforms(line: string, entries: IndexEntry[], isIndex: boolean, platforms: Platform[]): IndexEntry[] {
  const left = entries.filter((e) => !e.attestation && !selectedBy(platforms, e.descriptor.platform as Platform));
  if (!left.length) return entries;
  const shown = left.map((e) => formatPlatformAll(e.descriptor.platform as Platform)).join(', ');
  if (!isIndex) {
    throw ActionError.input(`source '${line}' is an image of ${shown}, which platforms does not list (${platforms.map(formatPlatformAll).join(', ')})`, {
      hint: 'Add its platform to platforms, or remove the source',
    });
  }
  log.info(`source ${line}: left out ${shown} (not in platforms)`);
  return entries.filter((e) => !left.includes(e));
}

/**
 * Resolves every source, at most `limit` at once, and reports all failures together. With
 * ignore-missing, sources whose manifest does not exist are left out with a warning each (the run
 * still fails when none exists). The first requests are issued synchronously, before this returns.
 */
export async function resolveSources(registries: Registries, sources: SourceSpec[], options: ResolveOptions): Promise<IndexEntry[]> {
  const settling = mapSettled(sources, options.limit, (s) => resolveSource(registries, s, options));
  // OCI layouts are read from files meanwhile (the registry sources' first requests are out).
  const layouts = options.layouts.map((spec) => {
    try {
      const { entries, isIndex } = resolveLayout(spec, options.attestations);
      return { spec, entries: selectPlatforms(spec.line, entries, isIndex, options.platforms) };
    } catch (error) {
      return { spec, entries: [], error: error instanceof ActionError ? error : ActionError.input(`source '${spec.line}': ${describeError(error)}`) };
    }
  });
  const settled = await settling;
  const errors = [
    ...settled.flatMap((r, i) =>
      r.status === 'rejected'
        ? [{ subject: (sources[i] as SourceSpec).ref.toString(), error: r.reason instanceof ActionError ? r.reason : ActionError.network(describeError(r.reason)) }]
        : [],
    ),
    ...layouts.flatMap((l) => (l.error ? [{ subject: l.spec.line, error: l.error }] : [])),
  ];
  if (errors.length) {
    throw new AggregateActionError(`${errors.length} of ${sources.length + layouts.length} source(s) could not be read; nothing was written`, errors);
  }
  const found = settled.map((r) => (r as PromiseFulfilledResult<IndexEntry[] | typeof MISSING>).value);
  const missing = sources.filter((_, i) => found[i] === MISSING);
  for (const spec of missing) log.warning(`source ${spec.ref} does not exist; left out (ignore-missing)`);
  if (sources.length > 0 && missing.length === sources.length && layouts.length === 0) {
    throw ActionError.missing(`none of the ${sources.length} source(s) exists (${sources.map((s) => s.ref.toString()).join(', ')}); nothing was written`, {
      code: 'MANIFEST_UNKNOWN',
      status: 404,
      hint: 'Check that the build jobs pushed their images, and the references',
    });
  }
  const all = [...found.flatMap((entries) => (entries === MISSING || entries === undefined ? [] : entries)), ...layouts.flatMap((l) => l.entries)];
  if (options.platforms.length && !all.some((e) => !e.attestation)) {
    throw ActionError.input(`no source has an image of the platforms listed (${options.platforms.map(formatPlatformAll).join(', ')}); nothing was written`, {
      hint: 'Check platforms against the platforms the sources hold (multiarch-manifest inspect REF lists them)',
    });
  }
  // One write for the whole list: this runs between the last source read and the first write.
  const lines = sources.flatMap((spec, i) => {
    const entries = found[i];
    if (entries === MISSING || entries === undefined) return [];
    const from = spec.origin === 'sources' ? '' : `  (from ${spec.origin})`;
    return entries.map((e) => `${e.attestation ? 'attestation' : formatPlatform(e.descriptor.platform as Platform)}  ${e.descriptor.digest}  ${e.line}${from}`);
  });
  for (const l of layouts) for (const e of l.entries) lines.push(`${e.attestation ? 'attestation' : formatPlatform(e.descriptor.platform as Platform)}  ${e.descriptor.digest}  ${e.line}`);
  if (lines.length) log.info(lines.join('\n'));
  return all;
}
