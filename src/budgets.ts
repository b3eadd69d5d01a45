/**
 * Budgets: what a run may read and hold at once, however hostile a source or registry is. Each
 * document is already bounded (4 MiB manifests); these bound how many there are and how many bytes
 * of them are held. A budget exceeded fails the run before any write, naming the source, the count
 * and the limit. The README's Security section gives the figures and why.
 */
import { ActionError } from './errors.ts';

/**
 * Entries one source index may list. Real indexes list tens (a dozen platforms, an attestation
 * each); 128 leaves room for every platform Go builds for, twice.
 */
export const MAX_SOURCE_INDEX_ENTRIES = 128;
/** Entries of the index this run assembles (and source lines it reads): twice a source index's. */
export const MAX_RESULT_ENTRIES = 256;
/**
 * Bytes of child manifests held at once. A manifest read during the plan is kept for its copy
 * while this allows; past it, only its descriptor is kept and the bytes are fetched again (and
 * checked against the digest) when placed. Parsed, a manifest of many layers takes several times its
 * bytes: 128 children of 4 MiB listing ~27,000 layers each peaked at 400 MiB with 64 MiB held, 349
 * with 16 (a dry run, 2026-12-06).
 */
export const MANIFEST_BYTES_HELD = 16 * 1024 * 1024;
/** Bytes of child manifests being read at once (each read reserves its declared size). */
export const MANIFEST_BYTES_IN_FLIGHT = 32 * 1024 * 1024;
/**
 * Bytes of child manifests `inspect --verbose` reads for one index (it keeps every layer listed and
 * prints them): real children are a few KiB each, so 128 of them fit many times over.
 */
export const INSPECT_CHILD_BYTES = 16 * 1024 * 1024;
/** Bytes of referrer and cosign manifests read for one image (all levels), and for the whole run. */
export const REFERRER_BYTES_PER_IMAGE = 16 * 1024 * 1024;
export const REFERRER_BYTES_PER_RUN = 64 * 1024 * 1024;
/** Referrers and cosign manifests read in a whole run (MAX_REFERRERS bounds each image). */
export const MAX_REFERRERS_PER_RUN = 1024;

/** The error of an exceeded budget: what, where, how many against the limit. */
export function budgetExceeded(what: string, count: number | string, limit: number | string, hint: string): ActionError {
  return ActionError.limit(`${what}: ${count}, more than the ${limit} this action reads; nothing was written`, { hint });
}

/**
 * A count and a byte budget, checked as things are listed (before they are read): `add` fails
 * naming `what` once either is exceeded here or in the parent (a per-run budget).
 */
export class ListingBudget {
  private count = 0;
  private bytes = 0;
  private readonly what: string;
  private readonly maxCount: number;
  private readonly maxBytes: number;
  private readonly parent: ListingBudget | undefined;
  constructor(what: string, maxCount: number, maxBytes: number, parent?: ListingBudget) {
    this.what = what;
    this.maxCount = maxCount;
    this.maxBytes = maxBytes;
    this.parent = parent;
  }
  /** Counts `count` more items of `bytes` in all; throws when a budget is exceeded. */
  add(count: number, bytes: number, hint: string): void {
    this.count += count;
    this.bytes += bytes;
    if (this.count > this.maxCount) throw budgetExceeded(`${this.what}: too many listed`, this.count, this.maxCount, hint);
    if (this.bytes > this.maxBytes) throw budgetExceeded(`${this.what}: too many bytes listed`, `${this.bytes} bytes`, `${this.maxBytes} bytes`, hint);
    this.parent?.add(count, bytes, hint);
  }
}
