/**
 * Image references, ported from distribution/reference (v0.6) by its test vectors: the grammar,
 * strict parsing, Docker normalization (docker.io, library/) and WithTag: what the action parses
 * sources and tags with.
 */
import { ActionError } from '../errors.ts';
import { type Digest, parseDigest } from './digest.ts';

export const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
const NAME_TOTAL_LENGTH_MAX = 255;

// The grammar, as in distribution/reference regexp.go.
const alphanumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const domainNameComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const ipv6address = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainName = `${domainNameComponent}(?:\\.${domainNameComponent})*`;
const host = `(?:${domainName}|${ipv6address})`;
const domainAndPort = `${host}(?::[0-9]+)?`;
const tagPattern = '[\\w][\\w.-]{0,127}';
const digestPattern = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}';
const remoteName = `${pathComponent}(?:/${pathComponent})*`;
const namePattern = `(?:${domainAndPort}/)?${remoteName}`;

export const referenceRegexp = new RegExp(`^(${namePattern})(?::(${tagPattern}))?(?:@(${digestPattern}))?$`);
export const anchoredNameRegexp = new RegExp(`^(?:(${domainAndPort})/)?(${remoteName})$`);
export const anchoredIdentifierRegexp = /^[a-f0-9]{64}$/;
const anchoredTagRegexp = new RegExp(`^${tagPattern}$`);

const ERR = {
  ReferenceInvalidFormat: 'invalid reference format',
  TagInvalidFormat: 'invalid tag format',
  NameContainsUppercase: 'repository name must be lowercase',
  NameEmpty: 'repository name must have at least one component',
  NameTooLong: `repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`,
} as const;

function referenceError(sentinel: keyof typeof ERR, input: string, detail?: string): ActionError {
  const reason = detail ?? ERR[sentinel];
  return ActionError.reference(`${reason}: '${input}'`, {
    sentinel: `Err${sentinel}`,
    detail: reason,
    hint: 'Expected [registry[:port]/]repository[:tag][@sha256:<64 hex>], e.g. ghcr.io/owner/app:1.0',
  });
}

/** A named reference: domain + path, with an optional tag and digest. */
export class Reference {
  readonly domain: string;
  readonly path: string;
  readonly tag: string | undefined;
  readonly digest: Digest | undefined;

  constructor(domain: string, path: string, tag?: string, digest?: Digest) {
    this.domain = domain;
    this.path = path;
    this.tag = tag || undefined;
    this.digest = digest || undefined;
  }

  /** domain/path (or just path when there is no domain). */
  get name(): string {
    return this.domain ? `${this.domain}/${this.path}` : this.path;
  }

  /** The tag or digest used to address the manifest (digest wins). */
  get identifier(): string {
    return this.digest ?? this.tag ?? 'latest';
  }

  toString(): string {
    return `${this.name}${this.tag ? `:${this.tag}` : ''}${this.digest ? `@${this.digest}` : ''}`;
  }

  withTag(tag: string): Reference {
    if (!anchoredTagRegexp.test(tag)) throw referenceError('TagInvalidFormat', tag);
    return new Reference(this.domain, this.path, tag, this.digest);
  }
}

/** Strict parse: no normalization; domain is '' when the name has none. */
export function parse(s: string): Reference {
  const m = referenceRegexp.exec(s);
  if (!m) {
    if (s === '') throw referenceError('NameEmpty', s);
    if (referenceRegexp.test(s.toLowerCase())) throw referenceError('NameContainsUppercase', s);
    throw referenceError('ReferenceInvalidFormat', s);
  }
  const name = m[1] as string;
  const nameMatch = anchoredNameRegexp.exec(name);
  const domain = nameMatch?.[1] ?? '';
  const path = nameMatch ? (nameMatch[2] as string) : name;
  if (path.length > NAME_TOTAL_LENGTH_MAX) throw referenceError('NameTooLong', s);
  const digest = m[3] ? parseDigest(m[3]) : undefined;
  return new Reference(domain, path, m[2], digest);
}

function splitDockerDomain(name: string): [string, string] {
  let domain: string;
  let remainder: string;
  const i = name.indexOf('/');
  const first = i === -1 ? '' : name.slice(0, i);
  if (i === -1 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = DEFAULT_DOMAIN;
    remainder = name;
  } else {
    domain = first;
    remainder = name.slice(i + 1);
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_REPO_PREFIX + remainder;
  return [domain, remainder];
}

/** Docker normalization: `alpine:3` → docker.io/library/alpine:3. No default tag. */
export function parseNormalizedNamed(s: string): Reference {
  if (anchoredIdentifierRegexp.test(s)) {
    throw referenceError(
      'ReferenceInvalidFormat',
      s,
      `invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`,
    );
  }
  const [domain, remainder] = splitDockerDomain(s);
  const tagSep = remainder.indexOf(':');
  const remote = tagSep > -1 ? remainder.slice(0, tagSep) : remainder;
  if (remote.toLowerCase() !== remote) {
    throw referenceError(
      'NameContainsUppercase',
      s,
      `invalid reference format: repository name (${remote}) must be lowercase`,
    );
  }
  const ref = parse(`${domain}/${remainder}`);
  if (!ref.path) throw referenceError('ReferenceInvalidFormat', s);
  return ref;
}

/** Normalization plus `:latest`; a reference with both tag and digest keeps only the digest. */
export function parseDockerRef(s: string): Reference {
  const named = parseNormalizedNamed(s);
  if (named.digest) return new Reference(named.domain, named.path, undefined, named.digest);
  if (!named.tag) return new Reference(named.domain, named.path, 'latest');
  return named;
}
