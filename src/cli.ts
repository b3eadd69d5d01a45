#!/usr/bin/env node
/**
 * Command-line entry for local use, running the same code as the action.
 *
 *   multiarch-manifest publish --source REF [--source REF …] --tag REF [--tag REF …] [options]
 *   multiarch-manifest inspect REF [--verbose] [--json] [--platform P]
 *
 * Exit status: 0 done, 1 the run failed, 2 usage error (see src/cli/usage.ts).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { inspectCommand } from './cli/inspect.ts';
import { INSPECT_USAGE, MAIN_USAGE, PUBLISH_USAGE, parsingUsage, UsageError } from './cli/usage.ts';
import { ActionError, describeError } from './errors.ts';
import { getInputs } from './inputs.ts';
import { metadataOf } from './metadata.ts';
import { consoleLogger, fail, print, printJson, setLogger } from './log.ts';
import { publishInputs } from './publish/index.ts';
import { PublishFailedError, type PublishResult } from './publish/result.ts';

/** What `publish --json` prints: one shape for published, unchanged and dry runs. */
export interface PublishOutput {
  /** published: something was written; unchanged: every tag already pointed at the digest; dry-run: nothing written. */
  status: 'published' | 'unchanged' | 'dry-run';
  digest: string;
  mediaType: string;
  platforms: string[];
  /** Every target tag, normalized, in the order given. */
  tags: string[];
  /** Tags this run wrote, and tags already at the digest (both empty on a dry run). */
  pushed: string[];
  unchanged: string[];
  /** `<registry>/<repository>@<digest>` per target repository. */
  images: string[];
  /** The index as pushed (or as it would be). */
  manifest: unknown;
}

export function publishStatus(result: PublishResult): PublishOutput['status'] {
  if (result.dryRun) return 'dry-run';
  const placed = result.plan.some((p) => p.toMount > 0 || p.toCopy > 0);
  return result.pushed.length > 0 || placed ? 'published' : 'unchanged';
}

/** The package's version, from the package.json above this file (dist/cli/ or src/ in a clone). */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 4; up++, dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'multiarch-manifest-action' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // no package.json here (or not ours): look further up
    }
  }
  throw new Error('cannot find the package.json of multiarch-manifest-action above the command');
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}

async function publishCommand(argv: string[]): Promise<number> {
  const { values } = parsingUsage('publish', () =>
    parseArgs({
      args: argv,
      options: {
        source: { type: 'string', multiple: true },
        'source-file': { type: 'string', multiple: true },
        'source-file-repository': { type: 'string', multiple: true },
        platforms: { type: 'string', multiple: true },
        'ignore-missing': { type: 'boolean' },
        tag: { type: 'string', multiple: true },
        push: { type: 'string' },
        'dry-run': { type: 'boolean' },
        'media-type': { type: 'string' },
        attestations: { type: 'string' },
        referrers: { type: 'string' },
        annotation: { type: 'string', multiple: true },
        'require-platform': { type: 'string', multiple: true },
        append: { type: 'boolean' },
        overwrite: { type: 'string' },
        registry: { type: 'string' },
        username: { type: 'string' },
        'password-stdin': { type: 'boolean' },
        'insecure-registry': { type: 'string', multiple: true },
        retries: { type: 'string' },
        'retry-max-seconds': { type: 'string' },
        timeout: { type: 'string' },
        concurrency: { type: 'string' },
        json: { type: 'boolean' },
        'metadata-file': { type: 'string' },
        debug: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }),
  );
  if (values.help) {
    print(PUBLISH_USAGE);
    return 0;
  }
  if (!values.source?.length && !values['source-file']?.length) throw new UsageError('publish needs at least one --source or --source-file', 'publish');
  if (!values.tag?.length) throw new UsageError('publish needs at least one --tag', 'publish');
  if (values['dry-run'] && values.push !== undefined && values.push !== 'false') throw new UsageError(`--dry-run contradicts --push=${values.push}`, 'publish');
  if (values['password-stdin'] && !values.username) throw new UsageError('--password-stdin needs --username', 'publish');
  setLogger(consoleLogger({ debug: values.debug }));
  const password = values['password-stdin'] ? await readStdin() : (process.env.MULTIARCH_PASSWORD ?? '');
  const raw: Record<string, string> = {
    sources: (values.source ?? []).join('\n'),
    'source-files': (values['source-file'] ?? []).join('\n'),
    'source-files-repositories': (values['source-file-repository'] ?? []).join('\n'),
    platforms: (values.platforms ?? []).join('\n'),
    'ignore-missing': values['ignore-missing'] ? 'true' : '',
    tags: values.tag.join('\n'),
    push: values['dry-run'] ? 'false' : (values.push ?? ''),
    'media-type': values['media-type'] ?? '',
    attestations: values.attestations ?? '',
    referrers: values.referrers ?? '',
    annotations: (values.annotation ?? []).join('\n'),
    'require-platforms': (values['require-platform'] ?? []).join('\n'),
    append: values.append ? 'true' : '',
    overwrite: values.overwrite ?? '',
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
  // The same JSON as the action's metadata output (buildx build --metadata-file's keys).
  if (values['metadata-file']) writeFileSync(values['metadata-file'], `${JSON.stringify(metadataOf(result, inputs.tags))}\n`);
  const output: PublishOutput = {
    status: publishStatus(result),
    digest: result.digest,
    mediaType: result.mediaType,
    platforms: result.platforms,
    tags: inputs.tags.map(String),
    pushed: result.pushed,
    unchanged: result.unchanged,
    images: result.images,
    manifest: JSON.parse(result.manifest),
  };
  if (values.json) {
    printJson(output);
    return 0;
  }
  const verb = { published: 'published', unchanged: 'unchanged', 'dry-run': 'would publish' }[output.status];
  let text = `${verb} ${output.digest}\nmedia type: ${output.mediaType}\nplatforms:  ${output.platforms.join(', ')}\n`;
  for (const tag of output.tags) {
    const state = output.status === 'dry-run' ? 'not written: dry run' : output.unchanged.includes(tag) ? 'already at the digest' : 'written';
    text += `tag:        ${tag} (${state})\n`;
  }
  for (const image of output.images) text += `image:      ${image}\n`;
  print(text);
  return 0;
}

const HELP: Record<string, string> = { publish: PUBLISH_USAGE, inspect: INSPECT_USAGE };

async function main(argv: string[]): Promise<number> {
  setLogger(consoleLogger());
  const [command, ...rest] = argv;
  // The runtime action.yml names; older ones lack what the commands use (fs.globSync, …).
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 24 && (command === 'publish' || command === 'inspect')) {
    throw ActionError.runtime(`multiarch-manifest needs Node 24 or later; this is Node ${process.versions.node}`, {
      hint: 'Run it with Node 24, e.g. scripts/with-node24.sh node dist/cli/index.js … from a clone',
    });
  }
  switch (command) {
    case 'publish':
      return publishCommand(rest);
    case 'inspect':
      return inspectCommand(rest);
    case '--version':
    case 'version':
      print(packageVersion());
      return 0;
    case 'help':
    case '-h':
    case '--help': {
      const topic = rest[0];
      if (topic !== undefined && !HELP[topic]) throw new UsageError(`no help for '${topic}': the commands are publish and inspect`);
      print(topic ? (HELP[topic] as string) : MAIN_USAGE);
      return 0;
    }
    case undefined:
      print(MAIN_USAGE, 'stderr');
      return 2;
    default:
      throw new UsageError(command.startsWith('-') ? `unknown option '${command}' (options follow the command)` : `unknown command '${command}'`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof UsageError) {
      print(`error: ${e.message}\n${e.hint}`, 'stderr');
      process.exitCode = 2;
      return;
    }
    fail(describeError(e), undefined, e instanceof PublishFailedError ? e.lines : []);
    process.exitCode = 1;
  },
);
