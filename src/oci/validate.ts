/**
 * Registry data checked before use. A manifest, index or config comes from a registry the workflow
 * author may not control; its descriptors and platforms end up in the index this action pushes,
 * in log lines, outputs and the summary. Each check names the field and shows the value quoted.
 * The grammar is the OCI image spec's and containerd's: os, architecture and variant are
 * lowercase tokens; os.version is printable without blanks; os.features and features are arrays
 * of tokens; annotations map strings to strings.
 */
import { ActionError } from '../errors.ts';
import { quote } from '../escape.ts';
import { parseDigest } from './digest.ts';
import type { Descriptor } from './descriptor.ts';
import type { Platform } from './platform.ts';

/** containerd's platform component characters, lowercase (it lowercases what it parses). */
const TOKEN = /^[a-z0-9_.-]{1,128}$/;
/** Printable ASCII without space: Windows builds (10.0.17763.1234) and the like. */
const OS_VERSION = /^[\x21-\x7e]{1,128}$/;
/** RFC 6838 type/subtype (restricted-name characters), parameters not allowed: a manifest's own type, a Content-Type. */
const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;
/**
 * The same with at most four `;name=value` parameters of those characters (no quotes, at most one
 * space after `;`), for descriptors and artifactType: Sigstore's bundles were
 * `application/vnd.dev.sigstore.bundle+json;version=0.2` (sigstore/sigstore-js#1058), and a
 * signature in that form is data to copy, not a reason to fail the run.
 */
const MEDIA_TYPE_WITH_PARAMETERS = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}(?:; ?[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,62}=[A-Za-z0-9!#$&^_.+-]{1,62}){0,4}$/;

/** A field that failed its check: where it is, what it holds (quoted), what it should be. */
export class InvalidField {
  readonly field: string;
  readonly value: unknown;
  readonly expected: string;
  constructor(field: string, value: unknown, expected: string) {
    this.field = field;
    this.value = value;
    this.expected = expected;
  }
  toString(): string {
    return `${this.field} ${this.value === undefined ? 'is missing' : `is ${quote(this.value)}`}: expected ${this.expected}`;
  }
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Absent, as Go's encoding/json (which registries and clients use) reads null, "" or a missing key. */
export function present(v: unknown): boolean {
  return v !== undefined && v !== null && v !== '';
}

export function token(v: unknown, field: string): string {
  if (typeof v !== 'string' || !TOKEN.test(v)) throw new InvalidField(field, v, 'a lowercase token of [a-z0-9_.-]');
  return v;
}

function tokens(v: unknown, field: string): string[] {
  if (!Array.isArray(v)) throw new InvalidField(field, v, 'an array of lowercase tokens');
  return v.map((f, i) => token(f, `${field}[${i}]`));
}

/** A platform object (from an index entry or an image config's platform fields). */
export function checkPlatform(v: unknown, field: string): Platform {
  if (!isRecord(v)) throw new InvalidField(field, v, 'a platform object');
  // Absent (or empty, as Docker's manifest list writes an unset platform) os and architecture
  // are left to the caller: publish then reads them from the image config.
  const p: Platform = {
    os: present(v.os) ? token(v.os, `${field}.os`) : '',
    architecture: present(v.architecture) ? token(v.architecture, `${field}.architecture`) : '',
  };
  Object.assign(p, optionalPlatformFields(v, field));
  return p;
}

/** variant, os.version, os.features and (for descriptors) features when present. */
export function optionalPlatformFields(v: Record<string, unknown>, field: string, withFeatures = true): Partial<Platform> {
  const p: Partial<Platform> = {};
  const at = (name: string) => (field ? `${field}.${name}` : name);
  if (present(v.variant)) p.variant = token(v.variant, at('variant'));
  const osVersion = v['os.version'];
  if (present(osVersion)) {
    if (typeof osVersion !== 'string' || !OS_VERSION.test(osVersion)) throw new InvalidField(at('os.version'), osVersion, 'printable text without blanks');
    p['os.version'] = osVersion;
  }
  if (present(v['os.features'])) p['os.features'] = tokens(v['os.features'], at('os.features'));
  if (withFeatures && present(v.features)) p.features = tokens(v.features, at('features'));
  return p;
}

/** A string-to-string map. */
export function checkAnnotations(v: unknown, field: string): Record<string, string> {
  if (!isRecord(v)) throw new InvalidField(field, v, 'a map of strings');
  for (const [k, value] of Object.entries(v)) {
    if (typeof value !== 'string') throw new InvalidField(`${field}[${quote(k)}]`, value, 'a string');
  }
  return v as Record<string, string>;
}

export function checkMediaType(v: unknown, field: string, parameters = false): string {
  if (typeof v !== 'string' || !(parameters ? MEDIA_TYPE_WITH_PARAMETERS : MEDIA_TYPE).test(v)) {
    throw new InvalidField(field, v, parameters ? 'a media type (type/subtype[;name=value])' : 'a media type (type/subtype)');
  }
  return v;
}

/** A content descriptor, with its platform and annotations when present. */
export function checkDescriptor(v: unknown, field: string): Descriptor {
  if (!isRecord(v)) throw new InvalidField(field, v, 'a descriptor object');
  checkMediaType(v.mediaType, `${field}.mediaType`, true);
  if (typeof v.digest !== 'string') throw new InvalidField(`${field}.digest`, v.digest, 'a digest');
  try {
    parseDigest(v.digest);
  } catch {
    throw new InvalidField(`${field}.digest`, v.digest, 'a digest (sha256:<64 hex> or sha512:<128 hex>)');
  }
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) throw new InvalidField(`${field}.size`, v.size, 'a non-negative integer');
  if (present(v.platform)) checkPlatform(v.platform, `${field}.platform`);
  if (present(v.annotations)) checkAnnotations(v.annotations, `${field}.annotations`);
  if (present(v.artifactType)) checkMediaType(v.artifactType, `${field}.artifactType`, true);
  if (present(v.urls) && !(Array.isArray(v.urls) && v.urls.every((u) => typeof u === 'string'))) {
    throw new InvalidField(`${field}.urls`, v.urls, 'an array of strings');
  }
  return v as unknown as Descriptor;
}

/** The error for registry data that failed a check: names the source and the field. */
export function invalidData(e: InvalidField, what: string, where: string): ActionError {
  return ActionError.integrity(`invalid ${what} from ${where}: ${e}`, {
    code: 'MANIFEST_INVALID',
    hint: 'The registry holds data this action will not publish: rebuild and push the source, or name another',
  });
}

/**
 * A child manifest as read (or as a HEAD describes it) must be what its index entry declared: the
 * same size and media type (a read by digest checks the digest). An index that lies about either
 * is refused, naming the index `where` it came from. A HEAD without Content-Length or
 * Content-Type leaves that part unchecked (size -1, media type '').
 */
export function checkDescribes(d: Descriptor, read: { size: number; mediaType: string }, where: string): void {
  if (read.size >= 0 && read.size !== d.size) {
    throw invalidData(new InvalidField(`the entry for ${d.digest}: size`, d.size, `${read.size}, the size of that manifest`), 'index', where);
  }
  if (read.mediaType && read.mediaType !== d.mediaType) {
    throw invalidData(new InvalidField(`the entry for ${d.digest}: mediaType`, d.mediaType, `${quote(read.mediaType)}, the media type of that manifest`), 'index', where);
  }
}
