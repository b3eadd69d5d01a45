/**
 * Where registry credentials come from, first match wins: the action's username/password inputs
 * (for one registry), Docker's config file (credHelpers, auths, credsStore), anonymous.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ActionError } from '../errors.ts';
import { log } from '../log.ts';

export interface Credentials {
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
  /** Runs `docker-credential-<name> get`; injectable for tests. */
  runHelper?: (helper: string, serverUrl: string) => Promise<string>;
  env?: NodeJS.ProcessEnv;
}

interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

const DOCKER_HUB_KEYS = ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io'];

/** Docker's ConvertToHostname: drop the scheme and any path. */
export function convertToHostname(key: string): string {
  let s = key.replace(/^https?:\/\//, '');
  const slash = s.indexOf('/');
  if (slash !== -1) s = s.slice(0, slash);
  return s;
}

/** The names a registry's credentials may be stored under. */
export function credentialKeys(registry: string): string[] {
  return registry === 'docker.io' ? DOCKER_HUB_KEYS : [registry];
}

/** The server URL a credential helper is asked about (Docker Hub keeps its legacy URL). */
export function helperServerUrl(registry: string): string {
  return registry === 'docker.io' ? 'https://index.docker.io/v1/' : registry;
}

export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DOCKER_CONFIG || join(homedir(), '.docker'), 'config.json');
}

async function readDockerConfig(env: NodeJS.ProcessEnv): Promise<DockerConfig | undefined> {
  const path = dockerConfigPath(env);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as DockerConfig;
  } catch {
    throw new ActionError(`Docker config file ${path} is not valid JSON`, {
      kind: 'input',
      hint: 'Fix or remove the file (docker/login-action writes it)',
    });
  }
}

async function defaultRunHelper(helper: string, serverUrl: string): Promise<string> {
  const { getExecOutput } = await import('@actions/exec');
  const result = await getExecOutput(`docker-credential-${helper}`, ['get'], {
    input: Buffer.from(serverUrl),
    silent: true,
    ignoreReturnCode: true,
  });
  if (result.exitCode !== 0) {
    const first = (result.stdout || result.stderr).trim().split('\n')[0] ?? '';
    if (/credentials not found/i.test(first)) return '';
    throw new ActionError(`credential helper docker-credential-${helper} failed for ${serverUrl}: ${first}`, {
      kind: 'auth',
      hint: `Check that docker-credential-${helper} is installed and logged in`,
    });
  }
  return result.stdout;
}

function decodeAuth(auth: string, key: string): { username: string; password: string } {
  const decoded = Buffer.from(auth, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) {
    throw new ActionError(`the auth value for '${key}' in the Docker config is not base64 of user:password`, {
      kind: 'input',
      hint: 'Log in again (docker login / docker/login-action)',
    });
  }
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Registers every secret of a credential set with the logger, so none is ever printed. */
function mask(c: Credentials): Credentials {
  if (c.password) log.setSecret(c.password);
  if (c.identityToken) log.setSecret(c.identityToken);
  if (c.username && c.password) log.setSecret(Buffer.from(`${c.username}:${c.password}`).toString('base64'));
  return c;
}

/** Resolves credentials for one registry (as references name it: docker.io, ghcr.io, host:port). */
export async function resolveCredentials(registry: string, options: CredentialOptions = {}): Promise<Credentials> {
  const env = options.env ?? process.env;
  const explicit = options.explicit;
  if (explicit && (explicit.registry === registry || credentialKeys(registry).includes(explicit.registry))) {
    return mask({ username: explicit.username, password: explicit.password, source: 'inputs' });
  }
  const config = await readDockerConfig(env);
  if (!config) return { source: 'anonymous' };
  const keys = credentialKeys(registry);
  const runHelper = options.runHelper ?? defaultRunHelper;

  const fromHelper = async (helper: string): Promise<Credentials | undefined> => {
    const out = await runHelper(helper, helperServerUrl(registry));
    if (!out.trim()) return undefined;
    let parsed: { Username?: string; Secret?: string };
    try {
      parsed = JSON.parse(out) as { Username?: string; Secret?: string };
    } catch {
      throw new ActionError(`credential helper docker-credential-${helper} printed something that is not JSON`, {
        kind: 'auth',
      });
    }
    if (!parsed.Secret) return undefined;
    if (parsed.Username === '<token>') {
      return mask({ identityToken: parsed.Secret, source: `docker-credential-${helper}` });
    }
    return mask({ username: parsed.Username ?? '', password: parsed.Secret, source: `docker-credential-${helper}` });
  };

  for (const [key, helper] of Object.entries(config.credHelpers ?? {})) {
    if (keys.includes(key) || keys.includes(convertToHostname(key))) {
      const c = await fromHelper(helper);
      if (c) return c;
    }
  }
  for (const [key, entry] of Object.entries(config.auths ?? {})) {
    if (!keys.includes(key) && !keys.includes(convertToHostname(key))) continue;
    if (entry.identitytoken) return mask({ identityToken: entry.identitytoken, source: 'docker config' });
    if (entry.auth) return mask({ ...decodeAuth(entry.auth, key), source: 'docker config' });
    if (entry.username && entry.password) {
      return mask({ username: entry.username, password: entry.password, source: 'docker config' });
    }
  }
  if (config.credsStore) {
    const c = await fromHelper(config.credsStore);
    if (c) return c;
  }
  return { source: 'anonymous' };
}
