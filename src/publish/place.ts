/**
 * Place: makes an index entry present in a target repository. Its blobs are mounted (same
 * registry) or streamed from the source (another registry) through a digest check, then the
 * manifest is PUT by digest. Each blob is placed once per repository however many entries share it.
 */
import { MANIFEST_BYTES_HELD, MANIFEST_BYTES_IN_FLIGHT } from '../budgets.ts';
import { ByteBudget, mapAll, Semaphore } from '../concurrency.ts';
import { ActionError, describeError } from '../errors.ts';
import { log } from '../log.ts';
import type { IndexEntry } from '../oci/assemble.ts';
import { formatPlatform } from '../oci/platform.ts';
import type { Descriptor } from '../oci/descriptor.ts';
import { isNonDistributable, parseManifest } from '../oci/manifest.ts';
import { checkDescribes } from '../oci/validate.ts';
import { BLOB_STREAM_BUFFER, type PutManifestResult, type RegistryClient } from '../registry/client.ts';
import { errorCode } from '../registry/http.ts';
import type { Registries } from '../registry/registries.ts';
import type { Target } from './plan.ts';
import type { TargetCopy } from './result.ts';
import { DigestVerifier } from './verify.ts';

/**
 * Blobs copied at once (each a GET streamed into an upload); bounded by `concurrency` too. A blob
 * no larger than one stream buffer (an image config, most often) takes a slot of its own kind
 * instead (`concurrency` of them), so that it does not wait behind the large layers: a source
 * answering many small blobs (over several storage hosts) still has at most that many held.
 */
const COPY_PARALLELISM = 8;
/** Chunk size for chunked uploads (raised to the registry's OCI-Chunk-Min-Length, up to MAX_CHUNK_SIZE). */
const CHUNK_SIZE = 8 * 1024 * 1024;
/** Most bytes a chunk holds in memory: a registry's OCI-Chunk-Min-Length above it is refused (S3's multipart minimum, the largest real one, is 5 MiB). */
const MAX_CHUNK_SIZE = 16 * 1024 * 1024;
/**
 * Progress of long copies: every `intervalMs` a line per blob still copying, and a line per image
 * whose copy took longer than that; copies that end sooner print nothing. Tests shorten it.
 */
export const copyProgress = { intervalMs: 5000 };
const MiB = 1048576;
const mib = (bytes: number) => (bytes / MiB).toFixed(1);
const rate = (bytes: number, ms: number) => (ms > 0 ? (bytes / MiB / (ms / 1000)).toFixed(1) : '-');

/** A blob's GET from the source, not yet flowing: `start()` pipes it through the verifier. */
interface SourceStream {
  verifier: DigestVerifier;
  start: () => DigestVerifier;
}

export interface CopyStats {
  blobsCopied: number;
  bytesCopied: number;
  blobsMounted: number;
}

/** The request asked under `key`, asked now if it was not yet; its failure is reported where it is awaited. */
function askOnce<T>(asked: Map<string, Promise<T>>, key: string, ask: () => Promise<T>): Promise<T> {
  let p = asked.get(key);
  if (!p) {
    p = ask();
    p.catch(() => undefined);
    asked.set(key, p);
  }
  return p;
}

/** How a blob came to be in the target repository. */
type Placed = 'present' | 'mounted' | 'copied';

/** A copy dropped because another failed first: never reported (the phase fails with that first error). */
class CopyDropped extends Error {
  constructor() {
    super('copy dropped: another copy of the phase failed first');
  }
}

export class EntryPlacer {
  private readonly blobJobs = new Map<string, Promise<Placed>>();
  /** HEADs of blobs in target repositories (their size, or undefined: absent), asked during the plan. */
  private readonly probes = new Map<string, Promise<number | undefined>>();
  /** HEADs of manifests in target repositories: the plan's presence questions, asked once each. */
  private readonly manifestHeads = new Map<string, ReturnType<RegistryClient['headManifest']>>();
  private readonly copiedTo = new Map<string, { blobs: number; bytes: number; first: number; last: number }>();
  /** Child manifests read during the plan and kept for their copy (within `held`). */
  private readonly kept = new Map<string, Promise<Buffer | undefined>>();
  private readonly registries: Registries;
  readonly stats: CopyStats = { blobsCopied: 0, bytesCopied: 0, blobsMounted: 0 };
  private readonly copySlots: Semaphore;
  /** Slots of the small blobs' copies (each holds at most one stream buffer): `concurrency` of them. */
  private readonly smallSlots: Semaphore;
  private readonly concurrency: number;
  /** Bytes of manifests held (kept from the plan for the copy), and being read, at once. */
  readonly held: ByteBudget;
  private readonly reading: ByteBudget;
  /** The copy phase's first permanent failure: once set, the copies still running are dropped and no new one starts. */
  private failure: { error: unknown } | undefined;
  /** The source streams of the copies running (dropped on the first failure). */
  private readonly streaming = new Set<DigestVerifier>();

  /** `concurrency`: the run's request bound; blob copies at once are fewer still (COPY_PARALLELISM). */
  constructor(registries: Registries, concurrency: number, budgets: { held?: number; inFlight?: number } = {}) {
    this.registries = registries;
    this.concurrency = concurrency;
    this.copySlots = new Semaphore(Math.min(COPY_PARALLELISM, concurrency));
    this.smallSlots = new Semaphore(concurrency);
    this.held = new ByteBudget(budgets.held ?? MANIFEST_BYTES_HELD);
    this.reading = new ByteBudget(budgets.inFlight ?? MANIFEST_BYTES_IN_FLIGHT);
  }

  /**
   * The copy phase's first permanent failure (as `docker push`): records it and drops every copy
   * still running (its source GET, hence its upload); copies not yet started do not start. Later
   * failures (the dropped copies' among them) are not kept.
   */
  fail(error: unknown): void {
    if (this.failure) return;
    this.failure = { error };
    for (const verifier of this.streaming) verifier.destroy(new CopyDropped());
  }

  /** `work`, one job of the copy phase: its failure is the phase's (the first one stops the others). */
  failFast<T>(work: Promise<T>): Promise<T> {
    return work.catch((e: unknown) => {
      this.fail(e);
      throw e;
    });
  }

  /** The error the copy phase fails with: its first permanent failure, else `e`. */
  firstFailure(e: unknown): unknown {
    return this.failure ? this.failure.error : e;
  }

  /** Throws when the copy phase has failed: a step about to start a request stops instead. */
  private going(): void {
    if (this.failure) throw new CopyDropped();
  }

  /** Keeps `bytes` when the held budget allows (the caller then holds them), else says no. */
  mayKeep(bytes: Buffer): boolean {
    return this.held.tryReserve(bytes.length) !== undefined;
  }

  /**
   * Reads the entry's manifest and checks it against its descriptor (the plan does this for every
   * entry to place, before any write). The bytes are kept for the copy while the held budget
   * allows; past it they are dropped and read again, digest-checked, when the entry is placed.
   */
  checkManifest(entry: IndexEntry): Promise<void> {
    if (entry.manifestBytes) return Promise.resolve();
    const key = this.keyOf(entry);
    let p = this.kept.get(key);
    if (!p) {
      p = this.readManifest(entry).then((bytes) => (this.mayKeep(bytes) ? bytes : undefined));
      this.kept.set(key, p);
    }
    return p.then(() => undefined);
  }

  /**
   * Asks each target (HEAD, a read) for the blobs of the entries it will copy there, so that the
   * answers are in when the copy starts: the plan issues these beside its other reads, `limit` at
   * a time (the copies' own requests then wait behind no more than that). Entries whose manifest
   * was not kept are left to their copy (no second read for this). The returned promise settles
   * when every answer is in; a failure is reported where the copy awaits it.
   */
  async probeBlobs(pairs: Array<{ entry: IndexEntry; target: Target }>, limit: number): Promise<void> {
    const jobs: Array<{ blob: Descriptor; target: Target }> = [];
    for (const { entry, target } of pairs) {
      if (entry.registry === target.registry) continue; // mounted: the mount answers
      const bytes = entry.manifestBytes ?? (await this.kept.get(this.keyOf(entry)));
      if (bytes) for (const blob of this.blobsOf(entry, bytes)) jobs.push({ blob, target });
    }
    await mapAll(jobs, limit, ({ blob, target }) => this.probe(blob, target).then(() => undefined));
  }

  private probe(blob: Descriptor, target: Target): Promise<number | undefined> {
    return askOnce(this.probes, `${target.registry}/${target.repository}@${blob.digest}`, () => this.registries.client(target.registry).headBlob(target.repository, blob.digest));
  }

  /**
   * What `target` holds at `digest` (HEAD): asked once, as soon as the digest is known (an image
   * source's while its config is read, the other entries' once assembled); the plan awaits it.
   */
  headManifest(target: Target, digest: string): ReturnType<RegistryClient['headManifest']> {
    return askOnce(this.manifestHeads, `${target.registry}/${target.repository}@${digest}`, () => this.registries.client(target.registry).headManifest(target.repository, digest));
  }

  /** The blobs of an image manifest that are placed (non-distributable layers stay where they are). */
  private blobsOf(entry: IndexEntry, bytes: Buffer): Descriptor[] {
    const parsed = parseManifest({ bytes, digest: entry.descriptor.digest, mediaType: entry.descriptor.mediaType }, `${entry.registry}/${entry.repository}@${entry.descriptor.digest}`);
    if (parsed.kind !== 'image') throw ActionError.integrity(`child ${entry.descriptor.digest} is not an image manifest`, { code: 'MANIFEST_INVALID' });
    return [parsed.manifest.config, ...parsed.manifest.layers].filter((b) => !isNonDistributable(b));
  }

  /** The entry's manifest bytes: as resolved, as kept by the plan, or read again (and checked). */
  async manifestBytes(entry: IndexEntry): Promise<Buffer> {
    if (entry.manifestBytes) return entry.manifestBytes;
    return (await this.kept.get(this.keyOf(entry))) ?? this.readManifest(entry);
  }

  private keyOf(entry: IndexEntry): string {
    return `${entry.registry}/${entry.repository}@${entry.descriptor.digest}`;
  }

  /** One read of a child manifest, its declared size reserved from the in-flight budget meanwhile. */
  private async readManifest(entry: IndexEntry): Promise<Buffer> {
    const key = this.keyOf(entry);
    const release = await this.reading.acquire(entry.descriptor.size);
    try {
      const m = await this.registries.client(entry.registry).getManifest(entry.repository, entry.descriptor.digest, `fetch child ${key}`);
      checkDescribes(entry.descriptor, { size: m.bytes.length, mediaType: parseManifest(m, key).mediaType }, entry.line);
      return m.bytes;
    } finally {
      release();
    }
  }

  /**
   * Places the entry's blobs (unless the target is the repository they live in), then PUTs its
   * manifest at `reference`: its digest, or a tag (cosign's tags travel by tag).
   */
  async place(entry: IndexEntry, target: Target, reference: string = entry.descriptor.digest): Promise<PutManifestResult> {
    const bytes = await this.placeBlobs(entry, target);
    this.going();
    return this.registries.client(target.registry).putManifestTracked(target.repository, reference, bytes, entry.descriptor.mediaType);
  }

  /** Places the entry's blobs in the target (unless they live there) and returns its manifest bytes, to PUT next. */
  async placeBlobs(entry: IndexEntry, target: Target): Promise<Buffer> {
    this.going();
    const bytes = await this.manifestBytes(entry);
    const blobs = this.blobsOf(entry, bytes);
    const here = entry.registry === target.registry && entry.repository === target.repository;
    // Each blob task holds one request at a time (a mount, or a HEAD then a copy slot).
    if (!here) {
      const started = Date.now();
      const placed = await mapAll(blobs, this.concurrency, (blob) => this.placeBlob(blob, entry, target));
      const ms = Date.now() - started;
      const copied = blobs.filter((_, i) => placed[i] === 'copied');
      if (copied.length && ms >= copyProgress.intervalMs) {
        const size = copied.reduce((n, b) => n + b.size, 0);
        const platform = entry.descriptor.platform ? `${formatPlatform(entry.descriptor.platform)} ` : '';
        log.info(`copied ${platform}image ${entry.descriptor.digest} to ${target.registry}/${target.repository}: ${copied.length} blobs, ${mib(size)} MiB in ${(ms / 1000).toFixed(1)} s (${rate(size, ms)} MiB/s)`);
      }
    }
    return bytes;
  }

  /** Bytes and time copied into each target repository, for the job summary. */
  copies(): TargetCopy[] {
    return [...this.copiedTo].map(([repository, c]) => ({ repository, blobs: c.blobs, bytes: c.bytes, ms: c.last - c.first }));
  }

  private placeBlob(blob: Descriptor, entry: IndexEntry, target: Target): Promise<Placed> {
    const key = `${target.registry}/${target.repository}@${blob.digest}`;
    let job = this.blobJobs.get(key);
    if (!job) {
      // A blob that cannot be placed fails the phase at once, not when its entry's other blobs end.
      job = this.failFast(this.ensureBlob(blob, entry, target));
      this.blobJobs.set(key, job);
    }
    return job;
  }

  private async ensureBlob(blob: Descriptor, entry: IndexEntry, target: Target): Promise<Placed> {
    this.going();
    const dest = this.registries.client(target.registry);
    if (entry.registry === target.registry) {
      const mount = await dest.mountBlob(target.repository, blob.digest, entry.repository);
      if (mount.mounted) {
        this.stats.blobsMounted++;
        return 'mounted';
      }
      await this.copyBlob(blob, entry, target, mount.location);
      return 'copied';
    }
    if ((await this.probe(blob, target)) !== undefined) return 'present';
    this.going();
    await this.copyBlob(blob, entry, target, undefined);
    return 'copied';
  }

  /**
   * Streams a blob from the entry's repository into the target, verifying its digest on the way:
   * one monolithic PUT where the registry takes it; when that fails (a registry that wants chunks,
   * or a broken connection: a stream cannot be replayed), once more from a fresh GET in chunks.
   */
  private async copyBlob(blob: Descriptor, entry: IndexEntry, target: Target, location: string | undefined): Promise<void> {
    const release = await (blob.size <= BLOB_STREAM_BUFFER ? this.smallSlots : this.copySlots).acquire();
    const started = Date.now();
    let source: SourceStream | undefined;
    const where = `${target.registry}/${target.repository}`;
    const ticker = setInterval(() => {
      const done = source?.verifier.bytes ?? 0;
      log.info(`copying ${blob.digest.slice(0, 19)}… to ${where}: ${mib(done)} of ${mib(blob.size)} MiB (${rate(done, Date.now() - started)} MiB/s)`);
    }, copyProgress.intervalMs);
    ticker.unref();
    try {
      this.going();
      const dest = this.registries.client(target.registry);
      try {
        // The upload session and the source's GET at once: one round trip less before the bytes flow.
        const [session, opened] = await Promise.allSettled([location ?? dest.startUploadSession(target.repository).then((u) => u.location), this.sourceStream(blob, entry)]);
        if (opened.status === 'fulfilled') source = opened.value;
        if (session.status === 'rejected') throw session.reason;
        if (opened.status === 'rejected') throw opened.reason;
        const uploadAt = session.value;
        const stream = opened.value;
        // The data starts flowing only when the upload takes the body.
        await dest.putUpload(target.repository, uploadAt, blob.digest, blob.size, stream.start, false).catch((e: unknown) => {
          throw stream.verifier.overflowed ? stream.verifier.overflowError() : e;
        });
        if (stream.verifier.overflowed) throw stream.verifier.overflowError();
        this.recordCopy(blob, target, stream.verifier.bytes, started);
      } catch (e) {
        source?.verifier.destroy();
        if (this.failure || (e instanceof ActionError && (e.kind === 'integrity' || e.kind === 'auth' || e.kind === 'credentials'))) throw e;
        log.info(`upload of ${blob.digest} to ${where} failed (${describeError(e)}); trying again in chunks`);
        await this.copyBlobChunked(blob, entry, target, started, (s) => (source = s));
      }
    } finally {
      clearInterval(ticker);
      release();
    }
  }

  /** The chunked upload; `onSource` gets its source stream as soon as it exists (for progress). */
  private async copyBlobChunked(blob: Descriptor, entry: IndexEntry, target: Target, started: number, onSource: (s: SourceStream) => void): Promise<void> {
    const dest = this.registries.client(target.registry);
    const session = await dest.startUploadSession(target.repository);
    // A blob that fits in one chunk is sent whole whatever the minimum; past that, a chunk the registry asks to be larger than this holds is refused.
    if (session.chunkMinLength > MAX_CHUNK_SIZE && blob.size > MAX_CHUNK_SIZE) {
      throw ActionError.registry(
        `${target.registry}/${target.repository} asks upload chunks of at least ${session.chunkMinLength} bytes (OCI-Chunk-Min-Length), more than the ${MAX_CHUNK_SIZE} a chunk may hold in memory: blob ${blob.digest} (${blob.size} bytes) was not copied`,
        { code: 'SIZE_INVALID', hint: `The registry refused a monolithic upload and asks chunks larger than ${mib(MAX_CHUNK_SIZE)} MiB: check its upload settings, or report it to its operator` },
      );
    }
    const chunkSize = Math.max(session.chunkMinLength, CHUNK_SIZE);
    this.going();
    const source = await this.sourceStream(blob, entry);
    onSource(source);
    const body = source.start();
    let location = session.location;
    let offset = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async () => {
      this.going();
      const chunk = Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      location = await dest.patchChunk(target.repository, location, chunk, offset, `upload chunk of ${blob.digest} to ${target.registry}/${target.repository}`);
      offset += chunk.length;
    };
    for await (const piece of body) {
      pending.push(piece as Buffer);
      pendingBytes += (piece as Buffer).length;
      if (pendingBytes >= chunkSize) await flush();
    }
    if (source.verifier.overflowed) throw source.verifier.overflowError();
    if (pendingBytes > 0) await flush();
    this.going();
    await dest.putUpload(target.repository, location, blob.digest, 0, Buffer.alloc(0), true);
    this.recordCopy(blob, target, body.bytes, started);
  }

  /**
   * The blob's GET from the entry's repository, and `start()` to pipe it through a digest
   * verifier once the consumer is ready: nothing flows before that.
   */
  private async sourceStream(blob: Descriptor, entry: IndexEntry): Promise<SourceStream> {
    const verifier = new DigestVerifier(blob.digest, blob.size);
    // From an OCI layout the blob is a file (read under the file rules); else a GET from the source registry.
    const body = entry.layout
      ? entry.layout.openBlob(blob)
      : (await this.registries.client(entry.registry).getBlobResponse(entry.repository, blob.digest, `copy blob ${blob.digest} from ${entry.registry}/${entry.repository}`, blob.size, verifier.progress)).body;
    verifier.source = body;
    // A source that breaks off mid-blob is named (not the upload it was feeding, nor a bare socket error).
    const brokeOff = (e: unknown) =>
      e instanceof ActionError || entry.layout
        ? e
        : ActionError.network(`blob ${blob.digest} from ${entry.registry}/${entry.repository} broke off after ${verifier.bytes} of ${blob.size} bytes: ${describeError(e, 'outside')}`, {
            code: errorCode(e),
            cause: e,
            hint: 'The source registry closed the connection mid-blob: run again, or check the source registry',
          });
    body.on('error', (e) => verifier.destroy(brokeOff(e) as Error));
    // The source may fail before the upload takes the stream (its session still being opened): the
    // failure is kept in `errored` for the upload (base.ts) or the chunked loop to report; with no
    // listener yet, its 'error' event would end the process as an uncaught exception.
    verifier.on('error', () => undefined);
    // Dropped with the others when the phase fails (at once, if it failed while this GET was asked).
    this.streaming.add(verifier);
    verifier.once('close', () => this.streaming.delete(verifier));
    if (this.failure) verifier.destroy(new CopyDropped());
    return { verifier, start: () => body.pipe(verifier) };
  }

  private recordCopy(blob: Descriptor, target: Target, bytes: number, started: number): void {
    this.stats.blobsCopied++;
    this.stats.bytesCopied += bytes;
    const now = Date.now();
    const key = `${target.registry}/${target.repository}`;
    const c = this.copiedTo.get(key) ?? { blobs: 0, bytes: 0, first: started, last: now };
    this.copiedTo.set(key, { blobs: c.blobs + 1, bytes: c.bytes + bytes, first: Math.min(c.first, started), last: Math.max(c.last, now) });
    log.debug(`copied ${blob.digest} (${bytes} bytes) in ${now - started} ms`);
  }
}
