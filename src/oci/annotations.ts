/**
 * Annotation lines as `docker buildx build --annotation` and `imagetools create --annotation` take
 * them (docker/buildx util/buildflags ParseAnnotations), and as docker/metadata-action writes them:
 * `[type[,type…][platform]:]key=value`. The line is cut at its first `=`, the key at its first
 * `:`; each comma-separated type may carry a platform filter in square brackets (containerd's
 * syntax). An index takes `index` (and untyped) lines and `manifest-descriptor` lines; `manifest`
 * and `index-descriptor` do not apply to an index and are reported as skipped.
 */
import { ActionError } from '../errors.ts';
import { matchesFilter } from './match.ts';
import { type Platform, parsePlatform } from './platform.ts';

/** One `manifest-descriptor` annotation, for every entry or for the entries matching `platform`. */
export interface DescriptorAnnotation {
  key: string;
  value: string;
  /** The filter as written (`linux/arm64`), when the line had one. */
  filter?: string;
  platform?: Platform;
}

export interface ParsedAnnotations {
  /** Annotations on the index (untyped and `index` lines; the last line of a key wins). */
  indexAnnotations: Record<string, string>;
  /** Descriptor annotations in the order given (a later line wins on the entries it matches). */
  descriptorAnnotations: DescriptorAnnotation[];
  /** Lines (or the part of a line) that do not apply to an index: `manifest`, `index-descriptor`. */
  skippedAnnotations: string[];
}

const TYPES = ['index', 'manifest', 'manifest-descriptor', 'index-descriptor'] as const;
const TYPE_AND_PLATFORM = /^([a-z-]+)(?:\[([^[\]]+)\])?$/;
/** What a key may not hold: it would be read as a type, a filter or a separator (or break a line). */
const BAD_KEY = /[\s,[\]:]/;
const EXPECTED = '[type[,type…][platform]:]key=value with types index, manifest-descriptor, manifest, index-descriptor (e.g. index:org.opencontainers.image.version=1.0, manifest-descriptor[linux/arm64]:com.example.k=v)';

function invalid(line: string, why: string): ActionError {
  return ActionError.input(`Invalid annotation '${line}' (${why}). Expected ${EXPECTED}`);
}

/** Parses the `annotations` input, one line each; blank lines and `#` comments are ignored. */
export function parseAnnotations(value: string): ParsedAnnotations {
  const out: ParsedAnnotations = { indexAnnotations: {}, descriptorAnnotations: [], skippedAnnotations: [] };
  for (const raw of value.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq === -1) throw invalid(line, 'no =');
    const left = line.slice(0, eq);
    const value = line.slice(eq + 1);
    const colon = left.indexOf(':');
    const typesText = colon === -1 ? '' : left.slice(0, colon);
    const key = colon === -1 ? left : left.slice(colon + 1);
    if (!key) throw invalid(line, 'empty key');
    if (BAD_KEY.test(key)) throw invalid(line, `the key '${key}' holds whitespace, ',', '[', ']' or ':'`);
    if (colon === -1) {
      out.indexAnnotations[key] = value;
      continue;
    }
    for (const typeAndPlatform of typesText.split(',')) {
      const m = TYPE_AND_PLATFORM.exec(typeAndPlatform);
      if (!m) throw invalid(line, `'${typeAndPlatform}' is not a type with an optional [platform]`);
      const type = m[1] as string;
      const filter = m[2];
      if (!(TYPES as readonly string[]).includes(type)) throw invalid(line, `unknown type '${type}'`);
      let platform: Platform | undefined;
      if (filter !== undefined) {
        try {
          platform = parsePlatform(filter);
        } catch (e) {
          throw invalid(line, `platform '${filter}': ${e instanceof ActionError ? e.message : String(e)}`);
        }
      }
      if (type === 'manifest-descriptor') {
        out.descriptorAnnotations.push({ key, value, ...(filter !== undefined ? { filter, platform } : {}) });
      } else if (type === 'index') {
        // As buildx imagetools does: the index is every platform's, a filter on it selects it.
        out.indexAnnotations[key] = value;
      } else {
        out.skippedAnnotations.push(`${typeAndPlatform}:${key}=${value}`);
      }
    }
  }
  return out;
}

/** The descriptor annotations that apply to an entry of this platform (none for an entry without one). */
export function descriptorAnnotationsFor(list: DescriptorAnnotation[], platform: Platform | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of list) {
    if (a.platform && (!platform || !matchesFilter(a.platform, platform))) continue;
    out[a.key] = a.value;
  }
  return out;
}

/** True when no line annotates anything (only skipped lines, or none). */
export function hasAnnotations(a: Pick<ParsedAnnotations, 'indexAnnotations' | 'descriptorAnnotations'>): boolean {
  return Object.keys(a.indexAnnotations).length > 0 || a.descriptorAnnotations.length > 0;
}
