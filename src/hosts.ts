/**
 * Host rules, written once: Docker Hub's names, loopback, the proxy environment and the
 * insecure-registries list. Pure code, no I/O.
 */
import { splitList } from './list.ts';

/** Docker Hub as references name it. */
export const DOCKER_HUB = 'docker.io';
/** Where Docker Hub's registry API is dialled. */
export const DOCKER_HUB_DIAL_HOST = 'registry-1.docker.io';
/** The server URL Docker Hub's credentials are stored under (and asked of credential helpers). */
export const DOCKER_HUB_CREDENTIALS_URL = 'https://index.docker.io/v1/';
/** Other names of Docker Hub, folded into `docker.io`. */
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/**
 * A registry named as a user may write it (`https://index.docker.io/v1/`, `GHCR.io/`, a Docker
 * config key) as references name it: scheme and path dropped, lowercased, Docker Hub's aliases
 * folded into `docker.io`.
 */
export function canonicalRegistry(name: string): string {
  const host = hostOfServerUrl(name).toLowerCase();
  return DOCKER_HUB_ALIASES.has(host) ? DOCKER_HUB : host;
}

/** Docker's ConvertToHostname: a server URL or config key without scheme and path (case kept). */
export function hostOfServerUrl(name: string): string {
  const s = name.trim().replace(/^https?:\/\//i, '');
  const slash = s.indexOf('/');
  return slash === -1 ? s : s.slice(0, slash);
}

/** host[:port] to dial for a registry as references name it. */
export function dialHost(registry: string): string {
  return canonicalRegistry(registry) === DOCKER_HUB ? DOCKER_HUB_DIAL_HOST : registry;
}

/** Splits `host[:port]` (IPv6 in brackets) into the hostname, brackets kept, and the port. */
export function splitHostPort(hostPort: string): { hostname: string; port: string } {
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(hostPort);
  return m ? { hostname: m[1] as string, port: m[2] ?? '' } : { hostname: hostPort, port: '' };
}

/** Loopback hosts are reached over plain HTTP without any setting, as Docker allows. */
export function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** One entry of insecure-registries: `https://Host:5000/` → `host:5000`. */
export function normalizeInsecureEntry(entry: string): string {
  return hostOfServerUrl(entry).toLowerCase();
}

/** The insecure-registries input: one host per line or comma-separated; blanks and # comments skipped. */
export function parseInsecureRegistries(value: string): string[] {
  return splitList(value).map(normalizeInsecureEntry).filter(Boolean);
}

/** Whether a registry (as references name it, or its dial host) is on the insecure list. */
export function isListedInsecure(registry: string, insecure: readonly string[]): boolean {
  const names = new Set([registry.toLowerCase(), dialHost(registry).toLowerCase()]);
  return insecure.some((entry) => names.has(normalizeInsecureEntry(entry)));
}

/** Whether plain HTTP may reach `host[:port]`: loopback, or listed as insecure. */
export function plainHttpAllowed(hostPort: string, insecure: readonly string[]): boolean {
  return isLoopback(splitHostPort(hostPort).hostname) || isListedInsecure(hostPort, insecure);
}

/** Proxy settings from the environment; the lowercase variable wins, as curl and undici read them. */
export interface ProxyEnvironment {
  httpsProxy: string | undefined;
  httpProxy: string | undefined;
  noProxy: string | undefined;
}

export function proxyEnvironment(env: NodeJS.ProcessEnv): ProxyEnvironment {
  const read = (name: string) => env[name.toLowerCase()] || env[name] || undefined;
  return { httpsProxy: read('HTTPS_PROXY'), httpProxy: read('HTTP_PROXY'), noProxy: read('NO_PROXY') };
}

/** Whether requests may go through a proxy at all (then the proxy agent decides per request). */
export function usesProxy(proxy: ProxyEnvironment): boolean {
  return Boolean(proxy.httpsProxy || proxy.httpProxy);
}

/**
 * MULTIARCH_HTTP1_ONLY (any non-empty value): offer only HTTP/1.1 over TLS, never HTTP/2. A way
 * out for a registry or middlebox whose HTTP/2 misbehaves, and the benchmark's HTTP/1.1 runs.
 */
export function http1Only(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.MULTIARCH_HTTP1_ONLY);
}
