/**
 * Image references, ported from distribution/reference (v0.6) by its test vectors:
 * the grammar, strict parsing, Docker normalization (docker.io, library/), familiar forms,
 * composition (WithName/WithTag/WithDigest) and FamiliarMatch.
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
export const anchoredDomainAndPortRegexp = new RegExp(`^${domainAndPort}$`);
export const anchoredIdentifierRegexp = /^[a-f0-9]{64}$/;
export const anchoredRemoteNameRegexp = new RegExp(`^${remoteName}$`);
export const anchoredTagRegexp = new RegExp(`^${tagPattern}$`);
const anchoredDigestRegexp = new RegExp(`^${digestPattern}$`);

export const ERR = {
  ReferenceInvalidFormat: 'invalid reference format',
  TagInvalidFormat: 'invalid tag format',
  DigestInvalidFormat: 'invalid digest format',
  NameContainsUppercase: 'repository name must be lowercase',
  NameEmpty: 'repository name must have at least one component',
  NameTooLong: `repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`,
  NameNotCanonical: 'repository name must be canonical',
} as const;

export function referenceError(sentinel: keyof typeof ERR, input: string, detail?: string): ActionError {
  return new ActionError(`${detail ?? ERR[sentinel]}: '${input}'`, {
    kind: 'reference',
    sentinel: `Err${sentinel}`,
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

  /** The short form Docker prints: docker.io and library/ removed. */
  familiarName(): string {
    if (this.domain !== DEFAULT_DOMAIN) return this.name;
    const path = this.path;
    if (path.startsWith(OFFICIAL_REPO_PREFIX) && !path.slice(OFFICIAL_REPO_PREFIX.length).includes('/')) {
      return path.slice(OFFICIAL_REPO_PREFIX.length);
    }
    return path;
  }

  familiarString(): string {
    return `${this.familiarName()}${this.tag ? `:${this.tag}` : ''}${this.digest ? `@${this.digest}` : ''}`;
  }

  withTag(tag: string): Reference {
    if (!anchoredTagRegexp.test(tag)) throw referenceError('TagInvalidFormat', tag);
    return new Reference(this.domain, this.path, tag, this.digest);
  }

  withDigest(digest: string): Reference {
    if (!anchoredDigestRegexp.test(digest)) throw referenceError('DigestInvalidFormat', digest);
    return new Reference(this.domain, this.path, this.tag, digest as Digest);
  }
}

/** A reference that is only a digest (ParseAnyReference of a bare digest or 64-hex id). */
export class DigestReference {
  readonly digest: Digest;
  constructor(digest: Digest) {
    this.digest = digest;
  }
  toString(): string {
    return this.digest;
  }
  familiarString(): string {
    return this.digest;
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

/** As parseNormalizedNamed, but a bare digest or 64-hex id is a digest reference. */
export function parseAnyReference(s: string): Reference | DigestReference {
  if (anchoredIdentifierRegexp.test(s)) return new DigestReference(`sha256:${s}`);
  try {
    return new DigestReference(parseDigest(s));
  } catch {
    return parseNormalizedNamed(s);
  }
}

/** Accepts only canonical (fully normalized) names. */
export function parseNamed(s: string): Reference {
  const named = parseNormalizedNamed(s);
  if (named.toString() !== s) throw referenceError('NameNotCanonical', s);
  return named;
}

/** A name without tag or digest, validated against the name grammar. */
export function withName(name: string): Reference {
  const m = anchoredNameRegexp.exec(name);
  if (!m) throw referenceError('ReferenceInvalidFormat', name);
  const path = m[2] as string;
  if (path.length > NAME_TOTAL_LENGTH_MAX) throw referenceError('NameTooLong', name);
  return new Reference(m[1] ?? '', path);
}

/**
 * Go's path.Match: `*` matches any run of non-'/' characters, `?` one non-'/' character,
 * `[…]` a class (with ranges and `^` negation), `\` escapes. Throws on a malformed pattern.
 */
export function pathMatch(pattern: string, name: string): boolean {
  const bad = (): never => {
    throw new ActionError(`syntax error in pattern: '${pattern}'`, { kind: 'input', sentinel: 'ErrBadPattern' });
  };
  // Validate the whole pattern first, as Go does when a match fails early.
  const validate = () => {
    let i = 0;
    while (i < pattern.length) {
      const c = pattern[i];
      if (c === '\\') {
        if (i + 1 >= pattern.length) bad();
        i += 2;
      } else if (c === '[') {
        i = scanClass(i + 1, null).end;
      } else i++;
    }
  };
  const getEsc = (j: number): [string, number] => {
    if (j >= pattern.length || pattern[j] === '-' || pattern[j] === ']') bad();
    if (pattern[j] === '\\') {
      j++;
      if (j >= pattern.length) bad();
    }
    const cp = pattern.codePointAt(j) as number;
    const ch = String.fromCodePoint(cp);
    return [ch, j + ch.length];
  };
  // Scans a class starting after '['; returns where it ends and whether `ch` matched.
  const scanClass = (j: number, ch: string | null): { end: number; matched: boolean } => {
    let negated = false;
    if (pattern[j] === '^') {
      negated = true;
      j++;
    }
    let matched = false;
    let n = 0;
    for (;;) {
      if (j < pattern.length && pattern[j] === ']' && n > 0) {
        j++;
        break;
      }
      let lo: string;
      [lo, j] = getEsc(j);
      let hi = lo;
      if (pattern[j] === '-') {
        [hi, j] = getEsc(j + 1);
      }
      if (ch !== null && lo <= ch && ch <= hi) matched = true;
      n++;
    }
    return { end: j, matched: matched !== negated };
  };
  const match = (pi: number, ni: number): boolean => {
    while (pi < pattern.length) {
      const c = pattern[pi];
      if (c === '*') {
        while (pattern[pi] === '*') pi++;
        if (pi === pattern.length) return !name.slice(ni).includes('/');
        for (let k = ni; k <= name.length; k++) {
          if (match(pi, k)) return true;
          if (name[k] === '/') break;
        }
        return false;
      }
      if (ni >= name.length) return false;
      const ch = String.fromCodePoint(name.codePointAt(ni) as number);
      if (c === '?') {
        if (ch === '/') return false;
        pi++;
      } else if (c === '[') {
        if (ch === '/') return false;
        const r = scanClass(pi + 1, ch);
        if (!r.matched) return false;
        pi = r.end;
      } else {
        let lit = c as string;
        if (c === '\\') {
          pi++;
          if (pi >= pattern.length) bad();
          lit = pattern[pi] as string;
        }
        if (ch !== lit) return false;
        pi++;
      }
      ni += ch.length;
    }
    return ni === name.length;
  };
  validate();
  return match(0, 0);
}

/** distribution/reference FamiliarMatch: the familiar string, then the familiar name. */
export function familiarMatch(pattern: string, ref: Reference | DigestReference): boolean {
  if (pathMatch(pattern, ref.familiarString())) return true;
  return ref instanceof Reference && pathMatch(pattern, ref.familiarName());
}
