/**
 * The registry client: the distribution-spec operations this action needs, over one Endpoint
 * (transport) and one Authenticator per registry. Manifests are kept as raw bytes; digests are
 * computed from bytes and checked against what the registry says.
 */
import type { Readable } from 'node:stream';
import { ActionError } from '../errors.ts';
import { type Digest, digestWithAlgorithmOf, parseDigest, sha256 } from '../oci/digest.ts';
import { type FetchedManifest, MANIFEST_ACCEPT, baseMediaType } from '../oci/manifest.ts';
import { closeWarmSockets } from '../preconnect.ts';
import { Authenticator } from './auth.ts';
import { type CredentialOptions, type Credentials, resolveCredentials } from './credentials.ts';
import { type RequestContext, readLimited, responseError } from './errors.ts';
import {
  DEFAULT_TRANSPORT_OPTIONS,
  Endpoint,
  type SendOptions,
  type Response,
  type TransportOptions,
  type TransportStats,
  header,
} from './transport.ts';

/** Registries SHOULD accept manifests of at least 4 MB; nothing larger is read into memory. */
export const MANIFEST_LIMIT = 4 * 1024 * 1024;
/** Buffer of a blob stream being copied: larger chunks mean less per-chunk work. */
export const BLOB_STREAM_BUFFER = 256 * 1024;
/** Image configs are read into memory to learn the platform; they are small. */
export const CONFIG_LIMIT = 4 * 1024 * 1024;

/**
 * The distribution-spec endpoints this client uses and the statuses it takes as success (the
 * spec's own, plus `lenient` ones some registries send), and as "absent" for existence checks.
 * The conformance test checks this table against the spec's endpoint table.
 */
export const OPERATIONS = {
  getManifest: { endpoint: 'end-3', method: 'GET', success: [200] },
  headManifest: { endpoint: 'end-3', method: 'HEAD', success: [200], absent: 404 },
  putManifest: { endpoint: 'end-7a', method: 'PUT', success: [201], lenient: [200] },
  getBlob: { endpoint: 'end-2', method: 'GET', success: [200] },
  headBlob: { endpoint: 'end-2', method: 'HEAD', success: [200], absent: 404 },
  startUpload: { endpoint: 'end-4a', method: 'POST', success: [202] },
  mountBlob: { endpoint: 'end-11', method: 'POST', success: [201, 202] },
  patchChunk: { endpoint: 'end-5', method: 'PATCH', success: [202] },
  putUpload: { endpoint: 'end-6', method: 'PUT', success: [201] },
} as const;

type Operation = { success: readonly number[]; lenient?: readonly number[]; absent?: number };
const succeeded = (op: Operation, status: number) => op.success.includes(status) || (op.lenient?.includes(status) ?? false);
const expected = (op: Operation) => [...op.success, ...(op.absent ? [op.absent] : [])].join(' or ');

/** `start-end` (inclusive) for a chunk, as PATCH's Content-Range. */
export function contentRange(start: number, length: number): string {
  return `${start}-${start + length - 1}`;
}

/** A request on this registry: the transport's options, addressed by path, with its context. */
interface RequestSpec extends Omit<SendOptions, 'url'> {
  /** Path under /v2/ (`<repo>/manifests/<ref>`), or an absolute URL (upload locations). */
  path: string;
  repository: string;
  access: 'pull' | 'push';
  what: string;
}

export class RegistryClient {
  readonly registry: string;
  readonly endpoint: Endpoint;
  readonly auth: Authenticator;

  constructor(endpoint: Endpoint, auth: Authenticator) {
    this.registry = endpoint.registry;
    this.endpoint = endpoint;
    this.auth = auth;
  }

  /** Sends a request, answering a 401 challenge once with fresh credentials. */
  async request(spec: RequestSpec): Promise<Response> {
    const url = /^https?:\/\//.test(spec.path) ? spec.path : `/v2/${spec.path}`;
    for (let attempt = 0; ; attempt++) {
      const authorization = await this.auth.authorization(spec.repository, spec.access);
      const headers: Record<string, string> = { ...spec.headers };
      if (authorization) headers.authorization = authorization;
      const { path: _path, repository: _repository, access: _access, what: _what, ...send } = spec;
      const res = await this.endpoint.send({ ...send, url, headers });
      if (res.status === 401 && attempt < 2) {
        const retry = await this.auth.onUnauthorized(res.headers['www-authenticate'], authorization);
        if (retry) {
          await res.body.dump().catch(() => undefined);
          continue;
        }
      }
      return res;
    }
  }

  private ctx(spec: { method: string; repository: string; what: string; access: 'pull' | 'push' }): RequestContext {
    return { method: spec.method, registry: this.registry, repository: spec.repository, what: spec.what, access: spec.access };
  }

  /** GET a manifest or index by tag or digest; verifies the digest when addressed by digest. */
  async getManifest(repository: string, reference: string, what = `fetch manifest ${this.registry}/${repository}:${reference}`): Promise<FetchedManifest> {
    return this.endpoint.readWithRetry(what, () => this.getManifestOnce(repository, reference, what));
  }

  private async getManifestOnce(repository: string, reference: string, what: string): Promise<FetchedManifest> {
    const spec = {
      method: 'GET' as const,
      path: `${repository}/manifests/${reference}`,
      repository,
      access: 'pull' as const,
      what,
      headers: { accept: MANIFEST_ACCEPT },
    };
    const res = await this.request(spec);
    const op = OPERATIONS.getManifest;
    if (!succeeded(op, res.status)) throw await responseError(res, this.ctx(spec), expected(op));
    const declared = Number(header(res, 'content-length'));
    const bytes = await readLimited(res.body, MANIFEST_LIMIT, `manifest ${this.registry}/${repository}:${reference}`, Number.isFinite(declared) ? declared : undefined);
    const mediaType = baseMediaType(header(res, 'content-type'));
    let digest: Digest;
    if (reference.includes(':')) {
      const expected = parseDigest(reference);
      digest = digestWithAlgorithmOf(expected, bytes);
      if (digest !== expected) {
        throw new ActionError(`manifest ${this.registry}/${repository}@${reference} does not match its digest: the registry sent content hashing to ${digest}`, {
          kind: 'integrity',
          code: 'DIGEST_INVALID',
          hint: 'The registry returned corrupted or substituted content; retry, or report it to the registry operator',
        });
      }
    } else {
      digest = sha256(bytes);
      const claimed = header(res, 'docker-content-digest');
      if (claimed?.startsWith('sha256:') && claimed !== digest) {
        throw new ActionError(`manifest ${this.registry}/${repository}:${reference}: Docker-Content-Digest ${claimed} does not match the body (${digest})`, {
          kind: 'integrity',
          code: 'DIGEST_INVALID',
          hint: 'The registry returned inconsistent content; retry, or report it to the registry operator',
        });
      }
    }
    return { bytes, digest, mediaType };
  }

  /** HEAD a manifest: its digest, media type and size, or undefined when absent (404). */
  async headManifest(repository: string, reference: string): Promise<{ digest: Digest | undefined; mediaType: string; size: number } | undefined> {
    const spec = {
      method: 'HEAD' as const,
      path: `${repository}/manifests/${reference}`,
      repository,
      access: 'pull' as const,
      what: `check manifest ${this.registry}/${repository}:${reference}`,
      headers: { accept: MANIFEST_ACCEPT },
    };
    const res = await this.request(spec);
    await res.body.dump().catch(() => undefined);
    const op = OPERATIONS.headManifest;
    if (res.status === op.absent) return undefined;
    if (!succeeded(op, res.status)) throw await responseError(res, this.ctx(spec), expected(op));
    const claimed = header(res, 'docker-content-digest');
    let digest: Digest | undefined;
    try {
      digest = claimed ? parseDigest(claimed) : undefined;
    } catch {
      digest = undefined;
    }
    return { digest, mediaType: baseMediaType(header(res, 'content-type')), size: Number(header(res, 'content-length') ?? -1) };
  }

  /** PUT manifest bytes at a tag or digest; checks Docker-Content-Digest against the bytes sent. */
  async putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<Digest> {
    const digest = sha256(bytes);
    const spec = {
      method: 'PUT' as const,
      path: `${repository}/manifests/${reference}`,
      repository,
      access: 'push' as const,
      what: `push manifest ${this.registry}/${repository}:${reference}`,
      headers: { 'content-type': mediaType },
      body: bytes,
    };
    const res = await this.request(spec);
    const op = OPERATIONS.putManifest;
    if (!succeeded(op, res.status)) throw await responseError(res, this.ctx(spec), expected(op));
    await res.body.dump().catch(() => undefined);
    const claimed = header(res, 'docker-content-digest');
    if (claimed && claimed !== digest) {
      throw new ActionError(`push manifest ${this.registry}/${repository}:${reference}: the registry reports digest ${claimed}, but the bytes sent hash to ${digest}`, {
        kind: 'integrity',
        code: 'DIGEST_INVALID',
        hint: 'The registry altered the manifest; the tag may not point at what was published',
      });
    }
    return digest;
  }

  /** HEAD a blob: its size when present, undefined when absent. */
  async headBlob(repository: string, digest: Digest): Promise<number | undefined> {
    const spec = {
      method: 'HEAD' as const,
      path: `${repository}/blobs/${digest}`,
      repository,
      access: 'pull' as const,
      what: `check blob ${this.registry}/${repository}@${digest}`,
      followRedirects: true,
    };
    const res = await this.request(spec);
    await res.body.dump().catch(() => undefined);
    const op = OPERATIONS.headBlob;
    if (res.status === op.absent) return undefined;
    if (!succeeded(op, res.status)) throw await responseError(res, this.ctx(spec), expected(op));
    return Number(header(res, 'content-length') ?? 0);
  }

  /** GET a blob that is small enough to hold (image config), verified against its digest. */
  async getBlobBytes(repository: string, digest: Digest, limit: number, what: string): Promise<Buffer> {
    return this.endpoint.readWithRetry(what, () => this.getBlobBytesOnce(repository, digest, limit, what));
  }

  private async getBlobBytesOnce(repository: string, digest: Digest, limit: number, what: string): Promise<Buffer> {
    const res = await this.getBlobResponse(repository, digest, what);
    const declared = Number(header(res, 'content-length'));
    const bytes = await readLimited(res.body, limit, `blob ${this.registry}/${repository}@${digest}`, Number.isFinite(declared) ? declared : undefined);
    if (digestWithAlgorithmOf(digest, bytes) !== digest) {
      throw new ActionError(`blob ${this.registry}/${repository}@${digest} does not match its digest`, {
        kind: 'integrity',
        code: 'DIGEST_INVALID',
        hint: 'The registry returned corrupted content; retry, or report it to the registry operator',
      });
    }
    return bytes;
  }

  /** GET a blob as a stream (redirects to storage followed without credentials). */
  async getBlobResponse(repository: string, digest: Digest, what: string): Promise<Response> {
    const spec = {
      method: 'GET' as const,
      path: `${repository}/blobs/${digest}`,
      repository,
      access: 'pull' as const,
      what,
      followRedirects: true,
      highWaterMark: BLOB_STREAM_BUFFER,
    };
    const res = await this.request(spec);
    const op = OPERATIONS.getBlob;
    if (!succeeded(op, res.status)) throw await responseError(res, this.ctx(spec), expected(op));
    return res;
  }

  /**
   * Cross-repository mount. Returns 'mounted' on 201, or the upload location the registry opened
   * instead (202: not mounted, upload normally there).
   */
  async mountBlob(repository: string, digest: Digest, from: string): Promise<{ mounted: true } | { mounted: false; location: string }> {
    this.auth.scopes.add(from, 'pull');
    const spec = {
      method: 'POST' as const,
      path: `${repository}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`,
      repository,
      access: 'push' as const,
      what: `mount blob ${digest} from ${this.registry}/${from} into ${repository}`,
      headers: { 'content-length': '0' },
    };
    const res = await this.request(spec);
    await res.body.dump().catch(() => undefined);
    // 201: mounted. 202: not mounted, but an upload session was opened instead.
    if (res.status === 201) return { mounted: true };
    if (res.status === 202) return { mounted: false, location: await this.resolveLocation(res, spec) };
    throw await responseError(res, this.ctx(spec), expected(OPERATIONS.mountBlob));
  }

  private async resolveLocation(res: Response, spec: { method: string; repository: string; what: string; access: 'pull' | 'push' }): Promise<string> {
    const location = header(res, 'location');
    if (!location) {
      throw new ActionError(`${spec.what}: the registry opened an upload without a Location header`, {
        kind: 'registry',
        code: 'BLOB_UPLOAD_INVALID',
      });
    }
    return new URL(location, res.url).toString();
  }

  /** Opens an upload session; returns its location and the registry's minimum chunk size. */
  async startUploadSession(repository: string): Promise<{ location: string; chunkMinLength: number }> {
    const spec = {
      method: 'POST' as const,
      path: `${repository}/blobs/uploads/`,
      repository,
      access: 'push' as const,
      what: `start upload to ${this.registry}/${repository}`,
      headers: { 'content-length': '0' },
    };
    const res = await this.request(spec);
    await res.body.dump().catch(() => undefined);
    const op = OPERATIONS.startUpload;
    if (!succeeded(op, res.status)) throw await responseError(res, this.ctx(spec), expected(op));
    const min = Number(header(res, 'oci-chunk-min-length'));
    return { location: await this.resolveLocation(res, spec), chunkMinLength: Number.isSafeInteger(min) && min > 0 ? min : 0 };
  }

  /** Sends one chunk of a chunked upload; returns the location for the next request. */
  async patchChunk(repository: string, location: string, chunk: Buffer, start: number, what: string): Promise<string> {
    const spec = {
      method: 'PATCH' as const,
      path: location,
      repository,
      access: 'push' as const,
      what,
      headers: {
        'content-type': 'application/octet-stream',
        'content-range': contentRange(start, chunk.length),
        'content-length': String(chunk.length),
      },
      body: chunk,
    };
    const res = await this.request(spec);
    await res.body.dump().catch(() => undefined);
    const op = OPERATIONS.patchChunk;
    if (!succeeded(op, res.status)) throw await responseError(res, this.ctx(spec), expected(op));
    return this.resolveLocation(res, spec);
  }

  /**
   * Completes an upload with a monolithic PUT of the whole blob. The location's query is kept and
   * `digest` added to it.
   */
  async putUpload(repository: string, location: string, digest: Digest, size: number, body: Buffer | (() => Readable), replayable: boolean): Promise<void> {
    const url = new URL(location);
    url.searchParams.set('digest', digest);
    const spec = {
      method: 'PUT' as const,
      path: url.toString(),
      repository,
      access: 'push' as const,
      what: `upload blob ${digest} to ${this.registry}/${repository}`,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
      body,
      replayable,
    };
    const res = await this.request(spec);
    const op = OPERATIONS.putUpload;
    if (!succeeded(op, res.status)) throw await responseError(res, this.ctx(spec), expected(op));
    await res.body.dump().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.endpoint.close();
  }
}

export interface RegistryPoolOptions {
  transport?: Partial<TransportOptions>;
  credentials?: CredentialOptions;
}

/** One client per registry for the run, sharing transport settings and counters. */
export class RegistryPool {
  private readonly clients = new Map<string, RegistryClient>();
  private readonly realmEndpoints = new Map<string, Endpoint>();
  private readonly options: TransportOptions;
  private readonly credentialOptions: CredentialOptions;
  readonly stats: TransportStats = { requests: 0, retries: 0 };

  constructor(options: RegistryPoolOptions = {}) {
    this.options = { ...DEFAULT_TRANSPORT_OPTIONS, ...options.transport };
    this.credentialOptions = options.credentials ?? {};
  }

  client(registry: string): RegistryClient {
    let c = this.clients.get(registry);
    if (!c) {
      const endpoint = new Endpoint(registry, this.options, this.stats);
      let creds: Promise<Credentials> | undefined;
      const credentials = () => (creds ??= resolveCredentials(registry, this.credentialOptions));
      const auth = new Authenticator(endpoint, credentials, (host) => this.realmEndpoint(host));
      c = new RegistryClient(endpoint, auth);
      this.clients.set(registry, c);
    }
    return c;
  }

  private realmEndpoint(host: string): Endpoint {
    let e = this.realmEndpoints.get(host);
    if (!e) {
      e = new Endpoint(host, this.options, this.stats);
      this.realmEndpoints.set(host, e);
    }
    return e;
  }

  async close(): Promise<void> {
    closeWarmSockets();
    await Promise.all([...this.clients.values()].map((c) => c.close()));
    await Promise.all([...this.realmEndpoints.values()].map((e) => e.close()));
  }
}
