/**
 * Where source lines come from besides the `sources` input: platform templates
 * (`app:1.0-{os}-{arch}{variant}` × `platforms`) and `source-files` (Docker's digest-artifact
 * folder, docker/build-push-action's `metadata` JSON, plain lists). Everything here runs while
 * the inputs are read, before any request: a bad file fails the run before anything is written.
 */
import { globSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { ActionError } from './errors.ts';
import { type Platform, formatPlatform } from './oci/platform.ts';
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
  /** The platform a template expansion stands for: it becomes the line's platform override. */
  templatePlatform?: Platform;
}

/**
 * Expands every template line once per platform (`{variant}` is empty when the platform has
 * none, so `{arch}{variant}` gives `amd64` and `armv7`). A template without platforms, or
 * platforms without a template, is an input error.
 */
export function expandTemplates(lines: SourceLine[], platforms: Platform[]): SourceLine[] {
  const templates = lines.filter((l) => isTemplate(l.line));
  if (templates.length === 0) {
    if (platforms.length) {
      throw ActionError.input(`Invalid platforms '${platforms.map(formatPlatform).join(',')}'. Expected a sources line with {os}, {arch} or {variant} to expand them into (platforms only applies to templates)`);
    }
    return lines;
  }
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
      templatePlatform: p,
    }));
  });
}

const DIGEST_FILE_NAME = /^[a-f0-9]{64}$/;

/**
 * The source lines one file adds:
 * - an empty file named by 64 lowercase hex characters (Docker's digest-artifact pattern):
 *   `<repository of the first tag>@sha256:<name>`;
 * - docker/build-push-action's `metadata` JSON: `<name>@<containerimage.digest>` for the
 *   `image.name` entry on the first tag's registry, else the first name;
 * - anything else: each non-empty line is a sources line.
 */
export function sourceLinesOfFile(baseName: string, content: string, firstTag: Reference, shownAs: string): string[] {
  if (DIGEST_FILE_NAME.test(baseName) && content.trim() === '') return [`${firstTag.name}@sha256:${baseName}`];
  const trimmed = content.trim();
  if (trimmed.startsWith('{')) return [fromBuildMetadata(trimmed, firstTag, shownAs)];
  return content
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
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
 * file in sorted order. A pattern that matches nothing is an error (the artifact download that
 * should have produced it failed).
 */
export function readSourceFiles(patterns: string[], workspace: string, firstTag: Reference): SourceLine[] {
  const files = new Set<string>();
  for (const pattern of patterns) {
    const matched = isGlob(pattern) ? globSync(pattern, { cwd: workspace }).map((f) => resolve(workspace, f)) : [resolve(workspace, pattern)];
    const regular = matched.filter((f) => {
      try {
        return statSync(f).isFile();
      } catch {
        return false;
      }
    });
    if (regular.length === 0) {
      const where = isAbsolute(pattern) ? '' : ` under ${workspace}`;
      throw ActionError.input(`Invalid source-files '${pattern}'. Expected it to match at least one file${where} (did the artifact download fail?)`);
    }
    for (const f of regular) files.add(f);
  }
  const out: SourceLine[] = [];
  for (const file of [...files].sort()) {
    const shownAs = relativeOrAbsolute(file, workspace);
    const base = file.slice(file.lastIndexOf(sep) + 1);
    for (const line of sourceLinesOfFile(base, readFileSync(file, 'utf8'), firstTag, shownAs)) out.push({ line, origin: shownAs });
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
