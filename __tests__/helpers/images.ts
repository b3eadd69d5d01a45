/**
 * Pushes sample images straight over the distribution API (undici fetch, not the action's client),
 * so tests do not use the code under test to set up what it reads.
 */
import { createHash, randomBytes } from 'node:crypto';
import { fetch, type Dispatcher } from 'undici';

export interface Target {
  url: string; // http(s)://host:port
  authorization?: string | ((scope: string) => string | Promise<string>);
  dispatcher?: Dispatcher;
}

export interface ImageSpec {
  os: string;
  architecture: string;
  variant?: string;
  osVersion?: string;
  osFeatures?: string[];
  /** Layer contents; default one small random layer. */
  layers?: Buffer[];
  format?: 'docker' | 'oci';
  /** Extra config fields (e.g. to drop os). */
  configOverride?: Record<string, unknown>;
}

export interface Pushed {
  digest: string;
  size: number;
  mediaType: string;
  bytes: Buffer;
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function headers(t: Target, repo: string, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  const h: Record<string, string> = { ...extra };
  if (typeof t.authorization === 'string') h.authorization = t.authorization;
  else if (t.authorization) h.authorization = await t.authorization(`repository:${repo}:pull,push`);
  return h;
}

export async function pushBlob(t: Target, repo: string, data: Buffer): Promise<string> {
  const digest = sha256(data);
  const head = await fetch(`${t.url}/v2/${repo}/blobs/${digest}`, { method: 'HEAD', headers: await headers(t, repo), dispatcher: t.dispatcher });
  if (head.status === 200) return digest;
  const start = await fetch(`${t.url}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: await headers(t, repo), dispatcher: t.dispatcher });
  if (start.status !== 202) throw new Error(`upload start ${repo}: ${start.status} ${await start.text()}`);
  const location = new URL(start.headers.get('location') as string, t.url);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, {
    method: 'PUT',
    headers: await headers(t, repo, { 'content-type': 'application/octet-stream' }),
    body: data,
    dispatcher: t.dispatcher,
  });
  if (put.status !== 201) throw new Error(`upload ${repo}: ${put.status} ${await put.text()}`);
  return digest;
}

export async function putManifest(t: Target, repo: string, ref: string, bytes: Buffer, mediaType: string): Promise<Pushed> {
  const res = await fetch(`${t.url}/v2/${repo}/manifests/${ref}`, {
    method: 'PUT',
    headers: await headers(t, repo, { 'content-type': mediaType }),
    body: bytes,
    dispatcher: t.dispatcher,
  });
  if (res.status !== 201) throw new Error(`put manifest ${repo}:${ref}: ${res.status} ${await res.text()}`);
  return { digest: sha256(bytes), size: bytes.length, mediaType, bytes };
}

export async function pushImage(t: Target, repo: string, ref: string | undefined, spec: ImageSpec): Promise<Pushed> {
  const docker = (spec.format ?? 'docker') === 'docker';
  const layers = spec.layers ?? [Buffer.concat([Buffer.from(`${spec.os}/${spec.architecture}/${spec.variant ?? ''}\n`), randomBytes(256)])];
  const layerDescs = [];
  for (const l of layers) {
    layerDescs.push({
      mediaType: docker ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : 'application/vnd.oci.image.layer.v1.tar+gzip',
      digest: await pushBlob(t, repo, l),
      size: l.length,
    });
  }
  const config: Record<string, unknown> = {
    architecture: spec.architecture,
    os: spec.os,
    ...(spec.variant ? { variant: spec.variant } : {}),
    ...(spec.osVersion ? { 'os.version': spec.osVersion } : {}),
    ...(spec.osFeatures ? { 'os.features': spec.osFeatures } : {}),
    config: {},
    rootfs: { type: 'layers', diff_ids: layerDescs.map((d) => d.digest) },
    ...spec.configOverride,
  };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDigest = await pushBlob(t, repo, configBytes);
  const mediaType = docker ? 'application/vnd.docker.distribution.manifest.v2+json' : 'application/vnd.oci.image.manifest.v1+json';
  const manifest = {
    schemaVersion: 2,
    mediaType,
    config: {
      mediaType: docker ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json',
      digest: configDigest,
      size: configBytes.length,
    },
    layers: layerDescs,
  };
  const bytes = Buffer.from(JSON.stringify(manifest, null, 3));
  return putManifest(t, repo, ref ?? sha256(bytes), bytes, mediaType);
}

/**
 * A buildx-style single-platform push: an OCI index holding the image and an attestation
 * manifest (platform unknown/unknown, vnd.docker.reference.* annotations).
 */
export async function pushBuildxStyle(t: Target, repo: string, tag: string, spec: ImageSpec): Promise<{ index: Pushed; image: Pushed; attestation: Pushed }> {
  const image = await pushImage(t, repo, undefined, { ...spec, format: 'oci' });
  const statement = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1', predicateType: 'https://slsa.dev/provenance/v0.2', n: randomBytes(8).toString('hex') }));
  const statementDigest = await pushBlob(t, repo, statement);
  const emptyConfig = Buffer.from('{"architecture":"unknown","os":"unknown","config":{},"rootfs":{"type":"layers","diff_ids":[]}}');
  const configDigest = await pushBlob(t, repo, emptyConfig);
  const attManifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: emptyConfig.length },
      layers: [{ mediaType: 'application/vnd.in-toto+json', digest: statementDigest, size: statement.length, annotations: { 'in-toto.io/predicate-type': 'https://slsa.dev/provenance/v0.2' } }],
    }),
  );
  const attestation = await putManifest(t, repo, sha256(attManifest), attManifest, 'application/vnd.oci.image.manifest.v1+json');
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { mediaType: image.mediaType, digest: image.digest, size: image.size, platform: { architecture: spec.architecture, os: spec.os, ...(spec.variant ? { variant: spec.variant } : {}) } },
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: attestation.digest,
          size: attestation.size,
          annotations: { 'vnd.docker.reference.digest': image.digest, 'vnd.docker.reference.type': 'attestation-manifest' },
          platform: { architecture: 'unknown', os: 'unknown' },
        },
      ],
    }),
  );
  return { index: await putManifest(t, repo, tag, index, 'application/vnd.oci.image.index.v1+json'), image, attestation };
}

/**
 * An OCI 1.1 artifact referring to `subject` (an SBOM, say): an empty config, one layer of
 * `content`, artifactType and subject set; PUT by digest. It is not listed anywhere: a registry
 * without the referrers API needs the fallback tag too (putReferrersTag).
 */
export async function pushArtifact(t: Target, repo: string, subject: Pushed, artifactType: string, content: Buffer, annotations?: Record<string, string>): Promise<Pushed> {
  const empty = Buffer.from('{}');
  const configDigest = await pushBlob(t, repo, empty);
  const layerDigest = await pushBlob(t, repo, content);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: configDigest, size: empty.length },
      layers: [{ mediaType: artifactType, digest: layerDigest, size: content.length }],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      ...(annotations ? { annotations } : {}),
    }),
  );
  return putManifest(t, repo, sha256(manifest), manifest, 'application/vnd.oci.image.manifest.v1+json');
}

/** The distribution-spec fallback: the `sha256-<hex>` tag holding an index of the subject's referrers. */
export async function putReferrersTag(t: Target, repo: string, subject: Pushed, referrers: Array<Pushed & { artifactType: string }>): Promise<Pushed> {
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: referrers.map((r) => ({ mediaType: r.mediaType, digest: r.digest, size: r.size, artifactType: r.artifactType })),
    }),
  );
  return putManifest(t, repo, subject.digest.replace(':', '-'), index, 'application/vnd.oci.image.index.v1+json');
}

/**
 * A cosign-style signature: the `sha256-<hex>.sig` tag holding an OCI manifest whose layer is the
 * simple-signing payload naming the image's digest, its signature in an annotation.
 */
export async function pushCosignSignature(t: Target, repo: string, subject: Pushed): Promise<Pushed> {
  const payload = Buffer.from(JSON.stringify({ critical: { identity: { 'docker-reference': repo }, image: { 'docker-manifest-digest': subject.digest }, type: 'cosign container image signature' }, optional: null }));
  const config = Buffer.from(JSON.stringify({ architecture: '', os: '', config: {}, rootfs: { type: 'layers', diff_ids: [sha256(payload)] } }));
  const configDigest = await pushBlob(t, repo, config);
  const payloadDigest = await pushBlob(t, repo, payload);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [
        {
          mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
          digest: payloadDigest,
          size: payload.length,
          annotations: { 'dev.cosignproject.cosign/signature': randomBytes(64).toString('base64') },
        },
      ],
    }),
  );
  return putManifest(t, repo, `${subject.digest.replace(':', '-')}.sig`, manifest, 'application/vnd.oci.image.manifest.v1+json');
}

/** GET a manifest's exact bytes (for digest checks). */
export async function getManifestBytes(t: Target, repo: string, ref: string): Promise<{ status: number; bytes: Buffer; contentType: string | null }> {
  const res = await fetch(`${t.url}/v2/${repo}/manifests/${ref}`, {
    headers: await headers(t, repo, {
      accept: 'application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json',
    }),
    dispatcher: t.dispatcher,
  });
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()), contentType: res.headers.get('content-type') };
}

export { sha256 };
