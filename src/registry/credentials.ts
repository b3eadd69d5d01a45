/**
 * Where registry credentials come from, first match wins: the action's username/password inputs
 * (for one registry); the `DOCKER_AUTH_CONFIG` variable; the config docker/login-action v4 wrote
 * for a `scope` that fits the run's target repositories; Docker's config file; the Podman/Buildah
 * auth file; anonymous. Each of the four configs is read as Docker reads config.json: credHelpers,
 * auths, credsStore (auth-files.ts reads them). A source with nothing for the registry is passed over.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import { ActionError } from '../errors.ts';
import { quote } from '../escape.ts';
import { log } from '../log.ts';
import { DOCKER_HUB, DOCKER_HUB_CREDENTIALS_URL, canonicalRegistry } from '../hosts.ts';
import {
  type AuthSource,
  type DockerConfig,
  type RepositoryScope,
  dockerAuthConfigVariable,
  dockerConfigFile,
  dockerConfigPath,
  keyNamesRegistry,
  loginActionScopedConfig,
  podmanAuthFile,
} from './auth-files.ts';

export { dockerConfigPath, keyNamesRegistry };

export interface Credentials {
  /**
   * The registry (as references name it) these were found for: they belong to it alone. The
   * auth layer of that registry is the only one that holds them.
   */
  registry: string;
  username?: string;
  password?: string;
  /** OAuth2 refresh token (Docker's `identitytoken`), exchanged at the token realm. */
  identityToken?: string;
  /** Where these came from, for logs (never the secret). */
  source: string;
}

export interface CredentialOptions {
  /** Explicit credentials from the action inputs, for `registry`. */
  explicit?: { registry: string; username: string; password: string };
  /**
   * Runs `docker-credential-<helper> get` for `serverUrl` and returns its stdout; injectable for
   * tests. `where` names the config key, for errors. Called only with valid helper names.
   */
  runHelper?: (helper: string, serverUrl: string, where: string) => Promise<string>;
  env?: NodeJS.ProcessEnv;
  /**
   * The run's repositories and what it does there (targets: push and pull): which of
   * docker/login-action's scoped configs apply.
   */
  repositories?: readonly RepositoryScope[];
}

/** The server URL a credential helper is asked about (Docker Hub keeps its legacy URL). */
export function helperServerUrl(registry: string): string {
  return canonicalRegistry(registry) === DOCKER_HUB ? DOCKER_HUB_CREDENTIALS_URL : registry;
}

/** The Basic Authorization header for a username and password; undefined for anything else. */
export function basicAuthorization(c: Credentials): string | undefined {
  if (!c.username || c.password === undefined) return undefined;
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

/** Docker's rule for a helper name: the program run is `docker-credential-<name>`, found on PATH. */
const HELPER_NAME = /^[A-Za-z0-9._-]+$/;
const HELPER_TIMEOUT_MS = 60_000;
/** How long stdout may stay open after the helper exited (its output is in the pipe by then). */
const HELPER_EXIT_GRACE_MS = 200;
const HELPER_OUTPUT_LIMIT = 1024 * 1024;
/**
 * Secrets shorter than this are not sent to `add-mask`: the runner masks any non-empty value it is
 * given (actions/runner SecretMasker.AddValue has no minimum length), so masking "pw7" would turn
 * every "pw7" in the rest of the job's log into ***, garbling it and showing where the secret is.
 */
export const MIN_MASKED_LENGTH = 4;
/**
 * Tokens a registry's token server issues are masked only from this length on: the server is not
 * the workflow's to trust, and a short "token" such as `linux` would have the runner mask that
 * word across the whole job log. Real bearer tokens are far longer; this action never prints any.
 */
export const MIN_MASKED_ISSUED_TOKEN_LENGTH = 16;

/** Values already handled, so a secret met twice is masked (or warned about) once. */
const masked = new Set<string>();

/**
 * Registers a secret with the logger so that it is masked in every later line; a value too short
 * to mask is left out with a warning (this action never prints secrets, masked or not). Each line
 * of a multi-line value is masked too: the runner matches whole values.
 */
export function maskSecret(value: string | undefined, what: string, issuedByRegistry = false): void {
  if (!value || value.trim() === '' || masked.has(value)) return;
  masked.add(value);
  if (issuedByRegistry && value.length < MIN_MASKED_ISSUED_TOKEN_LENGTH) {
    log.debug(`${what} is shorter than ${MIN_MASKED_ISSUED_TOKEN_LENGTH} characters: not masked (a token server must not choose what the job log hides; it is never printed)`);
    return;
  }
  if (value.length < MIN_MASKED_LENGTH) {
    log.warning(`${what} is shorter than ${MIN_MASKED_LENGTH} characters, too short to mask: the runner would mask every occurrence of it in the job's log. It is not masked; this action never prints it`);
    return;
  }
  log.setSecret(value);
  for (const line of value.split(/\r?\n|\r/)) if (line !== value && line.trim().length >= MIN_MASKED_LENGTH) log.setSecret(line);
}

/**
 * The program for a helper named in a config under `where` (`credHelpers["ghcr.io"] in <file>`,
 * `credsStore in <file>`). Anything but a plain name (a path, arguments, shell syntax) is refused: the value
 * is never split, resolved as a path or given to a shell.
 */
export function helperProgram(name: unknown, where: string): string {
  if (typeof name !== 'string' || !HELPER_NAME.test(name)) {
    throw ActionError.credentials(
      `${where} is ${quote(name)}, which is not a credential helper name (letters, digits, '.', '_' and '-' only)`,
      { hint: `Set it to the helper's name (ecr-login runs docker-credential-ecr-login from PATH), or remove it` },
    );
  }
  return `docker-credential-${name}`;
}

/** An executable `program` in an absolute PATH directory (relative entries are skipped, as Go's exec.LookPath refuses them). */
async function findOnPath(program: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const names = process.platform === 'win32' ? [`${program}.exe`] : [program];
  for (const dir of (env.PATH ?? env.Path ?? '').split(delimiter)) {
    if (!isAbsolute(dir)) continue;
    for (const n of names) {
      const file = join(dir, n);
      try {
        if ((await stat(file)).isFile()) {
          await access(file, constants.X_OK);
          return file;
        }
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

/**
 * Runs `<program> get` with the server URL on stdin and returns its stdout. Its output may hold a
 * secret, so no error carries it: a failure says which helper, and its exit code.
 */
async function runHelperProgram(program: string, where: string, serverUrl: string, env: NodeJS.ProcessEnv): Promise<string> {
  const file = await findOnPath(program, env);
  if (!file) {
    throw ActionError.credentials(`credential helper ${program} (${where}) is not on PATH`, {
      hint: `Install ${program}, or remove ${where}`,
    });
  }
  // Its own process group (not on Windows), so that a timeout ends what it started too.
  const group = process.platform !== 'win32';
  const child = spawn(file, ['get'], { env, stdio: ['pipe', 'pipe', 'ignore'], shell: false, windowsHide: true, detached: group });
  const kill = () => {
    try {
      if (group && child.pid) process.kill(-child.pid, 'SIGKILL');
      else child.kill('SIGKILL');
    } catch {
      // already gone
    }
  };
  const chunks: Buffer[] = [];
  let size = 0;
  let overflow = false;
  child.stdout.on('data', (c: Buffer) => {
    size += c.length;
    if (size > HELPER_OUTPUT_LIMIT) {
      overflow = true;
      kill();
    } else chunks.push(c);
  });
  child.stdin.on('error', () => undefined); // a helper that exits without reading stdin
  child.stdin.end(serverUrl);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    kill();
  }, HELPER_TIMEOUT_MS);
  // Settled when the helper exits and its stdout is read, or shortly after it exits: a child it
  // left running (an agent) may hold stdout open, and must not hold the run.
  const result = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('close', (code, signal) => resolve({ code, signal }));
    child.once('exit', (code, signal) => {
      setTimeout(() => {
        child.stdout.destroy();
        resolve({ code, signal });
      }, HELPER_EXIT_GRACE_MS).unref();
    });
  }).finally(() => clearTimeout(timer));
  const stdout = Buffer.concat(chunks).toString('utf8');
  const failed = (how: string) =>
    ActionError.credentials(`credential helper ${program} (${where}) ${how} for ${serverUrl}`, {
      hint: `Check that ${program} is installed and logged in (its output is not shown: it may hold a secret)`,
    });
  if (result.error) throw failed(`could not be started (${(result.error as NodeJS.ErrnoException).code ?? 'error'})`);
  if (timedOut) throw failed(`did not answer within ${HELPER_TIMEOUT_MS / 1000} s`);
  if (overflow) throw failed(`printed more than ${HELPER_OUTPUT_LIMIT} bytes`);
  if (result.code !== 0) {
    // docker-credential-helpers' "not found" answer, which Docker treats as no credentials.
    if (/^credentials not found/i.test(stdout.trim())) return '';
    throw failed(result.code === null ? `was stopped by ${result.signal ?? 'a signal'}` : `failed with exit code ${result.code}`);
  }
  return stdout;
}

function decodeAuth(auth: string, key: string, where: string): { username: string; password: string } {
  const decoded = Buffer.from(auth, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) {
    throw ActionError.credentials(`the auth value for ${quote(key)} in ${where} is not base64 of user:password`, {
      hint: 'Log in again (docker login / docker/login-action)',
    });
  }
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Registers every secret of a credential set with the logger, so none is ever printed. */
function mask(c: Credentials): Credentials {
  maskSecret(c.password, `the password for ${c.registry} (${c.source})`);
  maskSecret(c.identityToken, `the identity token for ${c.registry} (${c.source})`);
  if (c.username && c.password) maskSecret(Buffer.from(`${c.username}:${c.password}`).toString('base64'), `the Basic credentials for ${c.registry}`);
  return c;
}

/** Masks every secret a config holds, for every registry (a config in the environment is visible to the whole job). */
function maskEverySecret(config: DockerConfig, where: string): void {
  for (const [key, value] of Object.entries(config.auths)) {
    if (typeof value !== 'object' || value === null) continue;
    const entry = value as Record<string, unknown>;
    for (const field of ['auth', 'password', 'identitytoken', 'registrytoken']) {
      const v = entry[field];
      if (typeof v === 'string') maskSecret(v, `the ${field} for ${quote(key)} in ${where}`);
    }
    if (typeof entry.auth === 'string') {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon !== -1) maskSecret(decoded.slice(colon + 1), `the password for ${quote(key)} in ${where}`);
    }
  }
}

/** Resolves credentials for one registry (as references name it: docker.io, ghcr.io, host:port). */
export async function resolveCredentials(registry: string, options: CredentialOptions = {}): Promise<Credentials> {
  const env = options.env ?? process.env;
  const explicit = options.explicit;
  if (explicit && keyNamesRegistry(explicit.registry, registry)) {
    return mask({ registry, username: explicit.username, password: explicit.password, source: 'inputs' });
  }
  const runHelper = options.runHelper ?? ((helper: string, serverUrl: string, where: string) => runHelperProgram(`docker-credential-${helper}`, where, serverUrl, env));
  // In the documented order; each read only when the ones before have nothing for the registry.
  const sources: Array<() => AuthSource | undefined | Promise<AuthSource | undefined>> = [
    () => dockerAuthConfigVariable(env, maskEverySecret),
    () => loginActionScopedConfig(env, registry, options.repositories ?? []),
    () => dockerConfigFile(env),
    () => podmanAuthFile(env),
  ];
  for (const source of sources) {
    const found = await source();
    if (!found) continue;
    const c = await fromConfig(registry, found, runHelper);
    if (c) {
      log.debug(`credentials for ${registry}: from ${c.source} (${found.where})`);
      return c;
    }
  }
  return { registry, source: 'anonymous' };
}

/** Credentials for `registry` in one config, as Docker reads config.json: credHelpers, auths, credsStore. */
async function fromConfig(registry: string, source: AuthSource, runHelper: NonNullable<CredentialOptions['runHelper']>): Promise<Credentials | undefined> {
  const { config } = source;
  const fromHelper = async (helper: unknown, where: string): Promise<Credentials | undefined> => {
    const program = helperProgram(helper, where);
    const out = await runHelper(helper as string, helperServerUrl(registry), where);
    if (!out.trim()) return undefined;
    let parsed: { Username?: string; Secret?: string };
    try {
      parsed = JSON.parse(out) as { Username?: string; Secret?: string };
    } catch {
      throw ActionError.credentials(`credential helper ${program} (${where}) printed something that is not JSON`, {
        hint: 'Its output is not shown: it may hold a secret',
      });
    }
    if (typeof parsed !== 'object' || parsed === null || typeof parsed.Secret !== 'string' || !parsed.Secret) return undefined;
    const username = typeof parsed.Username === 'string' ? parsed.Username : '';
    if (username === '<token>') return mask({ registry, identityToken: parsed.Secret, source: program });
    return mask({ registry, username, password: parsed.Secret, source: program });
  };

  for (const [key, helper] of Object.entries(config.credHelpers)) {
    if (keyNamesRegistry(key, registry)) {
      const c = await fromHelper(helper, `credHelpers[${quote(key)}] in ${source.where}`);
      if (c) return c;
    }
  }
  for (const [key, value] of Object.entries(config.auths)) {
    if (!keyNamesRegistry(key, registry)) continue;
    // The file is read as found: an entry or field of another type counts as absent.
    const entry = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
    const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
    const identityToken = text(entry.identitytoken);
    const auth = text(entry.auth);
    const [username, password] = [text(entry.username), text(entry.password)];
    const from = source.label;
    if (identityToken) return mask({ registry, identityToken, source: from });
    if (auth) return mask({ registry, ...decodeAuth(auth, key, source.where), source: from });
    if (username && password) return mask({ registry, username, password, source: from });
  }
  if (config.credsStore !== undefined && config.credsStore !== '') {
    const c = await fromHelper(config.credsStore, `credsStore in ${source.where}`);
    if (c) return c;
  }
  return undefined;
}
