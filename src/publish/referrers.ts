/**
 * Referrers: signatures, SBOMs and provenance travel with the images (phase 1, before any tag of
 * ours moves). Discovery reads, in the image's source repository, its referrers (the referrers API,
 * else the `sha256-<hex>` fallback tag) and cosign's tags, to MAX_REFERRER_DEPTH levels; placement
 * puts each in the target by digest (cosign's by tag) and makes the referrers discoverable there:
 * by the registry itself when its referrers API lists them, else in the target's fallback tag, merged
 * with what that already lists. `attestations: referrers` turns buildx attestations into
 * referrers of their image here too. What the plan decides is in referrers-plan.ts.
 */
import { mapAll } from '../concurrency.ts';
import { checkDescribes } from '../oci/validate.ts';
import { quote } from '../escape.ts';
import { ActionError } from '../errors.ts';
import { log } from '../log.ts';
import type { IndexEntry } from '../oci/assemble.ts';
import { type Digest, referrersTag, sha256 } from '../oci/digest.ts';
import type { Descriptor } from '../oci/descriptor.ts';
import { type FetchedManifest, type ImageIndex, MediaType, parseManifest } from '../oci/manifest.ts';
import { ListingBudget, MAX_REFERRERS_PER_RUN, REFERRER_BYTES_PER_IMAGE, REFERRER_BYTES_PER_RUN } from '../budgets.ts';
import {
  COSIGN_SUFFIXES,
  MAX_REFERRERS,
  MAX_REFERRER_DEPTH,
  attachSubject,
  cosignTag,
  mergeReferrers,
  readReferrer,
  readReferrersIndex,
  referrerDescriptor,
} from '../oci/referrers.ts';
import type { PutManifestResult, RegistryClient } from '../registry/client.ts';
import type { Registries } from '../registry/registries.ts';
import type { EntryPlacer } from './place.ts';
import { type Target, presenceKey } from './plan.ts';
import { type AttachWork, type Attached, type Travelled, attestationSubjects, bySubject, discoverability, isRefusal, leftAsFound, listsAll, referrerCopies } from './referrers-plan.ts';

/** Answers of registries without the referrers API other than the 404 the spec names. */
const NO_REFERRERS_API = new Set([400, 405, 406, 501]);

/** The referrers API's answer for a subject, or undefined where the registry has no such API. */
async function referrersFromApi(client: RegistryClient, repository: string, subject: Digest): Promise<FetchedManifest | undefined> {
  let answer;
  try {
    answer = await client.getReferrers(repository, subject);
  } catch (e) {
    if (e instanceof ActionError && e.status !== undefined && NO_REFERRERS_API.has(e.status)) return undefined;
    throw e;
  }
  if (!answer) return undefined;
  if (answer.more) log.warning(`${client.registry}/${repository}@${subject}: the registry pages its referrers; only the first page is copied`);
  return { bytes: answer.bytes, digest: sha256(answer.bytes), mediaType: answer.mediaType || MediaType.OciIndex };
}

/** Referrer listings of the second level read at once for one image (each may be 4 MiB). */
const NESTED_LISTINGS_AT_ONCE = 8;
const BUDGET_HINT = 'Set referrers: skip to publish without them, and copy them with oras or regctl';

/**
 * Finds what is attached to images in their repositories; each (repository, digest) is read once.
 * Everything is counted against the image's and the run's budgets as it is listed, before it is read.
 */
export class ReferrerFinder {
  private readonly found = new Map<string, Promise<Attached[]>>();
  private readonly registries: Registries;
  private readonly limit: number;
  private readonly run = new ListingBudget('the referrers and cosign tags of this run', MAX_REFERRERS_PER_RUN, REFERRER_BYTES_PER_RUN);

  constructor(registries: Registries, limit: number) {
    this.registries = registries;
    this.limit = limit;
  }

  /** Everything attached to `subject` in the repository, its own referrers included (bounded depth, count and bytes). */
  find(registry: string, repository: string, subject: Digest): Promise<Attached[]> {
    const key = `${registry}/${repository}@${subject}`;
    let p = this.found.get(key);
    if (!p) {
      const budget = new ListingBudget(`the referrers and cosign tags of ${key}`, MAX_REFERRERS, REFERRER_BYTES_PER_IMAGE, this.run);
      p = this.level(registry, repository, subject, 1, budget);
      this.found.set(key, p);
    }
    return p;
  }

  private async level(registry: string, repository: string, subject: Digest, depth: number, budget: ListingBudget): Promise<Attached[]> {
    const client = this.registries.client(registry);
    const [listed, ...tagged] = await Promise.all([
      this.listed(client, repository, subject, budget),
      ...COSIGN_SUFFIXES.map((suffix) => this.cosign(client, repository, subject, cosignTag(subject, suffix), budget)),
    ]);
    const items = [...listed, ...tagged.filter((t) => t !== undefined)];
    // Signatures and cosign attestations are leaves; an SBOM (listed, or cosign's .sbom) may be signed.
    const signable = depth < MAX_REFERRER_DEPTH ? items.filter((i) => !i.tag || i.tag.endsWith('.sbom')) : [];
    const nested = await mapAll(signable, Math.min(NESTED_LISTINGS_AT_ONCE, this.limit), (item) => this.level(registry, repository, item.fetched.digest, depth + 1, budget));
    return [...items, ...nested.flat()];
  }

  /** The subject's referrers: the API's index, else the fallback tag's; counted, then each manifest read and checked. */
  private async listed(client: RegistryClient, repository: string, subject: Digest, budget: ListingBudget): Promise<Attached[]> {
    const where = `${client.registry}/${repository}@${subject}`;
    const index =
      (await referrersFromApi(client, repository, subject)) ??
      (await client.findManifest(repository, referrersTag(subject), `fetch the referrers tag of ${where}`));
    if (!index) return [];
    const { descriptors, skipped } = readReferrersIndex(index, `the referrers of ${where}`);
    for (const why of skipped) log.warning(`a referrer of ${where} is not copied: ${why}`);
    // The listing's own bytes and every listed manifest count before any of them is read.
    budget.add(descriptors.length, index.bytes.length + descriptors.reduce((n, d) => n + d.size, 0), BUDGET_HINT);
    const read = await mapAll(descriptors, this.limit, async (d): Promise<Attached | undefined> => {
      const name = `${client.registry}/${repository}@${d.digest}`;
      const fetched = await client.getManifest(repository, d.digest, `fetch referrer ${name}`);
      try {
        const manifest = readReferrer(fetched, name, subject);
        checkDescribes(d, { size: fetched.bytes.length, mediaType: manifest.mediaType ?? fetched.mediaType }, `the referrers of ${where}`);
        return { kind: 'referrer', subject, registry: client.registry, repository, fetched, descriptor: referrerDescriptor(fetched, manifest) };
      } catch (e) {
        if (!(e instanceof ActionError)) throw e;
        log.warning(`${e.message}: not copied`);
        return undefined;
      }
    });
    return read.filter((r) => r !== undefined);
  }

  /** A cosign tag next to the subject, when there is one and it holds an image manifest. */
  private async cosign(client: RegistryClient, repository: string, subject: Digest, tag: string, budget: ListingBudget): Promise<Attached | undefined> {
    const name = `${client.registry}/${repository}:${tag}`;
    // Asked first (HEAD), so that it is counted with its size before it is read.
    const head = await client.headManifest(repository, tag);
    if (!head) return undefined;
    budget.add(1, head.size, BUDGET_HINT);
    const fetched = await client.findManifest(repository, tag, `fetch cosign tag ${name}`);
    if (!fetched) return undefined;
    if (fetched.bytes.length > head.size) budget.add(0, fetched.bytes.length - head.size, BUDGET_HINT);
    try {
      readReferrer(fetched, name);
    } catch (e) {
      if (!(e instanceof ActionError)) throw e;
      log.warning(`${e.message}: not copied`);
      return undefined;
    }
    return { kind: 'cosign', subject, registry: client.registry, repository, fetched, tag };
  }
}

/**
 * Starts discovery for every image this run places in a repository other than its own (nothing
 * when every target is the images' own repository), once the plan knows which of them each target
 * already holds (`present`, keys of presenceKey); and turns detached attestations into referrers
 * of their images (for every target that does not already hold them). Resolves to what each
 * target is to receive, and the images left as their target had them.
 */
export async function findAttached(
  registries: Registries,
  finder: ReferrerFinder,
  work: { targets: Target[]; entries: IndexEntry[]; detached: IndexEntry[]; copy: boolean; limit: number; present: Promise<ReadonlySet<string>> },
): Promise<{ work: AttachWork[]; left: Travelled[] }> {
  const present = await work.present;
  // An image read from an OCI layout has no registry to find its referrers in.
  const copies = work.copy ? referrerCopies(work.targets, work.entries.filter((e) => !e.layout), present) : [];
  const attestations = attestationSubjects(work.detached, work.entries);
  const [found, made] = await Promise.all([
    mapAll(copies, work.limit, ({ image }) => finder.find(image.registry, image.repository, image.descriptor.digest)),
    mapAll(attestations, work.limit, ({ attestation, image }) => attestationReferrer(registries, attestation, image)),
  ]);
  const out: AttachWork[] = copies.map(({ target, image }, i) => ({ target, image: image.descriptor.digest, items: found[i] as Attached[] }));
  for (const target of work.targets) {
    attestations.forEach(({ image }, i) => {
      if (!present.has(presenceKey(target, image))) out.push({ target, image: image.descriptor.digest, items: [made[i] as Attached] });
    });
  }
  const left = work.copy || attestations.length ? leftAsFound(work.targets, work.entries, present) : [];
  return { work: out.filter((w) => w.items.length), left };
}

/** A buildx attestation manifest with `subject` (its image) and artifactType added: a new digest. */
async function attestationReferrer(registries: Registries, attestation: IndexEntry, image: IndexEntry): Promise<Attached> {
  const name = `${attestation.registry}/${attestation.repository}@${attestation.descriptor.digest}`;
  const original = attestation.manifestBytes
    ? { bytes: attestation.manifestBytes, digest: attestation.descriptor.digest, mediaType: attestation.descriptor.mediaType }
    : await registries.client(attestation.registry).getManifest(attestation.repository, attestation.descriptor.digest, `fetch attestation ${name}`);
  const parsed = parseManifest(original, name);
  if (parsed.kind !== 'image' || parsed.mediaType !== MediaType.OciManifest) {
    throw ActionError.input(`attestation ${name} is not an OCI image manifest (${quote(parsed.mediaType)}); it cannot carry a subject`, {
      hint: 'Use attestations: keep or drop for these sources',
    });
  }
  const bytes = attachSubject(original.bytes, image.descriptor, name);
  const fetched: FetchedManifest = { bytes, digest: sha256(bytes), mediaType: MediaType.OciManifest };
  const manifest = readReferrer(fetched, name, image.descriptor.digest);
  return {
    kind: 'attestation',
    subject: image.descriptor.digest,
    registry: attestation.registry,
    repository: attestation.repository,
    fetched,
    descriptor: referrerDescriptor(fetched, manifest),
    from: attestation.descriptor.digest,
  };
}

/**
 * Places everything found in its target (skipping what is already there), then lists the
 * referrers where the target does not itself: one fallback-tag update per (target, subject).
 */
export async function placeAttached(registries: Registries, placer: EntryPlacer, work: AttachWork[], limit: number, onRefusal: 'warn' | 'fail' = 'warn'): Promise<Travelled[]> {
  const jobs = work.flatMap((w) => w.items.map((item) => ({ ...w, item })));
  // A referrer that cannot be placed fails the copy phase at once (a refusal under `warn` is an outcome, not a failure).
  const placed = await mapAll(jobs, limit, ({ target, item }) => placer.failFast(placeOne(registries, placer, target, item, onRefusal)));
  const travelled = jobs.map(({ target, image, item }, i): Travelled => {
    const outcome = placed[i] as PlaceOutcome;
    const t: Travelled = { image, target: `${target.registry}/${target.repository}`, kind: item.kind, subject: item.subject, digest: item.fetched.digest, outcome: outcome.outcome };
    if (item.descriptor?.artifactType) t.artifactType = item.descriptor.artifactType;
    if (item.tag) t.tag = item.tag;
    if (item.from) t.from = item.from;
    return t;
  });
  // One update per (target, subject), once its referrers are all in place.
  const byTarget = new Map<string, { target: Target; puts: Map<Attached, PutManifestResult | undefined>; images: Map<Attached, Digest> }>();
  jobs.forEach(({ target, image, item }, i) => {
    if ((placed[i] as PlaceOutcome).outcome === 'refused') return; // not in the target: nothing to list
    const key = `${target.registry}/${target.repository}`;
    const group = byTarget.get(key) ?? { target, puts: new Map(), images: new Map() };
    group.puts.set(item, (placed[i] as PlaceOutcome).put);
    group.images.set(item, image);
    byTarget.set(key, group);
  });
  const updates = [...byTarget.values()].flatMap(({ target, puts, images }) =>
    [...bySubject([...puts.keys()])].map(([subject, items]) => ({ target, subject, items, puts: items.map((item) => puts.get(item)), image: images.get(items[0] as Attached) as Digest })),
  );
  const tags = await mapAll(updates, limit, (u) => makeDiscoverable(registries, u, onRefusal));
  return [...travelled, ...tags.filter((t) => t !== undefined)];
}

/**
 * A refusal of `name` by the target `where` (isRefusal): fatal under `referrers-refused: fail`,
 * else a warning saying what it costs (`without`); anything else is thrown as it is.
 */
function onRefused(e: unknown, where: string, name: string, onRefusal: 'warn' | 'fail', without: string): void {
  if (!(e instanceof ActionError) || !isRefusal(e.status, e.code)) throw e;
  if (onRefusal === 'fail') {
    throw ActionError.registry(`${where} refused ${name}: ${e.message}`, {
      code: e.code,
      status: e.status,
      detail: e.detail,
      diagnostics: [...e.diagnostics],
      hint: 'The registry does not take this manifest (see its message). Set referrers-refused: warn to publish the images without it, or referrers: skip',
    });
  }
  log.warning(`${where} refused ${name} (HTTP ${e.status} ${e.code ?? ''}${e.detail ? `: ${e.detail}` : ''}); ${without}. Set referrers-refused: fail to make this fatal`);
}

interface PlaceOutcome {
  outcome: Travelled['outcome'];
  /** The PUT's answer, when this run wrote it. */
  put?: PutManifestResult;
}

async function placeOne(registries: Registries, placer: EntryPlacer, target: Target, item: Attached, onRefusal: 'warn' | 'fail'): Promise<PlaceOutcome> {
  const dest = registries.client(target.registry);
  const reference = item.tag ?? item.fetched.digest;
  const there = await dest.headManifest(target.repository, reference);
  if (there?.digest === item.fetched.digest) return { outcome: 'present' };
  if (item.tag && there) {
    log.warning(`${target.registry}/${target.repository}:${item.tag} already holds other signatures (${there.digest ?? 'digest not given'}); kept them, the source's were not copied`);
    return { outcome: 'kept' };
  }
  const entry: IndexEntry = {
    descriptor: { mediaType: item.fetched.mediaType, digest: item.fetched.digest, size: item.fetched.bytes.length },
    line: `${item.kind} of ${item.subject}`,
    registry: item.registry,
    repository: item.repository,
    attestation: false,
    manifestBytes: item.fetched.bytes,
  };
  const bytes = await placer.placeBlobs(entry, target);
  const name = `${item.kind} ${item.tag ?? item.fetched.digest} of ${item.subject}`;
  let put: PutManifestResult;
  try {
    put = await dest.putManifestTracked(target.repository, reference, bytes, entry.descriptor.mediaType);
  } catch (e) {
    onRefused(e, `${target.registry}/${target.repository}`, name, onRefusal, 'the images are published without it');
    return { outcome: 'refused' };
  }
  log.info(`${name} → ${target.registry}/${target.repository}`);
  return { outcome: 'copied', put };
}

/**
 * Whether the target's referrers API lists every one of these referrers of `subject` (an answer
 * that does not parse as a referrers index lists nothing).
 */
async function listedByApi(client: RegistryClient, repository: string, subject: Digest, items: Attached[]): Promise<boolean> {
  const index = await referrersFromApi(client, repository, subject);
  if (!index) return false;
  try {
    const { descriptors } = readReferrersIndex(index, `the referrers of ${client.registry}/${repository}@${subject}`);
    return listsAll(descriptors, items.map((i) => i.fetched.digest));
  } catch (e) {
    if (e instanceof ActionError) return false;
    throw e;
  }
}

/**
 * Lists a subject's referrers in the target's fallback tag, unless the target's referrers API does
 * (checked: OCI-Subject alone proves nothing). A target that refuses the tag (an OCI index: Harbor
 * 1.x) is treated as one that refuses a referrer: returned as `refused` (and warned about), or
 * fatal under `referrers-refused: fail`.
 */
async function makeDiscoverable(
  registries: Registries,
  { target, subject, items, puts, image }: { target: Target; subject: Digest; items: Attached[]; puts: Array<PutManifestResult | undefined>; image: Digest },
  onRefusal: 'warn' | 'fail',
): Promise<Travelled | undefined> {
  const dest = registries.client(target.registry);
  if (discoverability(puts) === 'ask' && (await listedByApi(dest, target.repository, subject, items))) return undefined;
  const tag = referrersTag(subject);
  const name = `${target.registry}/${target.repository}:${tag}`;
  const current = await dest.findManifest(target.repository, tag, `fetch the referrers tag ${name}`);
  let existing: ImageIndex | undefined;
  if (current) {
    const parsed = parseManifest(current, name);
    if (parsed.kind !== 'index') {
      throw ActionError.conflict(`${name} holds an image, not a referrers index; the referrers of ${subject} cannot be listed there`, {
        hint: 'Remove that tag, or set referrers: skip',
      });
    }
    existing = parsed.manifest;
  }
  const merged = mergeReferrers(existing, items.map((i) => i.descriptor as Descriptor));
  if (!merged) return undefined;
  try {
    await dest.putManifest(target.repository, tag, merged.bytes, MediaType.OciIndex);
  } catch (e) {
    const what = `the referrers fallback tag ${tag} (an OCI index listing ${merged.added.length} referrer(s) of ${subject})`;
    onRefused(e, `${target.registry}/${target.repository}`, what, onRefusal, 'the referrers are in the repository, but only clients that ask a referrers API by digest find them');
    return { image, target: `${target.registry}/${target.repository}`, kind: 'fallback-tag', subject, digest: sha256(merged.bytes), tag, outcome: 'refused' };
  }
  log.info(`${name}: ${merged.added.length} referrer(s) listed`);
  return undefined;
}
