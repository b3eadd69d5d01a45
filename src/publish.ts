/**
 * The publish plan: resolve sources → assemble the index → make every child present in every
 * target repository → push the identical index bytes to every tag. Nothing is written until every
 * source has been read and the index assembled; no tag is written until every child is in place.
 */
import { createHash } from 'node:crypto';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Transform, type TransformCallback } from 'node:stream';
import { ActionError, AggregateActionError, describeError } from './errors.ts';
import type { Inputs, SourceSpec } from './inputs.ts';
import { log } from './log.ts';
import { type AssembledIndex, type Child, assembleIndex, isAttestation } from './oci/assemble.ts';
import { type Digest, sha256 } from './oci/digest.ts';
import {
  type Descriptor,
  type FetchedManifest,
  IMAGE_TYPES,
  INDEX_TYPES,
  type ImageManifest,
  isNonDistributable,
  parseManifest,
} from './oci/manifest.ts';
import { type Platform, compact, formatPlatform, normalize, platformKey } from './oci/platform.ts';
import type { Reference } from './oci/reference.ts';
import { type ImageConfig, platformFromConfig } from './oci/config.ts';
import { BLOB_STREAM_BUFFER, CONFIG_LIMIT, type RegistryClient, type RegistryPool } from './registry/client.ts';
import { Semaphore } from './registry/transport.ts';

export interface PublishResult {
  digest: Digest;
  manifest: string;
  mediaType: string;
  platforms: string[];
  /** `<registry>/<repository>@<digest>` per target repository. */
  images: string[];
  children: Child[];
  /** Tags written, and tags that already pointed at the digest. */
  pushed: string[];
  unchanged: string[];
  dryRun: boolean;
  /** Per target repository: children mounted, copied or already present. */
  plan: TargetPlan[];
  stats: { requests: number; retries: number; blobsCopied: number; bytesCopied: number; blobsMounted: number; firstRequestAt?: number };
}

export interface TargetPlan {
  target: string;
  present: number;
  toMount: number;
  toCopy: number;
}

/** Runs `fn` over items with at most `limit` in flight; settles all, like Promise.allSettled. */
export async function mapSettled<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = { status: 'fulfilled', value: await fn(items[i] as T, i) };
      } catch (reason) {
        results[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Like mapSettled, but throws the first failure (after all settle). */
async function mapAll<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const settled = await mapSettled(items, limit, fn);
  const failed = settled.find((s) => s.status === 'rejected') as PromiseRejectedResult | undefined;
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<R>).value);
}

/** Applies a source line's overrides over what the config (or index) says. */
export function applyOverrides(spec: SourceSpec, fromImage: Partial<Platform>): Platform {
  const o = spec.overrides;
  let p: Partial<Platform> = { ...fromImage };
  if (o.platform) {
    const fromConfigNormalized = fromImage.os && fromImage.architecture ? normalize(fromImage as Platform) : undefined;
    if (
      fromConfigNormalized &&
      (fromConfigNormalized.os !== o.platform.os || fromConfigNormalized.architecture !== o.platform.architecture)
    ) {
      log.warning(
        `source '${spec.raw}': platform=${formatPlatform(o.platform)} contradicts the image config (${formatPlatform(fromImage as Platform)}); using the override`,
      );
    }
    p = {
      ...p,
      os: o.platform.os,
      architecture: o.platform.architecture,
      variant: o.platform.variant ?? (fromImage.architecture === o.platform.architecture ? fromImage.variant : undefined),
    };
    if (o.platform['os.version']) p['os.version'] = o.platform['os.version'];
    if (o.platform['os.features']) p['os.features'] = o.platform['os.features'];
  }
  if (o.variant) p.variant = o.variant;
  if (o.osVersion) p['os.version'] = o.osVersion;
  if (o.osFeatures) p['os.features'] = o.osFeatures;
  if (!p.os || !p.architecture) {
    throw new ActionError(`source '${spec.raw}': the image config names no ${!p.os ? 'os' : 'architecture'}`, {
      kind: 'input',
      hint: 'Give the platform after the reference: platform=os/arch[/variant]',
    });
  }
  return compact(p as Platform);
}

function needsConfig(spec: SourceSpec): boolean {
  // A full platform override makes the config unnecessary, except for Windows where os.version
  // (and os.features) come from the config unless given.
  const o = spec.overrides.platform;
  if (!o) return true;
  return o.os === 'windows' && !spec.overrides.osVersion && !o['os.version'];
}

async function resolveImage(
  client: RegistryClient,
  spec: SourceSpec,
  repository: string,
  fetched: FetchedManifest,
  manifest: ImageManifest,
  mediaType: string,
  known: Partial<Platform> | undefined,
): Promise<Child> {
  let fromImage: Partial<Platform> = known ?? {};
  if (!known && needsConfig(spec)) {
    const bytes = await client.getBlobBytes(repository, manifest.config.digest, CONFIG_LIMIT, `fetch config of ${spec.ref}`);
    let config: ImageConfig;
    try {
      config = JSON.parse(bytes.toString('utf8')) as ImageConfig;
    } catch {
      throw new ActionError(`the config of ${spec.ref} is not JSON`, { kind: 'integrity', code: 'MANIFEST_INVALID' });
    }
    fromImage = platformFromConfig(config);
  }
  return {
    descriptor: { mediaType, digest: fetched.digest, size: fetched.bytes.length, platform: applyOverrides(spec, fromImage) },
    source: spec.raw,
    registry: spec.ref.domain,
    repository,
    attestation: false,
    manifestBytes: fetched.bytes,
  };
}

/** Reads one source: an image (platform from its config) or an index (flattened). */
async function resolveSource(pool: RegistryPool, spec: SourceSpec, attestations: 'keep' | 'drop'): Promise<Child[]> {
  const client = pool.client(spec.ref.domain);
  const repository = spec.ref.path;
  const fetched = await client.getManifest(repository, spec.ref.identifier, `fetch source ${spec.ref}`);
  const parsed = parseManifest(fetched, spec.ref.toString());
  if (parsed.kind === 'image') {
    return [await resolveImage(client, spec, repository, fetched, parsed.manifest, parsed.mediaType, undefined)];
  }
  // An index: its image entries join the result with their platforms; attestations come along.
  const entries = parsed.manifest.manifests;
  const images = entries.filter((d) => !isAttestation(d));
  const nested = images.find((d) => INDEX_TYPES.has(d.mediaType));
  if (nested) {
    throw new ActionError(`source ${spec.ref} is an index that contains another index (${nested.digest})`, {
      kind: 'input',
      hint: 'Name the inner index or its images as sources instead: an index is never nested',
    });
  }
  const hasOverrides = Object.keys(spec.overrides).length > 0;
  if (hasOverrides && images.length !== 1) {
    throw new ActionError(`source '${spec.raw}' is an index of ${images.length} images; platform overrides apply to a single image`, {
      kind: 'input',
      hint: 'Name one image of it by digest to override its platform',
    });
  }
  const children: Child[] = [];
  for (const d of images) {
    if (!IMAGE_TYPES.has(d.mediaType)) {
      log.warning(`source ${spec.ref}: skipping entry ${d.digest} of unknown media type ${d.mediaType}`);
      continue;
    }
    if (d.platform?.os && d.platform.architecture && !(hasOverrides && needsConfig(spec))) {
      children.push({
        descriptor: { mediaType: d.mediaType, digest: d.digest, size: d.size, platform: applyOverrides(spec, d.platform), ...(d.annotations ? { annotations: d.annotations } : {}) },
        source: spec.raw,
        registry: spec.ref.domain,
        repository,
        attestation: false,
      });
    } else {
      // No platform in the index entry: read the child and its config.
      const child = await client.getManifest(repository, d.digest, `fetch ${spec.ref} entry ${d.digest}`);
      const childParsed = parseManifest(child, `${spec.ref.name}@${d.digest}`);
      if (childParsed.kind !== 'image') continue;
      children.push(await resolveImage(client, spec, repository, child, childParsed.manifest, childParsed.mediaType, undefined));
    }
  }
  if (attestations === 'keep') {
    for (const d of entries.filter(isAttestation)) {
      children.push({ descriptor: d, source: spec.raw, registry: spec.ref.domain, repository, attestation: true });
    }
  }
  return children;
}

/**
 * Streamed blobs leave behind buffers that V8 frees only when it next collects, so that a long
 * copy's resident memory grows with its throughput. A young-generation collection after every
 * 32 MiB copied frees them and keeps it flat, for well under a millisecond each time. (gc is
 * reached through V8's flag, as --expose-gc would.)
 */
const GC_EVERY_BYTES = 32 * 1024 * 1024;
let sinceCollect = 0;
let collect: (() => void) | undefined | null;
function collectAfter(bytes: number): void {
  sinceCollect += bytes;
  if (sinceCollect < GC_EVERY_BYTES) return;
  sinceCollect = 0;
  if (collect === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as (options?: { type: 'minor' | 'major' }) => void;
      collect = () => gc({ type: 'minor' });
    } catch {
      collect = null;
    }
  }
  collect?.();
}

/** Hashes a stream as it passes; fails at the end (aborting the upload) when the digest differs. */
class DigestVerifier extends Transform {
  private readonly hash;
  readonly expected: Digest;
  bytes = 0;
  onProgress?: (bytes: number) => void;
  constructor(expected: Digest) {
    super({ highWaterMark: BLOB_STREAM_BUFFER });
    this.expected = expected;
    this.hash = createHash(expected.slice(0, expected.indexOf(':')));
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    collectAfter(chunk.length);
    this.onProgress?.(this.bytes);
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    const got = `${this.expected.slice(0, this.expected.indexOf(':'))}:${this.hash.digest('hex')}`;
    if (got !== this.expected) {
      cb(new ActionError(`blob ${this.expected} hashes to ${got} while copying`, { kind: 'integrity', code: 'DIGEST_INVALID', hint: 'The source registry returned corrupted content; nothing was tagged' }));
      return;
    }
    cb();
  }
}

interface SourceStream {
  verifier: DigestVerifier;
  start: () => DigestVerifier;
}

interface Target {
  registry: string;
  repository: string;
  tags: Reference[];
}

interface CopyStats {
  blobsCopied: number;
  bytesCopied: number;
  blobsMounted: number;
}

/** Makes one child present in one target repository: mount or copy its blobs, then PUT it by digest. */
class ChildPlacer {
  private readonly blobJobs = new Map<string, Promise<void>>();
  private readonly manifestCache = new Map<string, Promise<Buffer>>();
  private readonly pool: RegistryPool;
  readonly stats: CopyStats = { blobsCopied: 0, bytesCopied: 0, blobsMounted: 0 };
  private readonly copySlots: Semaphore;

  constructor(pool: RegistryPool, copyLimit: number) {
    this.pool = pool;
    this.copySlots = new Semaphore(copyLimit);
  }

  async manifestBytes(child: Child): Promise<Buffer> {
    if (child.manifestBytes) return child.manifestBytes;
    const key = `${child.registry}/${child.repository}@${child.descriptor.digest}`;
    let p = this.manifestCache.get(key);
    if (!p) {
      p = this.pool
        .client(child.registry)
        .getManifest(child.repository, child.descriptor.digest, `fetch child ${key}`)
        .then((m) => m.bytes);
      this.manifestCache.set(key, p);
    }
    return p;
  }

  async place(child: Child, target: Target): Promise<void> {
    const bytes = await this.manifestBytes(child);
    const parsed = parseManifest({ bytes, digest: child.descriptor.digest, mediaType: child.descriptor.mediaType }, `${child.registry}/${child.repository}@${child.descriptor.digest}`);
    if (parsed.kind !== 'image') throw new ActionError(`child ${child.descriptor.digest} is not an image manifest`, { kind: 'input' });
    const blobs = [parsed.manifest.config, ...parsed.manifest.layers].filter((b) => !isNonDistributable(b));
    await mapAll(blobs, blobs.length, (blob) => this.placeBlob(blob, child, target));
    await this.pool.client(target.registry).putManifest(target.repository, child.descriptor.digest, bytes, child.descriptor.mediaType);
  }

  private placeBlob(blob: Descriptor, child: Child, target: Target): Promise<void> {
    const key = `${target.registry}/${target.repository}@${blob.digest}`;
    let job = this.blobJobs.get(key);
    if (!job) {
      job = this.ensureBlob(blob, child, target);
      this.blobJobs.set(key, job);
    }
    return job;
  }

  private async ensureBlob(blob: Descriptor, child: Child, target: Target): Promise<void> {
    const dest = this.pool.client(target.registry);
    if (child.registry === target.registry) {
      const mount = await dest.mountBlob(target.repository, blob.digest, child.repository);
      if (mount.mounted) {
        this.stats.blobsMounted++;
        return;
      }
      await this.copyBlob(blob, child, target, mount.location);
      return;
    }
    if ((await dest.headBlob(target.repository, blob.digest)) !== undefined) return;
    await this.copyBlob(blob, child, target, undefined);
  }

  /**
   * Streams a blob from the child's repository into the target, verifying its digest on the way:
   * one monolithic PUT where the registry takes it; when that fails (a registry that wants chunks,
   * or a broken connection: a stream cannot be replayed), once more from a fresh GET in chunks.
   */
  private async copyBlob(blob: Descriptor, child: Child, target: Target, location: string | undefined): Promise<void> {
    const release = await this.copySlots.acquire();
    try {
      const dest = this.pool.client(target.registry);
      const started = Date.now();
      let source: SourceStream | undefined;
      try {
        const uploadAt = location ?? (await dest.startUploadSession(target.repository)).location;
        source = await this.sourceStream(blob, child, target, started);
        const { start } = source;
        // The data starts flowing only when the upload takes the body.
        await dest.putUpload(target.repository, uploadAt, blob.digest, blob.size, start, false);
        this.recordCopy(blob, source.verifier.bytes, started);
      } catch (e) {
        source?.verifier.destroy();
        if (e instanceof ActionError && (e.kind === 'integrity' || e.kind === 'auth')) throw e;
        log.info(`upload of ${blob.digest} to ${target.registry}/${target.repository} failed (${describeError(e)}); trying again in chunks`);
        await this.copyBlobChunked(blob, child, target, started);
      }
    } finally {
      release();
    }
  }

  private async copyBlobChunked(blob: Descriptor, child: Child, target: Target, started: number): Promise<void> {
    const dest = this.pool.client(target.registry);
    const session = await dest.startUploadSession(target.repository);
    const chunkSize = Math.max(session.chunkMinLength, CHUNK_SIZE);
    const source = await this.sourceStream(blob, child, target, started);
    const body = source.start();
    let location = session.location;
    let offset = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async () => {
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
    if (pendingBytes > 0) await flush();
    await dest.putUpload(target.repository, location, blob.digest, 0, Buffer.alloc(0), true);
    this.recordCopy(blob, body.bytes, started);
  }

  /**
   * The blob's GET from the child's repository, and `start()` to pipe it through a digest
   * verifier (reporting progress) once the consumer is ready: nothing flows before that.
   */
  private async sourceStream(blob: Descriptor, child: Child, target: Target, started: number): Promise<SourceStream> {
    const source = this.pool.client(child.registry);
    const res = await source.getBlobResponse(child.repository, blob.digest, `copy blob ${blob.digest} from ${child.registry}/${child.repository}`);
    const verifier = new DigestVerifier(blob.digest);
    let lastReport = started;
    verifier.onProgress = (done) => {
      const now = Date.now();
      if (now - lastReport >= PROGRESS_INTERVAL_MS) {
        lastReport = now;
        const rate = done / 1048576 / ((now - started) / 1000);
        log.info(`copy ${blob.digest.slice(0, 19)}… to ${target.registry}/${target.repository}: ${(done / 1048576).toFixed(1)} / ${(blob.size / 1048576).toFixed(1)} MiB (${rate.toFixed(1)} MiB/s)`);
      }
    };
    res.body.on('error', (e) => verifier.destroy(e));
    return { verifier, start: () => res.body.pipe(verifier) };
  }

  private recordCopy(blob: Descriptor, bytes: number, started: number): void {
    this.stats.blobsCopied++;
    this.stats.bytesCopied += bytes;
    log.debug(`copied ${blob.digest} (${bytes} bytes) in ${Date.now() - started} ms`);
  }
}

/** Blobs copied at once (each a GET streamed into an upload); bounded by `concurrency` too. */
const COPY_PARALLELISM = 8;
/** Chunk size for chunked uploads (raised to the registry's OCI-Chunk-Min-Length). */
const CHUNK_SIZE = 8 * 1024 * 1024;
const PROGRESS_INTERVAL_MS = 5000;

/** Starts a HEAD of every tag; the promises are awaited when pushing. */
function readCurrentDigests(pool: RegistryPool, tags: Reference[]): Map<string, Promise<Digest | undefined>> {
  return new Map(
    tags.map((tag) => {
      const p = pool
        .client(tag.domain)
        .headManifest(tag.path, tag.tag as string)
        .then((h) => h?.digest);
      p.catch(() => undefined); // reported when awaited
      return [tag.toString(), p] as const;
    }),
  );
}

function targetsOf(tags: Reference[]): Target[] {
  const map = new Map<string, Target>();
  for (const t of tags) {
    const key = `${t.domain}/${t.path}`;
    const target = map.get(key) ?? { registry: t.domain, repository: t.path, tags: [] };
    target.tags.push(t);
    map.set(key, target);
  }
  return [...map.values()];
}

/** Children already in the index at the first tag, for `append`. */
async function existingChildren(pool: RegistryPool, tag: Reference): Promise<Child[]> {
  let fetched: FetchedManifest;
  try {
    fetched = await pool.client(tag.domain).getManifest(tag.path, tag.tag as string, `fetch existing index ${tag}`);
  } catch (e) {
    if (e instanceof ActionError && e.status === 404) return []; // nothing there yet: start empty
    throw e;
  }
  const parsed = parseManifest(fetched, tag.toString());
  if (parsed.kind !== 'index') {
    throw new ActionError(`append: ${tag} is an image, not an index`, { kind: 'input', hint: 'Append needs an existing index at the first tag, or none' });
  }
  return parsed.manifest.manifests.map((d) => ({
    descriptor: d,
    source: `${tag} (existing)`,
    registry: tag.domain,
    repository: tag.path,
    attestation: isAttestation(d),
  }));
}

/** Merges existing entries with new ones: new platforms replace old (with their attestations). */
export function mergeAppend(existing: Child[], fresh: Child[]): Child[] {
  const key = (c: Child) => (c.descriptor.platform ? platformKey(c.descriptor.platform) : '');
  const freshKeys = new Set(fresh.filter((c) => !c.attestation).map(key));
  const replaced = new Set(existing.filter((c) => !c.attestation && freshKeys.has(key(c))).map((c) => c.descriptor.digest as string));
  const kept = existing.filter((c) => {
    if (c.attestation) return !replaced.has(c.descriptor.annotations?.['vnd.docker.reference.digest'] ?? '');
    return !freshKeys.has(key(c));
  });
  return [...kept.filter((c) => !c.attestation), ...fresh.filter((c) => !c.attestation), ...kept.filter((c) => c.attestation), ...fresh.filter((c) => c.attestation)];
}

export async function publish(inputs: Inputs, pool: RegistryPool): Promise<PublishResult> {
  const targets = targetsOf(inputs.tags);
  // Every scope of the run up front, so one token per registry covers them all.
  for (const t of targets) pool.client(t.registry).auth.scopes.add(t.repository, ...(inputs.push ? ['pull', 'push'] : ['pull']));
  for (const s of inputs.sources) pool.client(s.ref.domain).auth.scopes.add(s.ref.path, 'pull');

  const allTags = targets.flatMap((t) => t.tags);
  let currentDigests = new Map<string, Promise<Digest | undefined>>();

  // 1. Resolve every source; report all failures together.
  const resolved = await log.group('Resolve sources', async () => {
    const resolving = mapSettled(inputs.sources, inputs.sources.length, (s) => resolveSource(pool, s, inputs.attestations));
    // The tags' current digests are read while the sources resolve (issued after them: they are
    // needed last, and must not hold a connection slot a source could use).
    currentDigests = readCurrentDigests(pool, allTags);
    const settled = await resolving;
    const failures = settled.flatMap((r, i) => (r.status === 'rejected' ? [{ spec: inputs.sources[i] as SourceSpec, error: r.reason as unknown }] : []));
    if (failures.length) {
      const errors = failures.map(({ spec, error }) => ({
        subject: spec.ref.toString(),
        error: error instanceof ActionError ? error : new ActionError(describeError(error), { kind: 'network' }),
      }));
      throw new AggregateActionError(`${failures.length} of ${inputs.sources.length} source(s) could not be read; nothing was written`, errors);
    }
    const children = settled.flatMap((r) => (r as PromiseFulfilledResult<Child[]>).value);
    // One write for the whole list: this runs between the last source read and the first write.
    if (children.length) {
      log.info(children.map((c) => `${c.attestation ? 'attestation' : formatPlatform(c.descriptor.platform as Platform)}  ${c.descriptor.digest}  ${c.source}`).join('\n'));
    }
    return children;
  });

  // 2. Assemble (append merges with what the first tag holds).
  const all = inputs.append ? mergeAppend(await existingChildren(pool, inputs.tags[0] as Reference), resolved) : resolved;
  const index: AssembledIndex = assembleIndex(all, inputs);
  const digest = sha256(index.bytes);
  for (const line of inputs.skippedAnnotations) log.info(`annotation skipped (does not apply to an index): ${line}`);

  // 3. Plan: which children each target repository lacks.
  const placer = new ChildPlacer(pool, Math.min(COPY_PARALLELISM, inputs.concurrency));
  const plan = await log.group('Plan', async () => {
    const plans = await mapAll(targets, targets.length, async (t) => {
      const client = pool.client(t.registry);
      const missing = await mapAll(index.children, index.children.length, async (c) => {
        if (c.registry === t.registry && c.repository === t.repository) return undefined;
        const head = await client.headManifest(t.repository, c.descriptor.digest);
        return head ? undefined : c;
      });
      const need = missing.filter((c): c is Child => c !== undefined);
      const toMount = need.filter((c) => c.registry === t.registry).length;
      const p: TargetPlan & { need: Child[]; t: Target } = {
        target: `${t.registry}/${t.repository}`,
        present: index.children.length - need.length,
        toMount,
        toCopy: need.length - toMount,
        need,
        t,
      };
      log.info(`${p.target}: ${p.present} present, ${p.toMount} to mount, ${p.toCopy} to copy; tags ${t.tags.map((x) => x.tag).join(', ')}`);
      return p;
    });
    log.info(`index ${digest} (${index.mediaType}, ${index.bytes.length} bytes): ${index.platforms.join(', ')}`);
    return plans;
  });

  const result: PublishResult = {
    digest,
    manifest: index.bytes.toString('utf8'),
    mediaType: index.mediaType,
    platforms: index.platforms,
    images: targets.map((t) => `${t.registry}/${t.repository}@${digest}`),
    children: index.children,
    pushed: [],
    unchanged: [],
    dryRun: !inputs.push,
    plan: plan.map(({ target, present, toMount, toCopy }) => ({ target, present, toMount, toCopy })),
    stats: { requests: 0, retries: 0, blobsCopied: 0, bytesCopied: 0, blobsMounted: 0 },
  };
  if (!inputs.push) {
    log.info('push is false: nothing was written');
    return finish(result, pool, placer);
  }

  // 4. Every child into every target repository.
  await log.group('Copy', async () => {
    const jobs = plan.flatMap((p) => p.need.map((c) => ({ c, t: p.t })));
    if (!jobs.length) log.info('every child is already in every target repository');
    await mapAll(jobs, jobs.length, ({ c, t }) => placer.place(c, t));
  });

  // 5. Only now the tags: the identical bytes to every one (skipped where already at the digest).
  await log.group('Push', async () => {
    await mapAll(allTags, allTags.length, async (tag) => {
      const client = pool.client(tag.domain);
      if ((await currentDigests.get(tag.toString())) === digest) {
        result.unchanged.push(tag.toString());
        log.info(`${tag} already at ${digest}`);
        return;
      }
      await client.putManifest(tag.path, tag.tag as string, index.bytes, index.mediaType);
      result.pushed.push(tag.toString());
      log.info(`${tag} → ${digest}`);
    });
    // In the order the tags were given, not the order the registries answered.
    const order = allTags.map(String);
    result.pushed.sort((a, b) => order.indexOf(a) - order.indexOf(b));
    result.unchanged.sort((a, b) => order.indexOf(a) - order.indexOf(b));
  });
  return finish(result, pool, placer);
}

function finish(result: PublishResult, pool: RegistryPool, placer: ChildPlacer): PublishResult {
  result.stats = { requests: pool.stats.requests, retries: pool.stats.retries, firstRequestAt: pool.stats.firstRequestAt, ...placer.stats };
  return result;
}

