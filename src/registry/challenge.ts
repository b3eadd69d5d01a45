/** WWW-Authenticate parsing (RFC 7235 challenges with RFC 6750 parameters). Pure code: no I/O. */

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
