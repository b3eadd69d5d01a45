/**
 * Typed, validated inputs. Everything the action reads from its inputs is parsed here, once;
 * bad input fails here, before any network request, quoting the value and the expected form.
 */
import { ActionError } from './errors.ts';
import { splitList } from './list.ts';
import { parseInsecureRegistries } from './hosts.ts';
import { type DescriptorAnnotation, parseAnnotations } from './oci/annotations.ts';
import { type Reference, parseNormalizedNamed } from './oci/reference.ts';
import { type Platform, isKnownArch, isKnownOS, parsePlatform } from './oci/platform.ts';
import { MAX_RESULT_ENTRIES, budgetExceeded } from './budgets.ts';
import { type FileRoots, jobRoots } from './files.ts';
import { type LayoutSpec, isLayoutLine, parseLayoutLine } from './layout.ts';
import { quote } from './escape.ts';
import { isReservedTag } from './oci/referrers.ts';
import { maskSecret } from './registry/credentials.ts';
import { RepositoryRule, type SourceLine, expandTemplates, readSourceFiles } from './sources.ts';

export type MediaTypeChoice = 'auto' | 'oci' | 'docker';

export interface SourceOverrides {
  platform?: Platform;
  /** The platform came from a template expansion: the config is still read to fill the rest. */
  platformFromTemplate?: boolean;
  osVersion?: string;
  osFeatures?: string[];
  variant?: string;
}

export interface SourceSpec {
  /** The line as written (reference and options). */
  line: string;
  /** Normalized reference; `:latest` when neither tag nor digest was given. */
  ref: Reference;
  overrides: SourceOverrides;
  /** `sources`, or the source file the line was read from. */
  origin: string;
  /** The line of that file, when read from one. */
  lineNumber?: number;
}

export interface Inputs {
  sources: SourceSpec[];
  /** `oci-layout://` sources (from the sources input). */
  layouts: LayoutSpec[];
  tags: Reference[];
  push: boolean;
  mediaType: MediaTypeChoice;
  /** referrers: attestations leave the index and are attached to their images as referrers. */
  attestations: 'keep' | 'drop' | 'referrers';
  /** copy: referrers and cosign tags travel with entries placed in another repository. */
  referrers: 'copy' | 'skip';
  /** warn: a referrer or cosign manifest a target refuses (405, 415, 400) is left out with a warning; fail: the run fails before any tag moves. */
  referrersRefused: 'warn' | 'fail';
  requirePlatforms: Platform[];
  /** The platforms the result keeps (the `platforms` input; empty: all); template lines expand over them. */
  platforms: Platform[];
  /** Annotations on the index (unprefixed and `index:` lines). */
  indexAnnotations: Record<string, string>;
  /** Annotations on the entries (`manifest-descriptor[platform]:` lines), in the order given. */
  descriptorAnnotations: DescriptorAnnotation[];
  /** Lines that do not apply to an index (`manifest:`), reported as skipped. */
  skippedAnnotations: string[];
  append: boolean;
  /** false: a tag that exists at another digest fails the run before any write. */
  overwrite: boolean;
  /** Leave out sources that do not exist (with a warning) instead of failing. */
  ignoreMissing: boolean;
  registry?: string;
  username?: string;
  password?: string;
  insecureRegistries: string[];
  retries: number;
  retryMaxSeconds: number;
  timeoutSeconds: number;
  concurrency: number;
}

/** Reads one raw input by name ('' when unset). */
export type InputReader = (name: string) => string;

function invalid(name: string, value: string, expected: string): ActionError {
  return ActionError.input(`Invalid ${name} '${value}'. Expected ${expected}`);
}

/**
 * Sources: one per line; commas also separate entries. Each entry is a reference followed by
 * optional whitespace-separated key=value overrides. A comma inside `os.features=a,b` belongs to
 * that option, so entries are split on commas only where the next token starts a reference.
 */
export function splitSources(value: string): string[] {
  const out: string[] = [];
  for (const line of value.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) continue;
    let current = '';
    for (const piece of trimmed.split(',')) {
      const p = piece.trim();
      // "key=value" fragments after a comma continue an option (os.features=a,b); others start a new entry.
      const continuesOption = current !== '' && /^[^\s=/:@]+$/.test(p) && /\S+=\S*$/.test(current);
      if (continuesOption) current += `,${p}`;
      else {
        if (current) out.push(current);
        current = p;
      }
    }
    if (current) out.push(current);
  }
  return out.filter(Boolean);
}

const OVERRIDE_KEYS = ['platform', 'os.version', 'os.features', 'variant'];

export function parseSourceSpec(entry: string, from: Omit<SourceLine, 'line'> = { origin: 'sources' }): SourceSpec {
  if (from.lineNumber === undefined) return parseSourceLine(entry, from);
  // A line read from a file: the error names the file and line, and quotes no more than the reference.
  const refText = entry.split(/\s+/)[0] ?? '';
  const at = `${from.origin} line ${from.lineNumber}`;
  try {
    parseNormalizedNamed(refText);
  } catch (e) {
    const why = e instanceof ActionError ? (e.detail ?? e.message) : String(e);
    throw ActionError.input(`Invalid source reference ${quote(refText)} in ${at}. Expected [registry/]repository[:tag][@sha256:<64 hex>] (${why})`);
  }
  try {
    return parseSourceLine(entry, from);
  } catch (e) {
    if (!(e instanceof ActionError)) throw e;
    throw ActionError.input(`Invalid source option after ${quote(refText)} in ${at}. Expected ${OVERRIDE_KEYS.map((k) => `${k}=…`).join(', ')} with a valid value`);
  }
}

function parseSourceLine(entry: string, from: Omit<SourceLine, 'line'>): SourceSpec {
  const [refText, ...options] = entry.split(/\s+/);
  let ref = parseReferenceInput('sources', refText ?? '');
  if (!ref.tag && !ref.digest) ref = ref.withTag('latest');
  const overrides: SourceOverrides = {};
  for (const option of options) {
    const eq = option.indexOf('=');
    const key = eq === -1 ? option : option.slice(0, eq);
    const val = eq === -1 ? '' : option.slice(eq + 1);
    if (!OVERRIDE_KEYS.includes(key)) {
      throw invalid('source option', option, `one of ${OVERRIDE_KEYS.map((k) => `${k}=…`).join(', ')} after the reference in '${entry}'`);
    }
    if (!val) throw invalid('source option', option, `${key}=<value>`);
    switch (key) {
      case 'platform':
        overrides.platform = parseKnownPlatform('platform', val);
        break;
      case 'os.version':
        overrides.osVersion = val;
        break;
      case 'os.features':
        overrides.osFeatures = val.split(',').filter(Boolean);
        break;
      case 'variant':
        if (!/^[A-Za-z0-9_.-]+$/.test(val)) throw invalid('variant', val, 'a CPU variant such as v6, v7, v8');
        overrides.variant = val;
        break;
    }
  }
  if (from.templatePlatform) {
    overrides.platform = from.templatePlatform;
    overrides.platformFromTemplate = true;
  }
  return { line: entry, ref, overrides, origin: from.origin, ...(from.lineNumber ? { lineNumber: from.lineNumber } : {}) };
}

/** Parses a platform and refuses unknown OS or architecture names (typos must not ship). */
export function parseKnownPlatform(name: string, value: string): Platform {
  let p: Platform;
  try {
    p = parsePlatform(value);
  } catch {
    throw invalid(name, value, 'os/arch[/variant], e.g. linux/amd64, linux/arm64/v8, linux/arm/v7');
  }
  if (!isKnownOS(p.os)) throw invalid(name, value, `a known operating system (linux, windows, darwin, …), not '${p.os}'`);
  if (!isKnownArch(p.architecture)) {
    throw invalid(name, value, `a known architecture (amd64, arm64, arm, 386, ppc64le, s390x, riscv64, …), not '${p.architecture}'`);
  }
  return p;
}

export function parseReferenceInput(name: string, value: string): Reference {
  try {
    return parseNormalizedNamed(value);
  } catch (e) {
    const why = e instanceof ActionError ? (e.detail ?? e.message) : String(e);
    throw invalid(
      name === 'sources' ? 'source reference' : 'tag',
      value,
      `[registry/]repository[:tag][@sha256:<64 hex>] (${why})`,
    );
  }
}

function parseBoolean(name: string, value: string, fallback: boolean): boolean {
  if (value === '') return fallback;
  if (/^(true|yes|1|on)$/i.test(value)) return true;
  if (/^(false|no|0|off)$/i.test(value)) return false;
  throw invalid(name, value, 'true or false');
}

function parseChoice<T extends string>(name: string, value: string, choices: readonly T[], fallback: T): T {
  if (value === '') return fallback;
  const v = value.toLowerCase() as T;
  if (!choices.includes(v)) throw invalid(name, value, `one of ${choices.join(', ')}`);
  return v;
}

function parseNumber(name: string, value: string, fallback: number, min: number, max: number): number {
  if (value === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) throw invalid(name, value, `a number from ${min} to ${max}`);
  return n;
}

/**
 * Where relative `source-files` patterns are resolved (the job's workspace), and the folders files
 * may be read from (the workspace and RUNNER_TEMP unless given).
 */
export interface InputContext {
  workspace: string;
  files?: FileRoots;
}

/** Builds and validates the typed inputs. */
export function getInputs(read: InputReader, context: InputContext = { workspace: process.env.GITHUB_WORKSPACE || process.cwd() }): Inputs {
  // The password is masked before any other input is read: an input or file that fails to parse
  // is quoted in the error, and could hold it.
  const password = read('password');
  maskSecret(password, 'the password input');
  const sourcesRaw = read('sources');
  const tagsRaw = read('tags');
  const tagEntries = splitList(tagsRaw);
  if (tagEntries.length === 0) throw invalid('tags', tagsRaw, 'at least one target reference such as ghcr.io/owner/app:1.0');
  const tags = tagEntries.map((t) => {
    const ref = parseReferenceInput('tags', t);
    if (ref.digest) throw invalid('tag', t, 'a tag reference (name:tag), not a digest: an index is pushed to tags');
    return ref.tag ? ref : ref.withTag('latest');
  });
  const uniqueTags = [...new Map(tags.map((t) => [t.toString(), t])).values()];
  const reserved = uniqueTags.filter((t) => isReservedTag(t.tag as string));
  if (reserved.length) {
    throw invalid(
      reserved.length > 1 ? 'tags' : 'tag',
      reserved.map(String).join(', '),
      'tags not named like a referrers fallback tag or a cosign tag (sha256-<64 hex>, sha512-<64 hex>, optionally .sig, .att or .sbom): those names hold another image’s signatures and referrers',
    );
  }
  const platforms = splitList(read('platforms')).map((p) => parseKnownPlatform('platforms', p));
  const { sources, layouts } = readSources(read, sourcesRaw, platforms, uniqueTags, context);
  const username = read('username');
  if (Boolean(username) !== Boolean(password)) {
    throw invalid(username ? 'password' : 'username', '', 'both username and password, or neither');
  }
  const registry = read('registry') || undefined;
  return {
    sources,
    layouts,
    tags: uniqueTags,
    push: parseBoolean('push', read('push'), true),
    mediaType: parseChoice('media-type', read('media-type'), ['auto', 'oci', 'docker'] as const, 'auto'),
    attestations: parseChoice('attestations', read('attestations'), ['keep', 'drop', 'referrers'] as const, 'keep'),
    referrers: parseChoice('referrers', read('referrers'), ['copy', 'skip'] as const, 'copy'),
    referrersRefused: parseChoice('referrers-refused', read('referrers-refused'), ['warn', 'fail'] as const, 'warn'),
    requirePlatforms: splitList(read('require-platforms')).map((p) => parseKnownPlatform('require-platforms', p)),
    platforms,
    ...parseAnnotations(read('annotations')),
    append: parseBoolean('append', read('append'), false),
    overwrite: parseBoolean('overwrite', read('overwrite'), true),
    ignoreMissing: parseBoolean('ignore-missing', read('ignore-missing'), false),
    registry,
    username: username || undefined,
    password: password || undefined,
    insecureRegistries: parseInsecureRegistries(read('insecure-registries')),
    retries: parseNumber('retries', read('retries'), 5, 0, 20),
    retryMaxSeconds: parseNumber('retry-max-seconds', read('retry-max-seconds'), 120, 0, 3600),
    timeoutSeconds: parseNumber('timeout', read('timeout'), 60, 1, 3600),
    concurrency: parseNumber('concurrency', read('concurrency'), 64, 1, 256),
  };
}

/**
 * Every source line: the `sources` input, then the `source-files` in sorted order; template lines
 * expanded over `platforms`. At least one source in all.
 */
function readSources(read: InputReader, sourcesRaw: string, platforms: Platform[], tags: Reference[], context: InputContext): Pick<Inputs, 'sources' | 'layouts'> {
  const filePatterns = splitLines(read('source-files'));
  const lines: SourceLine[] = splitSources(sourcesRaw).map((line) => ({ line, origin: 'sources' }));
  const rule = new RepositoryRule([], splitLines(read('source-files-repositories')));
  if (filePatterns.length) {
    const roots = context.files ?? jobRoots(context.workspace);
    for (const l of readSourceFiles(filePatterns, context.workspace, tags[0] as Reference, roots)) {
      for (const entry of splitSources(l.line)) lines.push({ ...l, line: entry });
      if (lines.length > MAX_RESULT_ENTRIES) throw tooManySourceLines(`more than ${MAX_RESULT_ENTRIES} (at ${l.origin} line ${l.lineNumber})`);
    }
  }
  if (lines.length === 0) {
    throw invalid('sources', sourcesRaw, filePatterns.length ? 'at least one image reference in sources or the source-files' : 'at least one image reference, one per line (or source-files)');
  }
  const expanded = expandTemplates(lines, platforms);
  if (expanded.length > MAX_RESULT_ENTRIES) throw tooManySourceLines(expanded.length);
  const layouts: LayoutSpec[] = [];
  for (const l of expanded.filter((x) => isLayoutLine(x.line))) {
    if (l.origin !== 'sources') throw invalid('source', l.line, `an image reference in the source file ${l.origin}: an OCI layout is named in the sources input only`);
    layouts.push(parseLayoutLine(l.line, l.origin, context.workspace, context.files ?? jobRoots(context.workspace)));
  }
  const specs = expanded.filter((x) => !isLayoutLine(x.line)).map(({ line, ...from }) => parseSourceSpec(line, from));
  checkFileRepositories(specs, new RepositoryRule([...tags, ...specs.filter((s) => s.origin === 'sources').map((s) => s.ref)], rule.patternTexts));
  return { sources: specs, layouts };
}

function tooManySourceLines(count: number | string): ActionError {
  return budgetExceeded('sources and source-files give too many source lines', count, MAX_RESULT_ENTRIES, 'An index holds at most that many entries; publish fewer images in one index');
}

/**
 * An artifact cannot widen what the workflow named: every reference read from a file lies in a
 * repository of the tags or the `sources` input, or one `source-files-repositories` allows.
 */
function checkFileRepositories(specs: SourceSpec[], rule: RepositoryRule): void {
  const outside = specs.filter((s) => s.origin !== 'sources' && !rule.allows(s.ref));
  if (!outside.length) return;
  const first = outside[0] as SourceSpec;
  throw ActionError.input(
    `Invalid source ${quote(first.ref.toString())} in ${first.origin}${first.lineNumber ? ` line ${first.lineNumber}` : ''}${outside.length > 1 ? ` (and ${outside.length - 1} more)` : ''}: repository ${first.ref.name} is named by neither the tags nor the sources input`,
    { hint: 'A file may only name the repositories the workflow names; list others it may name in source-files-repositories (glob patterns, e.g. ghcr.io/acme/*)' },
  );
}

/** One entry per non-blank, non-comment line (paths may hold commas). */
function splitLines(value: string): string[] {
  return value
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}
