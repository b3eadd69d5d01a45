/**
 * `multiarch-manifest inspect REF`: an index's entries, or a single image's platform, config and
 * layers. `--json` prints one shape (InspectResult) whatever the other options.
 */
import { parseArgs } from 'node:util';
import { INSPECT_CHILD_BYTES, MAX_SOURCE_INDEX_ENTRIES, budgetExceeded } from '../budgets.ts';
import { ActionError } from '../errors.ts';
import { consoleLogger, print, printJson, setLogger } from '../log.ts';
import { isAttestation } from '../oci/assemble.ts';
import { type ImageConfig, platformFromConfig } from '../oci/config.ts';
import { INDEX_TYPES, parseManifest } from '../oci/manifest.ts';
import { only, sortPlatforms } from '../oci/match.ts';
import { formatPlatform, type Platform, parsePlatform } from '../oci/platform.ts';
import { parseDockerRef } from '../oci/reference.ts';
import { CONFIG_LIMIT } from '../registry/client.ts';
import { Registries } from '../registry/registries.ts';
import { INSPECT_USAGE, parsingUsage, UsageError } from './usage.ts';

interface Layer {
  digest: string;
  size: number;
  mediaType: string;
}

export interface InspectEntry {
  /** os/arch[/variant]; `unknown/unknown` for attestation manifests. */
  platform: string;
  digest: string;
  size: number;
  mediaType: string;
  annotations: Record<string, string>;
  /** The entry's layers with --verbose; null when its manifest was not read. */
  layers: Layer[] | null;
}

export interface InspectResult {
  name: string;
  digest: string;
  mediaType: string;
  kind: 'index' | 'image';
  /** A single image's platform, from its config; null for an index (see entries). */
  platform: string | null;
  /** The manifest as the registry sent it. */
  manifest: unknown;
  /** An index's entries, in index order; empty for a single image. */
  entries: InspectEntry[];
  /** A single image's layers; empty for an index. */
  layers: Layer[];
  /** With --platform: the entry such a host pulls (for a single image, the image itself); else null. */
  selected: InspectEntry | null;
}

const layersOf = (layers: Layer[]) => layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType }));

export async function inspectCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parsingUsage('inspect', () =>
    parseArgs({
      args: argv,
      options: {
        verbose: { type: 'boolean', short: 'v' },
        json: { type: 'boolean' },
        platform: { type: 'string' },
        'insecure-registry': { type: 'string', multiple: true },
        debug: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    }),
  );
  if (values.help) {
    print(INSPECT_USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(positionals.length ? `inspect takes one image reference, got ${positionals.length}` : 'inspect needs an image reference', 'inspect');
  setLogger(consoleLogger({ debug: values.debug }));
  const want = values.platform === undefined ? undefined : parsePlatform(values.platform);
  const ref = parseDockerRef(positionals[0] as string);
  const registries = new Registries({ transport: { insecureRegistries: values['insecure-registry'] ?? [] } });
  try {
    const client = registries.client(ref.domain);
    const fetched = await client.getManifest(ref.path, ref.identifier);
    const parsed = parseManifest(fetched, ref.toString());
    const result: InspectResult = {
      name: ref.toString(),
      digest: fetched.digest,
      mediaType: parsed.mediaType,
      kind: parsed.kind,
      platform: null,
      manifest: parsed.manifest,
      entries: [],
      layers: [],
      selected: null,
    };
    if (parsed.kind === 'index') {
      // --verbose reads every child and keeps its layers: bounded as a publish bounds a source
      // index (entries), and by the bytes read, counted as they arrive (a descriptor's size is a claim).
      const children = values.verbose ? parsed.manifest.manifests.filter((d) => !INDEX_TYPES.has(d.mediaType)) : [];
      if (children.length > MAX_SOURCE_INDEX_ENTRIES) {
        throw budgetExceeded(`${ref} is an index of too many entries to read with --verbose`, children.length, MAX_SOURCE_INDEX_ENTRIES, 'Inspect it without --verbose, or inspect the entries you want by digest');
      }
      let childBytes = 0;
      for (const d of parsed.manifest.manifests) {
        const entry: InspectEntry = {
          platform: d.platform ? formatPlatform(d.platform as Platform) : 'unknown',
          digest: d.digest,
          size: d.size,
          mediaType: d.mediaType,
          annotations: d.annotations ?? {},
          layers: null,
        };
        if (values.verbose && !INDEX_TYPES.has(d.mediaType)) {
          const fetchedChild = await client.getManifest(ref.path, d.digest);
          childBytes += fetchedChild.bytes.length;
          if (childBytes > INSPECT_CHILD_BYTES) {
            throw budgetExceeded(`the entries of ${ref} read with --verbose hold too many manifest bytes`, `${childBytes} bytes by entry ${result.entries.length + 1}`, `${INSPECT_CHILD_BYTES} bytes`, 'Inspect it without --verbose, or inspect the entries you want by digest');
          }
          const child = parseManifest(fetchedChild, `${ref.name}@${d.digest}`);
          entry.layers = child.kind === 'image' ? layersOf(child.manifest.layers) : [];
        }
        result.entries.push(entry);
      }
      if (want) {
        // The entry a client on this platform pulls, as containerd selects it.
        const comparer = only(want);
        const candidates = parsed.manifest.manifests.map((d, i) => ({ d, entry: result.entries[i] as InspectEntry })).filter(({ d }) => d.platform && comparer.match(d.platform as Platform));
        const chosen = sortPlatforms(candidates, comparer, ({ d }) => d.platform as Platform)[0];
        if (!chosen) throw ActionError.input(`no entry of ${ref} runs on ${formatPlatform(want)} (${result.entries.map((e) => e.platform).join(', ')})`);
        result.selected = chosen.entry;
      }
    } else {
      result.layers = layersOf(parsed.manifest.layers);
      const bytes = await client.getBlobBytes(ref.path, parsed.manifest.config.digest, CONFIG_LIMIT, `fetch config of ${ref}`);
      let config: ImageConfig = {};
      try {
        config = JSON.parse(bytes.toString('utf8')) as ImageConfig;
      } catch {
        // Not an image config (an artifact): the platform stays unknown.
      }
      const found = platformFromConfig(config, `${ref} (config ${parsed.manifest.config.digest})`);
      const platform = found.os && found.architecture ? (found as Platform) : undefined;
      result.platform = platform ? formatPlatform(platform) : null;
      if (want) {
        // A single image is not a choice among entries: --platform checks that it runs there.
        if (!platform || !only(want).match(platform)) {
          throw ActionError.input(`${ref} is a single image for ${result.platform ?? 'an unknown platform'}, which does not run on ${formatPlatform(want)}`);
        }
        const annotations = (parsed.manifest as { annotations?: Record<string, string> }).annotations ?? {};
        result.selected = { platform: result.platform as string, digest: fetched.digest, size: fetched.bytes.length, mediaType: parsed.mediaType, annotations, layers: result.layers };
      }
    }
    if (values.json) printJson(result);
    else print(renderText(result, Boolean(values.verbose)));
    return 0;
  } finally {
    await registries.close();
  }
}

function renderText(r: InspectResult, verbose: boolean): string {
  if (r.selected) return `${r.selected.platform}  ${r.selected.digest}\n`;
  let out = `Name:       ${r.name}\nDigest:     ${r.digest}\nMediaType:  ${r.mediaType}\n`;
  if (r.kind === 'image') {
    const config = (r.manifest as { config: { digest: string } }).config.digest;
    out += `Platform:   ${r.platform ?? 'unknown'}\nConfig:     ${config}\nLayers:     ${r.layers.length}\n`;
    if (verbose) for (const l of r.layers) out += `  ${l.digest}  ${l.size}  ${l.mediaType}\n`;
    return out;
  }
  const rows = [['PLATFORM', 'DIGEST', 'SIZE', 'MEDIA TYPE'], ...r.entries.map((e) => [isAttestation(e) ? `attestation (${e.platform})` : e.platform, e.digest, String(e.size), e.mediaType])];
  const widths = (rows[0] as string[]).map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  out += '\n';
  for (const row of rows) out += `${row.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd()}\n`;
  for (const e of r.entries) {
    if (!e.layers?.length) continue;
    out += `\n${e.platform} ${e.digest}\n`;
    for (const l of e.layers) out += `  ${l.digest}  ${l.size}  ${l.mediaType}\n`;
  }
  return out;
}
