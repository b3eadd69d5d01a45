/**
 * Resolve: every source line → the index entries it contributes. An image gives one entry, its
 * platform read from its config (src/oci/config.ts) unless the line's overrides make that
 * unnecessary; an index gives its image entries (and, with attestations kept, its attestations).
 * Only reads.
 */
import { ActionError, AggregateActionError, describeError } from '../errors.ts';
import type { SourceSpec } from '../inputs.ts';
import { log } from '../log.ts';
import { type IndexEntry, isAttestation } from '../oci/assemble.ts';
import { type ImageConfig, platformFromConfig } from '../oci/config.ts';
import { type FetchedManifest, IMAGE_TYPES, INDEX_TYPES, type ImageManifest, parseManifest } from '../oci/manifest.ts';
import { type Platform, compact, formatPlatform, normalize } from '../oci/platform.ts';
import { CONFIG_LIMIT, type RegistryClient } from '../registry/client.ts';
import type { Registries } from '../registry/registries.ts';
import { mapSettled } from '../concurrency.ts';

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
        `source '${spec.line}': platform=${formatPlatform(o.platform)} contradicts the image config (${formatPlatform(fromImage as Platform)}); using the override`,
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
    throw new ActionError(`source '${spec.line}': the image config names no ${!p.os ? 'os' : 'architecture'}`, {
      kind: 'input',
      hint: 'Give the platform after the reference: platform=os/arch[/variant]',
    });
  }
  return compact(p as Platform);
}

function needsConfig(spec: SourceSpec): boolean {
  // A full platform override makes the config unnecessary, except for Windows where os.version
  // (and os.features) come from the config unless given.
  const o = spec.overrides.platform;
  if (!o) return true;
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
): Promise<IndexEntry> {
  let fromImage: Partial<Platform> = {};
  if (needsConfig(spec)) {
    const bytes = await client.getBlobBytes(repository, manifest.config.digest, CONFIG_LIMIT, `fetch config of ${spec.ref}`);
    let config: ImageConfig;
    try {
      config = JSON.parse(bytes.toString('utf8')) as ImageConfig;
    } catch {
      throw new ActionError(`the config of ${spec.ref} is not JSON`, { kind: 'integrity', code: 'MANIFEST_INVALID' });
    }
    fromImage = platformFromConfig(config);
  }
  return {
    descriptor: { mediaType, digest: fetched.digest, size: fetched.bytes.length, platform: applyOverrides(spec, fromImage) },
    line: spec.line,
    registry: spec.ref.domain,
    repository,
    attestation: false,
    manifestBytes: fetched.bytes,
  };
}

/** Reads one source: an image (platform from its config) or an index (flattened). */
async function resolveSource(registries: Registries, spec: SourceSpec, attestations: 'keep' | 'drop'): Promise<IndexEntry[]> {
  const client = registries.client(spec.ref.domain);
  const repository = spec.ref.path;
  const fetched = await client.getManifest(repository, spec.ref.identifier, `fetch source ${spec.ref}`);
  const parsed = parseManifest(fetched, spec.ref.toString());
  if (parsed.kind === 'image') {
    return [await resolveImage(client, spec, repository, fetched, parsed.manifest, parsed.mediaType)];
  }
  // An index: its image entries join the result with their platforms; attestations come along.
  const listed = parsed.manifest.manifests;
  const images = listed.filter((d) => !isAttestation(d));
  const nested = images.find((d) => INDEX_TYPES.has(d.mediaType));
  if (nested) {
    throw new ActionError(`source ${spec.ref} is an index that contains another index (${nested.digest})`, {
      kind: 'input',
      hint: 'Name the inner index or its images as sources instead: an index is never nested',
    });
  }
  const hasOverrides = Object.keys(spec.overrides).length > 0;
  if (hasOverrides && images.length !== 1) {
    throw new ActionError(`source '${spec.line}' is an index of ${images.length} images; platform overrides apply to a single image`, {
      kind: 'input',
      hint: 'Name one image of it by digest to override its platform',
    });
  }
  const entries: IndexEntry[] = [];
  for (const d of images) {
    if (!IMAGE_TYPES.has(d.mediaType)) {
      log.warning(`source ${spec.ref}: skipping entry ${d.digest} of unknown media type ${d.mediaType}`);
      continue;
    }
    if (d.platform?.os && d.platform.architecture && !(hasOverrides && needsConfig(spec))) {
      entries.push({
        descriptor: { mediaType: d.mediaType, digest: d.digest, size: d.size, platform: applyOverrides(spec, d.platform), ...(d.annotations ? { annotations: d.annotations } : {}) },
        line: spec.line,
        registry: spec.ref.domain,
        repository,
        attestation: false,
      });
    } else {
      // No platform in the index entry: read the image manifest and its config.
      const image = await client.getManifest(repository, d.digest, `fetch ${spec.ref} entry ${d.digest}`);
      const imageParsed = parseManifest(image, `${spec.ref.name}@${d.digest}`);
      if (imageParsed.kind !== 'image') continue;
      entries.push(await resolveImage(client, spec, repository, image, imageParsed.manifest, imageParsed.mediaType));
    }
  }
  if (attestations === 'keep') {
    for (const d of listed.filter(isAttestation)) {
      entries.push({ descriptor: d, line: spec.line, registry: spec.ref.domain, repository, attestation: true });
    }
  }
  return entries;
}

/**
 * Resolves every source, at most `limit` at once (each holds one request at a time), and reports
 * all failures together. The first requests are issued synchronously, before this returns.
 */
export async function resolveSources(registries: Registries, sources: SourceSpec[], attestations: 'keep' | 'drop', limit: number): Promise<IndexEntry[]> {
  const settled = await mapSettled(sources, limit, (s) => resolveSource(registries, s, attestations));
  const errors = settled.flatMap((r, i) =>
    r.status === 'rejected'
      ? [{ subject: (sources[i] as SourceSpec).ref.toString(), error: r.reason instanceof ActionError ? r.reason : new ActionError(describeError(r.reason), { kind: 'network' }) }]
      : [],
  );
  if (errors.length) {
    throw new AggregateActionError(`${errors.length} of ${sources.length} source(s) could not be read; nothing was written`, errors);
  }
  const entries = settled.flatMap((r) => (r as PromiseFulfilledResult<IndexEntry[]>).value);
  // One write for the whole list: this runs between the last source read and the first write.
  if (entries.length) {
    log.info(entries.map((e) => `${e.attestation ? 'attestation' : formatPlatform(e.descriptor.platform as Platform)}  ${e.descriptor.digest}  ${e.line}`).join('\n'));
  }
  return entries;
}
