/**
 * Where credentials are written down outside the action's inputs, each in Docker's config.json
 * format: the `DOCKER_AUTH_CONFIG` variable (GitLab CI, regclient), the per-scope config files
 * docker/login-action v4 writes for buildx (`scope` input), Docker's own config file, and the
 * Podman/Buildah auth file. Everything read here is hostile: bounded in size, checked for shape,
 * never run (a helper named in it is only ever `docker-credential-<name>`, see credentials.ts).
 */
import { type Dirent, constants } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { ActionError } from '../errors.ts';
import { quote } from '../escape.ts';
import { log } from '../log.ts';
import { canonicalRegistry } from '../hosts.ts';

/** Whether a Docker config key (`https://index.docker.io/v1/`, `ghcr.io`, …) names this registry. */
export function keyNamesRegistry(key: string, registry: string): boolean {
  return canonicalRegistry(key) === canonicalRegistry(registry);
}

/** A Docker config as read: every field checked for its type, nothing else kept. */
export interface DockerConfig {
  /** Entries as the file holds them: checked field by field when used. */
  auths: Record<string, unknown>;
  credHelpers: Record<string, unknown>;
  credsStore?: unknown;
}

/** One place credentials were found in, for logs and errors (a path or a variable's name; never its content). */
export interface AuthSource {
  /** The file's path or the variable's name, for errors about its content. */
  where: string;
  /** What credentials found in it are reported as (`docker config`, `DOCKER_AUTH_CONFIG`, …). */
  label: string;
  config: DockerConfig;
}

/** Largest credential file or variable read (Docker's own files are a few KiB; a larger one is not a config). */
export const AUTH_CONFIG_LIMIT = 1024 * 1024;
/** Bounds on the walk of buildx's scoped config directories (login-action writes one per scope). */
const SCOPED_WALK_ENTRIES = 10_000;
const SCOPED_WALK_DEPTH = 16;

/**
 * Parses a Docker config's text. Text that is not JSON fails; a value or field of another type
 * counts as absent (as every reader of these files treats it), each entry checked when used.
 */
export function parseDockerConfig(text: string, where: string): DockerConfig {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw ActionError.credentials(`${where} is not valid JSON`, {
      hint: `Fix or remove it: it must hold Docker's config.json format ({"auths": {"<registry>": {"auth": "<base64 of user:password>"}}})`,
    });
  }
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const fields = isObject(value) ? value : {};
  return {
    auths: isObject(fields.auths) ? fields.auths : {},
    credHelpers: isObject(fields.credHelpers) ? fields.credHelpers : {},
    ...(fields.credsStore !== undefined ? { credsStore: fields.credsStore } : {}),
  };
}

/** Reads a file of at most AUTH_CONFIG_LIMIT bytes; undefined when there is none (or it is not a regular file). */
async function readBounded(path: string): Promise<string | undefined> {
  let handle;
  try {
    // O_NONBLOCK: a FIFO planted where a config is looked for is opened at once (and passed over
    // below), not waited on for a writer until the job's timeout. Regular files read as usual.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) return undefined;
    if (info.size > AUTH_CONFIG_LIMIT) throw tooLarge(path);
    const buffer = Buffer.alloc(AUTH_CONFIG_LIMIT + 1);
    let size = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, size, buffer.length - size, size);
      if (bytesRead === 0) break;
      size += bytesRead;
      if (size > AUTH_CONFIG_LIMIT) throw tooLarge(path); // grew while read
    }
    return buffer.subarray(0, size).toString('utf8');
  } finally {
    await handle.close();
  }
}

function tooLarge(where: string): ActionError {
  return ActionError.credentials(`${where} is larger than ${AUTH_CONFIG_LIMIT} bytes, too large for a credentials file`, {
    hint: 'Fix or remove it',
  });
}

async function readConfigFile(path: string, label: string): Promise<AuthSource | undefined> {
  const text = await readBounded(path);
  return text === undefined ? undefined : { where: path, label, config: parseDockerConfig(text, path) };
}

/** Docker's config directory: `$DOCKER_CONFIG`, else `~/.docker`. */
export function dockerConfigDir(env: NodeJS.ProcessEnv): string {
  return env.DOCKER_CONFIG || join(homedir(), '.docker');
}

export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(dockerConfigDir(env), 'config.json');
}

/** Docker's config file, when there is one. */
export function dockerConfigFile(env: NodeJS.ProcessEnv): Promise<AuthSource | undefined> {
  return readConfigFile(dockerConfigPath(env), 'docker config');
}

/**
 * `DOCKER_AUTH_CONFIG`: config.json's format in a variable (GitLab CI's name for it; regclient
 * reads it too). Every secret it holds is masked at once, whichever registry it is for: the
 * variable is in the job's environment.
 */
export function dockerAuthConfigVariable(env: NodeJS.ProcessEnv, mask: (config: DockerConfig, where: string) => void): AuthSource | undefined {
  const text = env.DOCKER_AUTH_CONFIG;
  if (text === undefined || text.trim() === '') return undefined;
  const where = 'the DOCKER_AUTH_CONFIG variable';
  if (Buffer.byteLength(text) > AUTH_CONFIG_LIMIT) throw tooLarge(where);
  const config = parseDockerConfig(text, where);
  mask(config, where);
  return { where, label: 'DOCKER_AUTH_CONFIG', config };
}

/**
 * The Podman/Buildah auth file as crane (go-containerregistry's default keychain) finds it:
 * `$REGISTRY_AUTH_FILE`, else `$XDG_RUNTIME_DIR/containers/auth.json`.
 */
export async function podmanAuthFile(env: NodeJS.ProcessEnv): Promise<AuthSource | undefined> {
  if (env.REGISTRY_AUTH_FILE) {
    const found = await readConfigFile(env.REGISTRY_AUTH_FILE, 'Podman auth file');
    if (found) return found;
  }
  return env.XDG_RUNTIME_DIR ? readConfigFile(join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'), 'Podman auth file') : undefined;
}

/** buildx's config directory: `$BUILDX_CONFIG`, else `<Docker's config directory>/buildx`. */
export function buildxConfigDir(env: NodeJS.ProcessEnv): string {
  return env.BUILDX_CONFIG || join(dockerConfigDir(env), 'buildx');
}

/** One scoped directory: `<host>[/<repository>][@<action>,…]` under buildx's `config/`. */
export interface ScopeKey {
  host: string;
  repository: string;
  actions: string[];
}

/** buildx's parseConfigKey: `host/repo@push,pull` → host, repository, actions. */
export function parseScopeKey(key: string): ScopeKey {
  const at = key.indexOf('@');
  const main = at === -1 ? key : key.slice(0, at);
  const actions = at === -1 ? [] : key.slice(at + 1).split(',').map((s) => s.trim()).filter(Boolean);
  const slash = main.indexOf('/');
  return slash === -1 ? { host: main, repository: '', actions } : { host: main.slice(0, slash), repository: main.slice(slash + 1), actions };
}

/** A repository of the run and what it needs there (`push`, `pull`). */
export interface RepositoryScope {
  registry: string;
  repository: string;
  actions: readonly string[];
}

/**
 * Whether a scoped directory applies to the run on `registry`, as buildx matches one against a
 * token request: its repository (if it names one) is one the run uses, and its actions (if any)
 * are all needed on that repository (or, with no repository, on one repository of the run).
 */
export function scopeMatches(key: ScopeKey, registry: string, wanted: readonly RepositoryScope[]): boolean {
  if (!key.host || !keyNamesRegistry(key.host, registry)) return false;
  const here = wanted.filter((w) => keyNamesRegistry(w.registry, registry));
  const covers = (w: RepositoryScope) => key.actions.every((a) => w.actions.includes(a));
  if (key.repository) return here.some((w) => w.repository === key.repository && covers(w));
  return key.actions.length === 0 || here.some(covers);
}

/** The scoped config directories under buildx's `config/` (symbolic links not followed; walk bounded). */
async function scopedDirectories(base: string): Promise<string[]> {
  const found: string[] = [];
  let seen = 0;
  const walk = async (dir: string, depth: number): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (++seen > SCOPED_WALK_ENTRIES) return;
      if (e.isFile() && e.name === 'config.json' && dir !== base) found.push(relative(base, dir).split(sep).join('/'));
      else if (e.isDirectory() && depth < SCOPED_WALK_DEPTH) await walk(join(dir, e.name), depth + 1);
    }
  };
  await walk(base, 0);
  return found;
}

/**
 * The config docker/login-action v4 wrote for buildx with its `scope` input that fits the run on
 * `registry` (login-action's scopeToConfigDir: `<buildx config>/config/<host>[/<scope>]`, Docker
 * Hub as `registry-1.docker.io`). Several fit: one naming a repository first, then the one with
 * more actions (buildx's order), then by name.
 */
export async function loginActionScopedConfig(env: NodeJS.ProcessEnv, registry: string, wanted: readonly RepositoryScope[]): Promise<AuthSource | undefined> {
  if (!wanted.length) return undefined;
  const base = join(buildxConfigDir(env), 'config');
  const candidates = (await scopedDirectories(base))
    .map((key) => ({ key, scope: parseScopeKey(key) }))
    .filter(({ scope }) => scopeMatches(scope, registry, wanted))
    .sort((a, b) => Number(Boolean(b.scope.repository)) - Number(Boolean(a.scope.repository)) || b.scope.actions.length - a.scope.actions.length || (a.key < b.key ? -1 : 1));
  const chosen = candidates[0];
  if (!chosen) return undefined;
  if (candidates.length > 1) log.debug(`credentials for ${registry}: login-action scopes ${candidates.map((c) => quote(c.key)).join(', ')} fit; using ${quote(chosen.key)}`);
  return readConfigFile(join(base, ...chosen.key.split('/'), 'config.json'), `docker/login-action scope ${chosen.key}`);
}
