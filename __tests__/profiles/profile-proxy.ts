/**
 * Plays one registry profile (registries.ts) in front of the real distribution registry: the
 * fault proxy (helpers/fault-proxy.ts) answers each quirk as the profile's source describes it,
 * and for registries with a referrers API the referrers proxy (helpers/referrers-proxy.ts) sits
 * between it and the registry. Storage and every other answer are the real registry's.
 */
import { fetch } from 'undici';
import { type Fault, type FaultProxy, type ProxiedRequest, type Rule, startFaultProxy } from '../helpers/fault-proxy.ts';
import { sha256 } from '../helpers/images.ts';
import { type ReferrersProxy, startReferrersProxy } from '../helpers/referrers-proxy.ts';
import type { Profile, Refusal } from './registries.ts';

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const EVERY_MANIFEST = [OCI_INDEX, DOCKER_LIST, 'application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json'].join(', ');

export interface ProfileProxy extends FaultProxy {
  profile: Profile;
  /** Requests a quirk answered instead of the registry: `<quirk> <METHOD> <path>`. */
  played: string[];
}

const refuse = (r: Refusal): Fault => ({ kind: 'status', status: r.status, body: JSON.stringify({ errors: [{ code: r.code, message: r.message }] }) });

interface ManifestPut {
  repository: string;
  reference: string;
  contentType: string;
  json: { subject?: unknown; annotations?: unknown; artifactType?: string; manifests?: Array<{ digest: string }>; layers?: Array<{ mediaType: string }>; config?: { mediaType: string } };
}

function manifestPut(r: ProxiedRequest): ManifestPut | undefined {
  const m = /^\/v2\/(.+)\/manifests\/([^/?]+)$/.exec(r.url);
  if (r.method !== 'PUT' || !m || !r.body) return undefined;
  try {
    return { repository: m[1] as string, reference: m[2] as string, contentType: String(r.headers['content-type'] ?? ''), json: JSON.parse(r.body.toString()) };
  } catch {
    return undefined;
  }
}

/** The digest a tag holds in the registry now, or undefined. */
async function tagDigest(registry: string, repository: string, tag: string): Promise<string | undefined> {
  const res = await fetch(`${registry}/v2/${repository}/manifests/${tag}`, { method: 'HEAD', headers: { accept: EVERY_MANIFEST } });
  return res.status === 200 ? (res.headers.get('docker-content-digest') ?? undefined) : undefined;
}

/**
 * The rule playing a profile; `extra` is asked first (a test's own fault, e.g. a rate limit).
 * `registry` is the real registry's URL (the proxy asks it about its state, as the registry would itself).
 */
export function profileRule(p: Profile, registry: string, played: string[], extra?: Rule, tagLagMs = 2000): Rule {
  const lagged = new Map<string, number>();
  return async (r) => {
    const own = await extra?.(r);
    if (own) return own;
    const play = (quirk: string, fault: Fault | undefined) => {
      if (fault) played.push(`${quirk} ${r.method} ${r.url.replace(/\?.*/, '')}`);
      return fault;
    };
    const isWrite = r.method !== 'GET' && r.method !== 'HEAD';
    if (p.denied && isWrite) return play('denied', refuse(p.denied));

    const put = manifestPut(r);
    if (put) {
      const { json, contentType } = put;
      if (json.subject && p.referrers.refusesSubject) return play('refusesSubject', refuse(p.referrers.refusesSubject));
      const types = [json.artifactType, json.config?.mediaType, ...(json.layers ?? []).map((l) => l.mediaType)];
      if (p.referrers.refusesMediaTypeParameters && types.some((t) => typeof t === 'string' && t.includes(';'))) return play('refusesMediaTypeParameters', refuse(p.referrers.refusesMediaTypeParameters));
      if (p.index?.ociIndex && contentType === OCI_INDEX) return play('ociIndex', refuse(p.index.ociIndex));
      if (p.index?.annotatedDockerList && contentType === DOCKER_LIST && json.annotations) return play('annotatedDockerList', refuse(p.index.annotatedDockerList));
      if (p.index?.incomplete && Array.isArray(json.manifests)) {
        for (const child of json.manifests) {
          if (!(await tagDigest(registry, put.repository, child.digest))) return play('incomplete', refuse(p.index.incomplete));
        }
      }
      const byTag = !put.reference.includes(':');
      if (p.immutableTags && byTag) {
        const held = await tagDigest(registry, put.repository, put.reference);
        if (held && held !== sha256(r.body as Buffer)) return play('immutableTags', refuse(p.immutableTags));
      }
      if (p.tagLag && byTag) lagged.set(`${put.repository}:${put.reference}`, Date.now() + tagLagMs);
      const subject = (json.subject as { digest?: string } | undefined)?.digest;
      if (p.referrers.api === 'lying' && subject) return play('lying', { kind: 'header', name: 'OCI-Subject', value: subject });
      return undefined;
    }

    const mount = /^\/v2\/(.+)\/blobs\/uploads\/\?.*\bmount=/.exec(r.url);
    if (mount && r.method === 'POST' && p.mount?.how === 'ignored') return play('mountIgnored', { kind: 'rewrite', url: `/v2/${mount[1]}/blobs/uploads/` });

    const manifest = /^\/v2\/(.+)\/manifests\/([^/?]+)$/.exec(r.url);
    if (manifest && r.method === 'DELETE' && p.deleteByTag?.allowed && !(manifest[2] as string).includes(':')) {
      // OCI 1.1's DELETE by tag, played on distribution 2.8 (which refuses it): the manifest the tag holds is deleted.
      const [repository, tag] = [manifest[1] as string, manifest[2] as string];
      const held = await tagDigest(registry, repository, tag);
      if (!held) return play('deleteByTag', { kind: 'status', status: 404, body: JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }) });
      return play('deleteByTag', { kind: 'hook', status: 202, run: async () => void (await fetch(`${registry}/v2/${repository}/manifests/${held}`, { method: 'DELETE' })) });
    }
    if (manifest && (r.method === 'GET' || r.method === 'HEAD')) {
      const [repository, reference] = [manifest[1] as string, manifest[2] as string];
      const until = lagged.get(`${repository}:${reference}`);
      if (until !== undefined && Date.now() < until) return play('tagLag', { kind: 'status', status: 404, body: JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }) });
      if (p.strictAccept) {
        const res = await fetch(`${registry}${r.url}`, { method: 'HEAD', headers: { accept: EVERY_MANIFEST } });
        const stored = res.headers.get('content-type') ?? '';
        const accepted = String(r.headers.accept ?? '').split(',').map((a) => a.split(';')[0]?.trim());
        if (res.status === 200 && !accepted.includes(stored)) {
          return play('strictAccept', { kind: 'status', status: 404, body: JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: p.strictAccept.message }] }) });
        }
      }
    }
    return undefined;
  };
}

/**
 * Starts the proxy chain for a profile in front of the registry at `registry` (its URL).
 * `tagLagMs`: how long a tag just written reads as absent, where the profile lags (2 s unless a test shortens or lengthens it).
 */
export async function startProfileProxy(registry: string, p: Profile, extra?: Rule, options: { tagLagMs?: number } = {}): Promise<ProfileProxy> {
  const played: string[] = [];
  const referrers: ReferrersProxy | undefined = p.referrers.api === 'listed' ? await startReferrersProxy(registry) : undefined;
  const proxy = await startFaultProxy(referrers?.url ?? registry, profileRule(p, registry, played, extra, options.tagLagMs));
  return {
    ...proxy,
    profile: p,
    played,
    async stop() {
      await proxy.stop();
      await referrers?.stop();
    },
  };
}
