/**
 * The publish plan: resolve sources (and read every tag's state) → assemble the index → phase 1:
 * make every entry present in every target repository, then the index by digest → phase 2: the
 * identical index bytes to every tag, putting back the tags already moved when one fails.
 * Nothing is written until every source and tag has been read and the index assembled.
 * `publishInputs` is the one entry the action (main.ts) and the CLI share.
 */
import { MAX_RESULT_ENTRIES, budgetExceeded } from '../budgets.ts';
import { mapAll } from '../concurrency.ts';
import type { Inputs } from '../inputs.ts';
import { log } from '../log.ts';
import { hasAnnotations } from '../oci/annotations.ts';
import { type IndexEntry, assembleIndex } from '../oci/assemble.ts';
import { type Digest, sha256 } from '../oci/digest.ts';
import { formatPlatformAll } from '../oci/platform.ts';
import type { Reference } from '../oci/reference.ts';
import { checkDescribes } from '../oci/validate.ts';
import { maskSecret } from '../registry/credentials.ts';
import { isListedInsecure, isLoopback, splitHostPort } from '../hosts.ts';
import { Registries } from '../registry/registries.ts';
import { appendBase } from './append.ts';
import { readAppendBase } from './append-read.ts';
import { EntryPlacer } from './place.ts';
import { mergeAppend, planTargets, presenceKey, presenceQuestions, targetsOf } from './plan.ts';
import { type TagRead, checkAppendBase, overwriteConflicts, overwriteError, pushIndexByDigest, pushTags, readTagStates, settleTagStates } from './push.ts';
import { type PublishResult, type TagRecord, failedBeforeTags, tagsIn } from './result.ts';
import { rollBack, rolledBack } from './rollback.ts';
import { ReferrerFinder, findAttached, placeAttached } from './referrers.ts';
import { resolveSources } from './resolve.ts';

/**
 * The registries a run talks to, configured from its inputs (credentials for `registry`, or the
 * first tag's registry).
 */
export function registriesFor(inputs: Inputs): Registries {
  return new Registries({
    transport: {
      insecureRegistries: inputs.insecureRegistries,
      retries: inputs.retries,
      retryMaxSeconds: inputs.retryMaxSeconds,
      requestTimeoutSeconds: inputs.timeoutSeconds,
      concurrency: inputs.concurrency,
    },
    credentials: {
      explicit:
        inputs.username && inputs.password
          ? { registry: inputs.registry ?? inputs.tags[0]?.domain ?? '', username: inputs.username, password: inputs.password }
          : undefined,
      // Targets are pushed to: docker/login-action's `scope` configs for them apply.
      repositories: inputs.tags.map((t) => ({ registry: t.domain, repository: t.path, actions: ['pull', 'push'] })),
    },
  });
}

/** Publishes with parsed inputs: masks the password, opens the registries, closes them after. */
export async function publishInputs(inputs: Inputs): Promise<PublishResult> {
  maskSecret(inputs.password, 'the password input');
  const registries = registriesFor(inputs);
  try {
    return await publish(inputs, registries);
  } finally {
    await registries.close();
  }
}

/**
 * Annotation lines that do not apply to an index: one info line each, or, when no line applied at
 * all, one warning. That is what docker/metadata-action gives by default (every line `manifest:`).
 */
export function reportSkippedAnnotations(inputs: Pick<Inputs, 'indexAnnotations' | 'descriptorAnnotations' | 'skippedAnnotations'>): void {
  const skipped = inputs.skippedAnnotations;
  if (!skipped.length) return;
  if (hasAnnotations(inputs)) {
    for (const line of skipped) log.info(`annotation skipped (does not apply to an index): ${line}`);
    return;
  }
  log.warning(
    `none of the ${skipped.length} annotation line(s) was applied: none is for an index (e.g. '${skipped[0]}'), and an index is what this action writes. ` +
      'docker/metadata-action writes manifest: lines by default: set DOCKER_METADATA_ANNOTATIONS_LEVELS: index (or index,manifest-descriptor) in its env, or prefix the lines with index:',
  );
}

export async function publish(inputs: Inputs, registries: Registries): Promise<PublishResult> {
  const targets = targetsOf(inputs.tags);
  // Every scope of the run up front, so one token per registry covers them all: targets push and
  // pull, sources pull (blobs are mounted only from source repositories, and from the first tag's
  // repository on append: a target).
  for (const t of targets) registries.declare(t.registry, t.repository, ...(inputs.push ? (['pull', 'push'] as const) : (['pull'] as const)));
  for (const s of inputs.sources) registries.declare(s.ref.domain, s.ref.path, 'pull');
  // The reference an unreachable registry's error names: the first the user wrote on it (sources are read first).
  for (const ref of [...inputs.sources.map((s) => s.ref), ...inputs.tags]) registries.mention(ref.domain, ref.toString());
  const allTags = targets.flatMap((t) => t.tags);
  // Every phase keeps at most `concurrency` tasks in flight, each holding one request at a time.
  const limit = inputs.concurrency;

  // 1. Resolve every source; the tags' states are read meanwhile (issued once the sources' first
  // requests are: they are needed last, and must not take a connection slot from them).
  let reads: TagRead[] = [];
  // Child manifests are held within the placer's byte budget, from the first read on.
  const placer = new EntryPlacer(registries, limit);
  // Whether each target repository holds an image source: asked as soon as its digest is known.
  const onImage = (image: { registry: string; repository: string; digest: string }) => {
    for (const t of targets) if (t.registry !== image.registry || t.repository !== image.repository) void placer.headManifest(t, image.digest);
  };
  const resolved = await log.group('Resolve sources', async () => {
    const resolving = resolveSources(registries, inputs.sources, { attestations: inputs.attestations, ignoreMissing: inputs.ignoreMissing, limit, keep: (bytes) => placer.mayKeep(bytes), platforms: inputs.platforms, layouts: inputs.layouts, onImage });
    reads = readTagStates(registries, allTags);
    return resolving;
  });

  // 2. Assemble (append merges with what the first tag holds, as read meanwhile).
  const firstTag = inputs.tags[0] as Reference;
  const before = inputs.append ? await (reads[0] as TagRead).before : undefined;
  const baseRead = before ? await readAppendBase(registries, firstTag, before) : undefined;
  // A base that showed only when read again: the first tag's record starts from what it holds.
  if (baseRead && baseRead.state !== before) reads[0] = { tag: firstTag, before: Promise.resolve(baseRead.state) };
  const base = baseRead ? appendBase(firstTag, baseRead.fetched, inputs) : undefined;
  const entries = base ? mergeAppend(base.entries, resolved) : resolved;
  if (entries.length > MAX_RESULT_ENTRIES) {
    throw budgetExceeded(`the index assembled from ${inputs.sources.length + inputs.layouts.length} source(s)${base ? ` and ${firstTag}` : ''} has too many entries`, entries.length, MAX_RESULT_ENTRIES, 'Publish fewer images in one index');
  }
  const index = assembleIndex(entries, base?.options ?? inputs);
  const digest = sha256(index.bytes);
  reportSkippedAnnotations(inputs);
  // 3. Plan: which entries each target repository lacks (a HEAD each).
  const questions = presenceQuestions(targets, index.entries);
  const presence = mapAll(questions, limit, async ({ target, entry }) => {
    const head = await placer.headManifest(target, entry.descriptor.digest);
    if (head) checkDescribes(entry.descriptor, head, entry.line);
    return head !== undefined;
  }).then((answers) => new Set(questions.filter((_, i) => answers[i]).map(({ target, entry }) => presenceKey(target, entry))) as ReadonlySet<string>);
  presence.catch(() => undefined); // reported when awaited
  // What travels with the images this run places is looked for once presence is known, while the plan reads.
  const attaching =
    inputs.push && (inputs.referrers === 'copy' || index.detached.length)
      ? findAttached(registries, new ReferrerFinder(registries, limit), { targets, entries: index.entries, detached: index.detached, copy: inputs.referrers === 'copy', limit, present: presence })
      : Promise.resolve({ work: [], left: [] });
  attaching.catch(() => undefined); // reported when awaited

  const plan = await log.group('Plan', async () => {
    const present = await presence;
    const needs = planTargets(targets, index.entries, present);
    // Every manifest to be placed is read (and checked) now, before the first write; a run that
    // will copy then asks the target for the blobs meanwhile (reads, awaited by the copy).
    await mapAll(needs.flatMap((p) => p.missing), limit, (entry) => placer.checkManifest(entry));
    if (inputs.push) {
      const probing = placer.probeBlobs(needs.flatMap((p) => p.missing.map((entry) => ({ entry, target: p.destination }))), limit);
      probing.catch(() => undefined); // reported where the copy awaits each answer
    }
    for (const p of needs) log.info(`${p.target}: ${p.present} present, ${p.toMount} to mount, ${p.toCopy} to copy; tags ${p.destination.tags.map((x) => x.tag).join(', ')}`);
    log.info(`index ${digest} (${index.mediaType}, ${index.bytes.length} bytes): ${index.platforms.join(', ')}`);
    return needs;
  });

  // Every tag's state is known before the first write (`overwrite: false` needs it to write nothing).
  const records = await settleTagStates(reads);
  const conflicts = inputs.overwrite ? [] : overwriteConflicts(records, digest);
  if (conflicts.length) throw failedBeforeTags(overwriteError(conflicts, digest), records, digest, { indexPlaced: false }, false);

  const result: PublishResult = {
    digest,
    manifest: index.bytes.toString('utf8'),
    mediaType: index.mediaType,
    platforms: index.platforms,
    images: targets.map((t) => `${t.registry}/${t.repository}@${digest}`),
    entries: index.entries,
    pushed: [],
    unchanged: [],
    platformDigests: platformDigests(index.entries),
    dryRun: !inputs.push,
    plan: plan.map(({ target, present, toMount, toCopy }) => ({ target, present, toMount, toCopy })),
    referrers: [],
    stats: { requests: 0, retries: 0, blobsCopied: 0, bytesCopied: 0, blobsMounted: 0 },
  };
  if (!inputs.push) {
    log.info('push is false: nothing was written');
    return withStats(result, registries, placer);
  }

  const toPush = { bytes: index.bytes, mediaType: index.mediaType, digest };
  let indexPlaced = false;
  let tagsWritten = true;
  try {
    // 4. Phase 1: every entry into every target repository, then the index by digest. No tag moves.
    await log.group('Copy', async () => {
      // What travels with the images was read alongside the plan: every read is done before the first write.
      const attached = await attaching;
      const jobs = plan.flatMap((p) => p.missing.map((entry) => ({ entry, target: p.destination })));
      if (!jobs.length) log.info('every child is already in every target repository');
      // The first permanent failure drops the copies still running; the phase fails with it once they have settled.
      try {
        await mapAll(jobs, limit, ({ entry, target }) => placer.failFast(placer.place(entry, target)));
        // Then, still before any tag: referrers, cosign tags, attestations as referrers.
        result.referrers = [...(await placeAttached(registries, placer, attached.work, limit, inputs.referrersRefused)), ...attached.left];
      } catch (e) {
        throw placer.firstFailure(e);
      }
      for (const l of attached.left) log.info(`${l.image} was already in ${l.target}: its referrers and cosign tags there were left as they were, none copied from the source`);
      indexPlaced = await pushIndexByDigest(registries, toPush, targets, records, limit);
    });

    // 5. Phase 2: only now the tags; any that moved are put back when one fails.
    await log.group('Push', async () => {
      if (inputs.append) await checkAppendBase(registries, records[0] as TagRecord);
      tagsWritten = await pushTags(registries, toPush, records, limit);
      if (!tagsWritten) await rollBack(registries, records, digest, limit, (r) => isInsecure(r, inputs.insecureRegistries));
    });
  } catch (e) {
    throw failedBeforeTags(e, records, digest, { result: withTags(result, records, registries, placer), indexPlaced });
  }
  withTags(result, records, registries, placer);
  if (!tagsWritten) throw rolledBack(records, digest, result);
  return result;
}

/**
 * The result's tags (those the run leaves at the digest: moved there, or left there by a failed
 * run that could not put them back; and those already there) and its request and copy figures.
 */
function withTags(result: PublishResult, records: readonly TagRecord[], registries: Registries, placer: EntryPlacer): PublishResult {
  Object.assign(result, { pushed: [...tagsIn(records, 'moved'), ...tagsIn(records, 'left')], unchanged: tagsIn(records, 'unchanged') });
  return withStats(result, registries, placer);
}

/** A registry reached without verified TLS: loopback, or listed in insecure-registries. */
function isInsecure(registry: string, listed: string[]): boolean {
  return isLoopback(splitHostPort(registry).hostname) || isListedInsecure(registry, listed);
}

/** The image entries' platforms and digests (attestations have no platform of their own). */
export function platformDigests(entries: IndexEntry[]): Record<string, Digest> {
  const out: Record<string, Digest> = {};
  for (const e of entries) if (!e.attestation && e.descriptor.platform) out[formatPlatformAll(e.descriptor.platform)] = e.descriptor.digest;
  return out;
}

function withStats(result: PublishResult, registries: Registries, placer: EntryPlacer): PublishResult {
  result.stats = { requests: registries.stats.requests, retries: registries.stats.retries, firstRequestAt: registries.stats.firstRequestAt, ...placer.stats, copies: placer.copies() };
  return result;
}
