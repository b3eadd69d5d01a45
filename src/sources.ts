/**
 * Where source lines come from besides the `sources` input: platform templates
 * (`app:1.0-{os}-{arch}{variant}` × `platforms`) and `source-files` (Docker's digest-artifact
 * folder, docker/build-push-action's `metadata` JSON, plain lists). Everything here runs while
 * the inputs are read, before any request: a bad file fails the run before anything is written.
 */
import { globSync, lstatSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { ActionError } from './errors.ts';
import { type FileRoots, readBoundedFile } from './files.ts';
import type { Platform } from './oci/platform.ts';
import type { Reference } from './oci/reference.ts';

const PLACEHOLDER = /\{(os|arch|variant)\}/g;

/** True when a source line holds a platform placeholder. */
export function isTemplate(line: string): boolean {
  return /\{(os|arch|variant)\}/.test(line);
}

/** One source line with where it came from (for the log). */
export interface SourceLine {
  line: string;
  /** `sources`, or the file it was read from. */
  origin: string;
  /** The line of that file (1-based), for errors. */
  lineNumber?: number;
  /** The platform a template expansion stands for: it becomes the line's platform override. */
  templatePlatform?: Platform;
}

/**
 * Expands every template line once per platform (`{variant}` is empty when the platform has
 * none, so `{arch}{variant}` gives `amd64` and `armv7`). A template without platforms is an input
 * error.
 */
export function expandTemplates(lines: SourceLine[], platforms: Platform[]): SourceLine[] {
  const templates = lines.filter((l) => isTemplate(l.line));
  // Without a template line, platforms only selects what the sources contribute (resolve.ts).
  if (templates.length === 0) return lines;
  if (platforms.length === 0) {
    const first = templates[0] as SourceLine;
    throw ActionError.input(`Invalid source '${first.line}'. Expected the platforms input to list what {os}, {arch} and {variant} expand to (e.g. platforms: linux/amd64,linux/arm64)`);
  }
  return lines.flatMap((l) => {
    if (!isTemplate(l.line)) return [l];
    if (/(^|\s)platform=/.test(l.line)) {
      throw ActionError.input(`Invalid source '${l.line}'. Expected no platform= option on a template line: each expansion takes its platform from the platforms input`);
    }
    return platforms.map((p) => ({
      line: l.line.replace(PLACEHOLDER, (_m, key: string) => (key === 'os' ? p.os : key === 'arch' ? p.architecture : (p.variant ?? ''))),
      origin: l.origin,
      ...(l.lineNumber ? { lineNumber: l.lineNumber } : {}),
      templatePlatform: p,
    }));
  });
}

const DIGEST_FILE_NAME = /^[a-f0-9]{64}$/;
/** The most files `source-files` may match (a matrix has tens of jobs). */
export const MAX_SOURCE_FILES = 1000;

/** One sources line read from a file, with its line number (1-based) for errors. */
export interface FileLine {
  line: string;
  lineNumber: number;
}

/**
 * The source lines one file adds:
 * - a file named by 64 lowercase hex characters (Docker's digest-artifact pattern) must be empty
 *   (whitespace only): `<repository of the first tag>@sha256:<name>`; one with content fails, since
 *   whoever wrote the artifact would otherwise choose what is published;
 * - docker/build-push-action's `metadata` JSON: `<name>@<containerimage.digest>` for the
 *   `image.name` entry on the first tag's registry, else the first name;
 * - anything else: each non-empty line is a sources line.
 */
export function sourceLinesOfFile(baseName: string, content: string, firstTag: Reference, shownAs: string): FileLine[] {
  const trimmed = content.trim();
  if (DIGEST_FILE_NAME.test(baseName)) {
    if (trimmed !== '') {
      throw ActionError.input(`Invalid source file '${shownAs}': it is named by a digest but is not empty. Expected an empty file (Docker's digest-artifact pattern)`, {
        hint: 'A digest file stands for <repository of the first tag>@sha256:<name>; put source lists in files not named by a digest',
      });
    }
    return [{ line: `${firstTag.name}@sha256:${baseName}`, lineNumber: 1 }];
  }
  if (trimmed.startsWith('{')) return [{ line: fromBuildMetadata(trimmed, firstTag, shownAs), lineNumber: 1 }];
  return content
    .split(/\r?\n/)
    .map((l, i) => ({ line: l.trim(), lineNumber: i + 1 }))
    .filter((l) => l.line && !l.line.startsWith('#'));
}

function fromBuildMetadata(json: string, firstTag: Reference, shownAs: string): string {
  let meta: unknown;
  try {
    meta = JSON.parse(json);
  } catch {
    throw ActionError.input(`Invalid source file '${shownAs}'. Expected docker/build-push-action's metadata JSON (it starts with '{' but is not JSON)`);
  }
  const m = meta as Record<string, unknown>;
  const digest = m['containerimage.digest'];
  const names = m['image.name'];
  if (typeof digest !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(digest) || typeof names !== 'string' || !names.trim()) {
    throw ActionError.input(`Invalid source file '${shownAs}'. Expected docker/build-push-action's metadata with "containerimage.digest" (sha256:<64 hex>) and "image.name"`);
  }
  const list = names.split(',').map((n) => n.trim()).filter(Boolean);
  // A name may carry a tag or a digest (image.name lists what was pushed): the digest given names the image.
  const withoutTag = (n: string) => n.replace(/@[^@]*$/, '').replace(/:[\w][\w.-]{0,127}$/, '');
  const onFirstRegistry = list.find((n) => registryOfName(withoutTag(n)) === firstTag.domain);
  return `${withoutTag(onFirstRegistry ?? (list[0] as string))}@${digest}`;
}

/** The registry part of an image name, with Docker's normalization (docker.io when none). */
function registryOfName(name: string): string {
  const slash = name.indexOf('/');
  const first = slash === -1 ? '' : name.slice(0, slash);
  const isRegistry = first && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!isRegistry || first === 'index.docker.io') return 'docker.io';
  return first;
}

/**
 * Reads the `source-files` patterns (paths or globs, relative to `workspace`): every matched
 * file in sorted order, under the file rules (src/files.ts). A pattern that matches nothing is an
 * error (the artifact download that should have produced it failed); so is a matched symlink,
 * FIFO or device, or a file outside the allowed roots.
 */
export function readSourceFiles(patterns: string[], workspace: string, firstTag: Reference, allowed: FileRoots): SourceLine[] {
  const files = new Set<string>();
  for (const pattern of patterns) {
    const matched = isGlob(pattern) ? globSync(pattern, { cwd: workspace }).map((f) => resolve(workspace, f)) : [resolve(workspace, pattern)];
    // Folders a glob matches are passed over; anything else is read under the file rules (and refused there).
    const candidates = matched.filter((f) => {
      try {
        return !lstatSync(f).isDirectory();
      } catch {
        return false;
      }
    });
    if (candidates.length === 0) {
      const where = isAbsolute(pattern) ? '' : ` under ${workspace}`;
      throw ActionError.input(`Invalid source-files '${pattern}'. Expected it to match at least one file${where} (did the artifact download fail?)`);
    }
    for (const f of candidates) files.add(f);
    if (files.size > MAX_SOURCE_FILES) {
      throw ActionError.input(`Invalid source-files '${pattern}': the patterns match more than ${MAX_SOURCE_FILES} files`, { hint: 'Name the folder the artifacts were downloaded to, and nothing else' });
    }
  }
  const out: SourceLine[] = [];
  for (const file of [...files].sort()) {
    const shownAs = relativeOrAbsolute(file, workspace);
    const base = file.slice(file.lastIndexOf(sep) + 1);
    for (const { line, lineNumber } of sourceLinesOfFile(base, readBoundedFile(file, shownAs, allowed), firstTag, shownAs)) out.push({ line, origin: shownAs, lineNumber });
  }
  return out;
}

function isGlob(pattern: string): boolean {
  return /[*?[\]{}]/.test(pattern);
}

function relativeOrAbsolute(file: string, workspace: string): string {
  const r = relative(workspace, file);
  return r && !r.startsWith('..') && !isAbsolute(r) ? r : file;
}

/**
 * The repositories references read from files may name: those the inputs name (the tags', the
 * `sources` lines'), and those matching a pattern of `source-files-repositories` (`*` within a
 * path component, `**` across them, `?` one character). Patterns are normalized as references
 * are (`app` is docker.io/library/app, `acme/app` docker.io/acme/app).
 */
export class RepositoryRule {
  private readonly named: Set<string>;
  private readonly patterns: Array<{ text: string; re: RegExp }>;
  constructor(named: Iterable<Reference>, patterns: string[]) {
    this.named = new Set([...named].map((r) => r.name));
    this.patterns = patterns.map((text) => ({ text, re: patternRegExp(text) }));
  }
  /** The patterns as given (validated). */
  get patternTexts(): string[] {
    return this.patterns.map((p) => p.text);
  }
  allows(ref: Reference): boolean {
    return this.named.has(ref.name) || this.patterns.some((p) => p.re.test(ref.name));
  }
}

const PATTERN = /^[a-z0-9._\-/:*?]+$/;

function patternRegExp(text: string): RegExp {
  const p = text.trim();
  if (!PATTERN.test(p) || p.startsWith('/') || p.endsWith('/')) {
    throw ActionError.input(`Invalid source-files-repositories '${p}'. Expected a repository name or glob pattern such as ghcr.io/acme/* (lowercase; * within a path component, ** across them)`);
  }
  const parts = p.split('/');
  const first = parts[0] as string;
  const hasRegistry = parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost');
  const normalized = hasRegistry ? p : parts.length === 1 ? `docker.io/library/${p}` : `docker.io/${p}`;
  const body = normalized
    .split(/(\*\*|\*|\?)/)
    .map((piece) => (piece === '**' ? '.*' : piece === '*' ? '[^/]*' : piece === '?' ? '[^/]' : piece.replace(/[.\\^$+()[\]{}|]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`);
}
