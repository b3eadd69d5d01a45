#!/usr/bin/env node
/**
 * Command-line entry for local use, running the same code as the action.
 *
 *   multiarch-manifest publish --source REF [--source REF …] --tag REF [--tag REF …] [options]
 *   multiarch-manifest inspect REF [--verbose] [--json]
 */
import { parseArgs } from 'node:util';
import { describeError } from './errors.ts';
import { getInputs } from './inputs.ts';
import { consoleLogger, setLogger } from './log.ts';
import { parseManifest, INDEX_TYPES } from './oci/manifest.ts';
import { only, sortPlatforms } from './oci/match.ts';
import { formatPlatform, type Platform, parsePlatform } from './oci/platform.ts';
import { parseDockerRef } from './oci/reference.ts';
import { publishInputs } from './publish/index.ts';
import { Registries } from './registry/registries.ts';

const USAGE = `Usage:
  multiarch-manifest publish --source REF [--source REF …] --tag REF [--tag REF …] [options]
  multiarch-manifest inspect REF [--verbose] [--json] [--platform P] [--insecure-registry HOST]

publish options (mirroring the action's inputs):
  --source REF            per-arch image (repeat; overrides may follow: "REF platform=linux/arm/v7")
  --tag REF               target tag (repeat)
  --push=false            verify and assemble only, write nothing
  --media-type TYPE       auto | oci | docker
  --attestations MODE     keep | drop
  --annotation K=V        annotation line (repeat; index:, manifest-descriptor: prefixes)
  --require-platform P    platform the result must contain (repeat)
  --append                start from the index at the first tag
  --registry HOST         registry the username/password are for
  --username USER         (password from --password-stdin or MULTIARCH_PASSWORD)
  --password-stdin        read the password from standard input
  --insecure-registry H   allow plain HTTP / unverified TLS for H (repeat)
  --retries N  --retry-max-seconds S  --timeout S  --concurrency N
  --json                  print the result as JSON
  --debug                 request-level logs`;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}

async function publishCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      source: { type: 'string', multiple: true },
      tag: { type: 'string', multiple: true },
      push: { type: 'string' },
      'media-type': { type: 'string' },
      attestations: { type: 'string' },
      annotation: { type: 'string', multiple: true },
      'require-platform': { type: 'string', multiple: true },
      append: { type: 'boolean' },
      registry: { type: 'string' },
      username: { type: 'string' },
      'password-stdin': { type: 'boolean' },
      'insecure-registry': { type: 'string', multiple: true },
      retries: { type: 'string' },
      'retry-max-seconds': { type: 'string' },
      timeout: { type: 'string' },
      concurrency: { type: 'string' },
      json: { type: 'boolean' },
      debug: { type: 'boolean' },
    },
    strict: true,
  });
  setLogger(consoleLogger({ debug: values.debug }));
  const password = values['password-stdin'] ? await readStdin() : (process.env.MULTIARCH_PASSWORD ?? '');
  const raw: Record<string, string> = {
    sources: (values.source ?? []).join('\n'),
    tags: (values.tag ?? []).join('\n'),
    push: values.push ?? '',
    'media-type': values['media-type'] ?? '',
    attestations: values.attestations ?? '',
    annotations: (values.annotation ?? []).join('\n'),
    'require-platforms': (values['require-platform'] ?? []).join('\n'),
    append: values.append ? 'true' : '',
    registry: values.registry ?? '',
    username: values.username ?? '',
    password: values.username ? password : '',
    'insecure-registries': (values['insecure-registry'] ?? []).join('\n'),
    retries: values.retries ?? '',
    'retry-max-seconds': values['retry-max-seconds'] ?? '',
    timeout: values.timeout ?? '',
    concurrency: values.concurrency ?? '',
  };
  const inputs = getInputs((name) => raw[name] ?? '');
  const result = await publishInputs(inputs);
  if (values.json) {
    const { entries: _entries, ...rest } = result;
    process.stdout.write(`${JSON.stringify({ ...rest, manifest: JSON.parse(result.manifest) }, null, 2)}\n`);
  } else {
    process.stdout.write(`${result.dryRun ? 'would publish' : 'published'} ${result.digest}\n`);
    process.stdout.write(`media type: ${result.mediaType}\nplatforms:  ${result.platforms.join(', ')}\n`);
    for (const image of result.images) process.stdout.write(`image:      ${image}\n`);
  }
  return 0;
}

interface InspectEntry {
  platform: string;
  digest: string;
  size: number;
  mediaType: string;
  annotations?: Record<string, string>;
  layers?: Array<{ digest: string; size: number; mediaType: string }>;
}

async function inspectCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      verbose: { type: 'boolean', short: 'v' },
      json: { type: 'boolean' },
      platform: { type: 'string' },
      'insecure-registry': { type: 'string', multiple: true },
      debug: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1) throw new Error(`inspect takes one reference\n${USAGE}`);
  setLogger(consoleLogger({ debug: values.debug }));
  const ref = parseDockerRef(positionals[0] as string);
  const registries = new Registries({ transport: { insecureRegistries: values['insecure-registry'] ?? [] } });
  try {
    const client = registries.client(ref.domain);
    const fetched = await client.getManifest(ref.path, ref.identifier);
    const parsed = parseManifest(fetched, ref.toString());
    const entries: InspectEntry[] = [];
    if (parsed.kind === 'index') {
      for (const d of parsed.manifest.manifests) {
        const entry: InspectEntry = {
          platform: d.platform ? formatPlatform(d.platform as Platform) : 'unknown',
          digest: d.digest,
          size: d.size,
          mediaType: d.mediaType,
          ...(d.annotations ? { annotations: d.annotations } : {}),
        };
        if (values.verbose && !INDEX_TYPES.has(d.mediaType)) {
          const child = parseManifest(await client.getManifest(ref.path, d.digest), `${ref.name}@${d.digest}`);
          if (child.kind === 'image') entry.layers = child.manifest.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType }));
        }
        entries.push(entry);
      }
    }
    if (values.platform && parsed.kind === 'index') {
      // The entry a client on this platform pulls, as containerd selects it.
      const want = parsePlatform(values.platform);
      const comparer = only(want);
      const candidates = parsed.manifest.manifests.filter((d) => d.platform && comparer.match(d.platform as Platform));
      const chosen = sortPlatforms(candidates, comparer, (d) => d.platform as Platform)[0];
      if (!chosen) throw new Error(`no entry of ${ref} runs on ${formatPlatform(want)} (${entries.map((e) => e.platform).join(', ')})`);
      process.stdout.write(values.json ? `${JSON.stringify(chosen, null, 2)}\n` : `${formatPlatform(chosen.platform as Platform)}  ${chosen.digest}\n`);
      return 0;
    }
    if (values.json) {
      const out = values.verbose
        ? { name: ref.toString(), digest: fetched.digest, mediaType: parsed.mediaType, manifest: parsed.manifest, entries }
        : parsed.manifest;
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return 0;
    }
    process.stdout.write(`Name:       ${ref}\nDigest:     ${fetched.digest}\nMediaType:  ${parsed.mediaType}\n`);
    if (parsed.kind === 'image') {
      process.stdout.write(`Config:     ${parsed.manifest.config.digest}\nLayers:     ${parsed.manifest.layers.length}\n`);
      return 0;
    }
    const rows = [['PLATFORM', 'DIGEST', 'SIZE', 'MEDIA TYPE'], ...entries.map((e) => [e.annotations?.['vnd.docker.reference.type'] ? `attestation (${e.platform})` : e.platform, e.digest, String(e.size), e.mediaType])];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
    process.stdout.write('\n');
    for (const r of rows) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd()}\n`);
    if (values.verbose) {
      for (const e of entries.filter((x) => x.layers)) {
        process.stdout.write(`\n${e.platform} ${e.digest}\n`);
        for (const l of e.layers ?? []) process.stdout.write(`  ${l.digest}  ${l.size}  ${l.mediaType}\n`);
      }
    }
    return 0;
  } finally {
    await registries.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'publish':
      return publishCommand(rest);
    case 'inspect':
      return inspectCommand(rest);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`unknown command '${command}'\n${USAGE}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`error: ${describeError(e)}\n`);
    process.exitCode = 1;
  },
);
