/**
 * The registry client: the distribution-spec operations this action needs, over one registry's
 * auth layer and transport. Every operation takes the one request path (`call`): send → check the
 * status against the operations table → read or discard the body → or throw the registry's error.
 * Manifests are kept as raw bytes; digests are computed from bytes and checked against what the
 * registry says.
 */
import type { Readable } from 'node:stream';
import { ActionError } from '../errors.ts';
import { type Digest, digestWithAlgorithmOf, parseDigest, sha256 } from '../oci/digest.ts';
import { type FetchedManifest, MANIFEST_ACCEPT, MANIFEST_SIZE_LIMIT, MediaType, baseMediaType } from '../oci/manifest.ts';
import type { AuthorizedRequest, Authenticator } from './auth.ts';
import { type HttpRequest, type Response, discard, foreignHost, header } from './http.ts';
import { digestMismatch, responseError } from './response-errors.ts';
import type { HostTransport } from './transport.ts';

/** Buffer of a blob stream being copied: larger chunks mean less per-chunk work. */
export const BLOB_STREAM_BUFFER = 256 * 1024;
/** Image configs are read into memory to learn the platform; they are small: bounded as a manifest is. */
export const CONFIG_LIMIT = MANIFEST_SIZE_LIMIT;

/**
 * The distribution-spec endpoints this client uses, the access each needs, and the statuses it
 * takes as success (the spec's own, plus `lenient` ones some registries send) and as "absent" for
 * existence checks. The conformance test checks this table against the spec's endpoint table.
 */
export const OPERATIONS = {
  getManifest: { endpoint: 'end-3', method: 'GET', access: 'pull', success: [200] },
  findManifest: { endpoint: 'end-3', method: 'GET', access: 'pull', success: [200], absent: 404 },
  headManifest: { endpoint: 'end-3', method: 'HEAD', access: 'pull', success: [200], absent: 404 },
  putManifest: { endpoint: 'end-7a', method: 'PUT', access: 'push', success: [201], lenient: [200] },
  deleteManifest: { endpoint: 'end-9', method: 'DELETE', access: 'push', success: [202], absent: 404 },
  getBlob: { endpoint: 'end-2', method: 'GET', access: 'pull', success: [200] },
  headBlob: { endpoint: 'end-2', method: 'HEAD', access: 'pull', success: [200], absent: 404 },
  startUpload: { endpoint: 'end-4a', method: 'POST', access: 'push', success: [202] },
  mountBlob: { endpoint: 'end-11', method: 'POST', access: 'push', success: [201, 202] },
  patchChunk: { endpoint: 'end-5', method: 'PATCH', access: 'push', success: [202] },
  putUpload: { endpoint: 'end-6', method: 'PUT', access: 'push', success: [201] },
  getReferrers: { endpoint: 'end-12a', method: 'GET', access: 'pull', success: [200], absent: 404 },
} as const;

type OperationName = keyof typeof OPERATIONS;
type Operation = { method: HttpRequest['method']; access: 'pull' | 'push'; success: readonly number[]; lenient?: readonly number[]; absent?: number };
const succeeded = (op: Operation, status: number) => op.success.includes(status) || (op.lenient?.includes(status) ?? false);
const expected = (op: Operation) => [...op.success, ...(op.absent ? [op.absent] : [])].join(' or ');

/** `start-end` (inclusive) for a chunk, as PATCH's Content-Range. */
export function contentRange(start: number, length: number): string {
  return `${start}-${start + length - 1}`;
}

/** What a manifest PUT tells: the digest of the bytes sent, and whether OCI-Subject came back. */
export interface PutManifestResult {
  digest: Digest;
  subjectTracked: boolean;
}

/** One operation on one repository. */
interface Call extends Omit<HttpRequest, 'method' | 'url'> {
  op: OperationName;
  repository: string;
  /** Path under /v2/ (`<repo>/manifests/<ref>`), or an absolute URL (upload locations). */
  path: string;
  /** What the request is for, in messages ("fetch manifest docker.io/library/alpine:3"). */
  what: string;
  /** Keep the body for the caller to stream (otherwise it is read whole, when asked, or discarded). */
  stream?: boolean;
}

/** A successful answer, or absent (the operation's `absent` status). */
type Outcome = { absent: false; res: Response } | { absent: true };

const CORRUPTED = 'The registry returned corrupted or substituted content; retry, or report it to the registry operator';

export class RegistryClient {
  readonly registry: string;
  readonly transport: HostTransport;
  readonly auth: Authenticator;

  constructor(transport: HostTransport, auth: Authenticator) {
    this.registry = transport.registry;
    this.transport = transport;
    this.auth = auth;
  }

  /** The one request path. */
  private async call(c: Call): Promise<Outcome> {
    const op: Operation = OPERATIONS[c.op];
    const { op: _op, repository, path, what, stream, ...send } = c;
    // A manifest by tag or digest names its image; anything else its repository.
    const manifest = /\/manifests\/([^/]+)$/.exec(path)?.[1];
    const subject = `${this.registry}/${repository}${manifest ? `${manifest.includes(':') ? '@' : ':'}${manifest}` : ''}`;
    const req: AuthorizedRequest = { ...send, method: op.method, url: /^https?:\/\//.test(path) ? path : `/v2/${path}`, repository, access: op.access, subject };
    const res = await this.auth.send(req);
    if (res.status === op.absent) {
      await discard(res);
      return { absent: true };
    }
    if (!succeeded(op, res.status)) {
      const answeredBy = this.transport.owns(res.url) ? undefined : foreignHost(res.url);
      throw await responseError(res, { method: op.method, registry: this.registry, repository, what, access: op.access, answeredBy }, expected(op));
    }
    if (!stream && !res.bytes) await discard(res);
    return { absent: false, res };
  }

  /** A call whose operation has no `absent` status. */
  private async present(c: Call): Promise<Response> {
    const outcome = await this.call(c);
    if (outcome.absent) throw new Error(`${c.op} has no absent status`);
    return outcome.res;
  }

  /** GET a manifest or index by tag or digest; verifies the digest when addressed by digest. */
  async getManifest(repository: string, reference: string, what = `fetch manifest ${this.registry}/${repository}:${reference}`): Promise<FetchedManifest> {
    return (await this.fetchManifest('getManifest', repository, reference, what)) as FetchedManifest;
  }

  /** getManifest, or undefined when there is none (404): for tags that may not exist. */
  findManifest(repository: string, reference: string, what = `fetch manifest ${this.registry}/${repository}:${reference}`): Promise<FetchedManifest | undefined> {
    return this.fetchManifest('findManifest', repository, reference, what);
  }

  private async fetchManifest(op: 'getManifest' | 'findManifest', repository: string, reference: string, what: string): Promise<FetchedManifest | undefined> {
    const byDigest = reference.includes(':');
    const name = `manifest ${this.registry}/${repository}${byDigest ? '@' : ':'}${reference}`;
    const outcome = await this.call({
      op,
      repository,
      path: `${repository}/manifests/${reference}`,
      what,
      headers: { accept: MANIFEST_ACCEPT },
      readBody: { limit: MANIFEST_SIZE_LIMIT, what: `manifest ${this.registry}/${repository}:${reference}` },
    });
    if (outcome.absent) return undefined;
    const { res } = outcome;
    const bytes = res.bytes as Buffer;
    const mediaType = baseMediaType(header(res, 'content-type'));
    if (byDigest) {
      const wanted = parseDigest(reference);
      const digest = digestWithAlgorithmOf(wanted, bytes);
      if (digest !== wanted) throw digestMismatch(name, wanted, digest, CORRUPTED);
      return { bytes, digest, mediaType };
    }
    const digest = sha256(bytes);
    const claimed = header(res, 'docker-content-digest');
    if (claimed?.startsWith('sha256:') && claimed !== digest) {
      throw digestMismatch(name, `${claimed} (Docker-Content-Digest)`, digest, 'The registry returned inconsistent content; retry, or report it to the registry operator');
    }
    return { bytes, digest, mediaType };
  }

  /**
   * GET the referrers of a manifest (OCI 1.1 referrers API): the index's bytes and media type, or
   * undefined when the registry does not answer the API (404, as the spec says such a registry
   * does). Only the first page is read (a Link header to more is reported by the caller).
   */
  async getReferrers(repository: string, digest: Digest): Promise<{ bytes: Buffer; mediaType: string; more: boolean } | undefined> {
    const what = `list referrers of ${this.registry}/${repository}@${digest}`;
    const outcome = await this.call({
      op: 'getReferrers',
      repository,
      path: `${repository}/referrers/${digest}`,
      what,
      headers: { accept: MediaType.OciIndex },
      readBody: { limit: MANIFEST_SIZE_LIMIT, what },
    });
    if (outcome.absent) return undefined;
    const { res } = outcome;
    return { bytes: res.bytes as Buffer, mediaType: baseMediaType(header(res, 'content-type')), more: /rel="?next"?/.test(header(res, 'link') ?? '') };
  }

  /** HEAD a manifest: its digest, media type and size, or undefined when absent (404). */
  async headManifest(repository: string, reference: string): Promise<{ digest: Digest | undefined; mediaType: string; size: number } | undefined> {
    const outcome = await this.call({
      op: 'headManifest',
      repository,
      path: `${repository}/manifests/${reference}`,
      what: `check manifest ${this.registry}/${repository}:${reference}`,
      headers: { accept: MANIFEST_ACCEPT },
    });
    if (outcome.absent) return undefined;
    const { res } = outcome;
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
    return (await this.putManifestTracked(repository, reference, bytes, mediaType)).digest;
  }

  /**
   * putManifest, telling also whether the registry answered OCI-Subject. Without it the client
   * keeps the fallback tag; with it the referrers API is still asked (OCI-Subject alone proves nothing).
   */
  async putManifestTracked(repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<PutManifestResult> {
    const digest = sha256(bytes);
    const what = `push manifest ${this.registry}/${repository}:${reference}`;
    const res = await this.present({ op: 'putManifest', repository, path: `${repository}/manifests/${reference}`, what, headers: { 'content-type': mediaType }, body: bytes });
    const claimed = header(res, 'docker-content-digest');
    if (claimed && claimed !== digest) {
      throw digestMismatch(what, `${digest} (the bytes sent)`, `${claimed} (Docker-Content-Digest)`, 'The registry altered the manifest; the tag may not point at what was published');
    }
    return { digest, subjectTracked: header(res, 'oci-subject') !== undefined };
  }

  /**
   * DELETE a manifest by tag or digest: true when deleted, false when it was not there (404).
   * OCI 1.1 allows DELETE by tag; distribution 2.8 refuses it (400 DIGEST_INVALID, or 405
   * UNSUPPORTED with deletes disabled): that is thrown as the registry's error.
   */
  async deleteManifest(repository: string, reference: string): Promise<boolean> {
    const outcome = await this.call({ op: 'deleteManifest', repository, path: `${repository}/manifests/${reference}`, what: `delete manifest ${this.registry}/${repository}:${reference}` });
    return !outcome.absent;
  }

  /** HEAD a blob: its size when present, undefined when absent. */
  async headBlob(repository: string, digest: Digest): Promise<number | undefined> {
    const outcome = await this.call({
      op: 'headBlob',
      repository,
      path: `${repository}/blobs/${digest}`,
      what: `check blob ${this.registry}/${repository}@${digest}`,
      followRedirects: true,
    });
    return outcome.absent ? undefined : Number(header(outcome.res, 'content-length') ?? 0);
  }

  /** GET a blob that is small enough to hold (image config), verified against its digest. */
  async getBlobBytes(repository: string, digest: Digest, limit: number, what: string): Promise<Buffer> {
    const name = `blob ${this.registry}/${repository}@${digest}`;
    const res = await this.present({ op: 'getBlob', repository, path: `${repository}/blobs/${digest}`, what, followRedirects: true, readBody: { limit, what: name } });
    const bytes = res.bytes as Buffer;
    const actual = digestWithAlgorithmOf(digest, bytes);
    if (actual !== digest) throw digestMismatch(name, digest, actual, CORRUPTED);
    return bytes;
  }

  /**
   * GET a blob as a stream (redirects to storage followed without credentials). `size`, the
   * descriptor's, lengthens the request's deadline to what the copy needs.
   */
  getBlobResponse(repository: string, digest: Digest, what: string, size?: number, progress?: { bytes: number }): Promise<Response> {
    return this.present({
      op: 'getBlob',
      repository,
      path: `${repository}/blobs/${digest}`,
      what,
      followRedirects: true,
      highWaterMark: BLOB_STREAM_BUFFER,
      stream: true,
      expectedBytes: size,
      ...(progress ? { progress } : {}),
    });
  }

  /**
   * Cross-repository mount. Returns 'mounted' on 201, or the upload location the registry opened
   * instead (202: not mounted, upload normally there).
   */
  async mountBlob(repository: string, digest: Digest, from: string): Promise<{ mounted: true } | { mounted: false; location: string }> {
    this.auth.declare(from, 'pull');
    const what = `mount blob ${digest} from ${this.registry}/${from} into ${repository}`;
    const res = await this.present({
      op: 'mountBlob',
      repository,
      path: `${repository}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`,
      what,
      headers: { 'content-length': '0' },
    });
    return res.status === 201 ? { mounted: true } : { mounted: false, location: uploadLocation(res, what) };
  }

  /** Opens an upload session; returns its location and the registry's minimum chunk size. */
  async startUploadSession(repository: string): Promise<{ location: string; chunkMinLength: number }> {
    const what = `start upload to ${this.registry}/${repository}`;
    const res = await this.present({ op: 'startUpload', repository, path: `${repository}/blobs/uploads/`, what, headers: { 'content-length': '0' } });
    const min = Number(header(res, 'oci-chunk-min-length'));
    return { location: uploadLocation(res, what), chunkMinLength: Number.isSafeInteger(min) && min > 0 ? min : 0 };
  }

  /** Sends one chunk of a chunked upload; returns the location for the next request. */
  async patchChunk(repository: string, location: string, chunk: Buffer, start: number, what: string): Promise<string> {
    const res = await this.present({
      op: 'patchChunk',
      repository,
      path: location,
      what,
      headers: {
        'content-type': 'application/octet-stream',
        'content-range': contentRange(start, chunk.length),
        'content-length': String(chunk.length),
      },
      body: chunk,
    });
    return uploadLocation(res, what);
  }

  /**
   * Completes an upload with a monolithic PUT of the whole blob. The location's query is kept and
   * `digest` added to it.
   */
  async putUpload(repository: string, location: string, digest: Digest, size: number, body: Buffer | (() => Readable), replayable: boolean): Promise<void> {
    const url = new URL(location);
    url.searchParams.set('digest', digest);
    await this.present({
      op: 'putUpload',
      repository,
      path: url.toString(),
      what: `upload blob ${digest} to ${this.registry}/${repository}`,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
      body,
      replayable,
    });
  }

  close(): Promise<void> {
    return this.transport.close();
  }
}

/** The absolute upload URL an answer's Location names (relative to where the answer came from). */
function uploadLocation(res: Response, what: string): string {
  const location = header(res, 'location');
  if (!location) {
    throw ActionError.registry(`${what}: the registry opened an upload without a Location header`, { code: 'BLOB_UPLOAD_INVALID' });
  }
  return new URL(location, res.url).toString();
}
