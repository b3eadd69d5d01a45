/**
 * WWW-Authenticate parsing (RFC 7235 challenges with RFC 6750 parameters) and token scopes.
 * Pure code: no I/O.
 */

export interface Challenge {
  /** Lower-cased scheme: 'bearer', 'basic', … */
  scheme: string;
  parameters: Record<string, string>;
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/**
 * Parses every challenge in one or more WWW-Authenticate header values. Tolerant of the
 * registries' variations: quoted strings with backslash escapes, bare token values, empty values,
 * several challenges in one header separated by commas.
 */
export function parseChallenges(headers: string | string[] | undefined): Challenge[] {
  const values = headers === undefined ? [] : Array.isArray(headers) ? headers : [headers];
  const out: Challenge[] = [];
  for (const value of values) out.push(...parseOne(value));
  return out;
}

function parseOne(header: string): Challenge[] {
  const challenges: Challenge[] = [];
  let i = 0;
  const n = header.length;
  const skipSpace = () => {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < n && TOKEN_CHAR.test(header[i] as string)) i++;
    return header.slice(start, i);
  };
  const readQuoted = (): string => {
    // header[i] === '"'
    i++;
    let s = '';
    while (i < n && header[i] !== '"') {
      if (header[i] === '\\' && i + 1 < n) i++;
      s += header[i];
      i++;
    }
    i++; // closing quote (or end)
    return s;
  };
  let current: Challenge | undefined;
  while (i < n) {
    skipSpace();
    while (i < n && header[i] === ',') {
      i++;
      skipSpace();
    }
    if (i >= n) break;
    const start = i;
    const word = readToken();
    if (!word) {
      i++; // skip a stray character
      continue;
    }
    skipSpace();
    if (header[i] === '=' && current) {
      // auth-param of the current challenge (token68 values like `abc==` are not used by registries)
      i++;
      skipSpace();
      const value = header[i] === '"' ? readQuoted() : readToken();
      const name = word.toLowerCase();
      if (name !== '__proto__') current.parameters[name] = value;
      skipSpace();
      continue;
    }
    if (header[i] === '=' && !current) {
      i = start + word.length + 1;
      continue;
    }
    // A new challenge: the word is its scheme.
    current = { scheme: word.toLowerCase(), parameters: {} };
    challenges.push(current);
  }
  return challenges;
}

/** repository:<name>:<actions> scopes, merged per repository. */
export class ScopeSet {
  private readonly byRepo = new Map<string, Set<string>>();

  add(repository: string, ...actions: string[]): boolean {
    let set = this.byRepo.get(repository);
    if (!set) {
      set = new Set();
      this.byRepo.set(repository, set);
    }
    const before = set.size;
    for (const a of actions) set.add(a);
    return set.size !== before;
  }

  /** Adds the scopes a challenge asks for (space-separated `type:name:actions`). */
  addFromChallenge(scope: string | undefined): boolean {
    let changed = false;
    for (const s of (scope ?? '').split(' ')) {
      const parsed = parseScope(s);
      if (parsed && parsed.type === 'repository') changed = this.add(parsed.name, ...parsed.actions) || changed;
    }
    return changed;
  }

  covers(repository: string, action: string): boolean {
    return this.byRepo.get(repository)?.has(action) ?? false;
  }

  /** Stable order: repositories sorted, actions in pull,push order. */
  toScopes(): string[] {
    const order = ['pull', 'push'];
    return [...this.byRepo.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([repo, actions]) => {
        const sorted = [...actions].sort((a, b) => {
          const ia = order.indexOf(a);
          const ib = order.indexOf(b);
          return (ia === -1 ? 99 : ia) - (ib === -1 ? 99 : ib) || (a < b ? -1 : 1);
        });
        return `repository:${repo}:${sorted.join(',')}`;
      });
  }
}

/**
 * Parses `type[(class)]:name:actions`. The name may hold a registry `host:port`, so the actions
 * are what follows the last ':' and the type what precedes the first.
 */
export function parseScope(scope: string): { type: string; name: string; actions: string[] } | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first) return undefined;
  const type = scope.slice(0, first).replace(/\(.*\)$/, '');
  const name = scope.slice(first + 1, last);
  const actions = scope
    .slice(last + 1)
    .split(',')
    .filter((a) => a !== '');
  if (!name) return undefined;
  return { type, name, actions };
}

export interface TokenResponse {
  token: string;
  /** Seconds; 60 when the server gives none (token.md). */
  expiresIn: number;
  /** When the token was issued (ms since epoch), if the server said. */
  issuedAt?: number;
}

/**
 * Parses a token server's JSON answer: `token` or its OAuth2 alias `access_token`, `expires_in`
 * (default 60 s) and the optional `issued_at`. Returns undefined when there is no token.
 */
export function parseTokenResponse(text: string): TokenResponse | undefined {
  let body: { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null) return undefined;
  const token =
    (typeof body.token === 'string' && body.token) || (typeof body.access_token === 'string' && body.access_token) || '';
  if (!token) return undefined;
  const expiresIn = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60;
  const issued = typeof body.issued_at === 'string' ? Date.parse(body.issued_at) : NaN;
  return { token, expiresIn, ...(Number.isNaN(issued) ? {} : { issuedAt: issued }) };
}
