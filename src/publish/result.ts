/**
 * What a run produces: its result, one record per tag (what the tag held before the run, what
 * the run did to it, what it holds now), and the error of a run that failed once its index was
 * assembled, complete when constructed. How a tag's record reads (stateText, reportLine) lives
 * here too: the annotation, the summary and the CLI print the same lines.
 */
import { ActionError, type ActionErrorDetails, describeError } from '../errors.ts';
import type { IndexEntry } from '../oci/assemble.ts';
import type { Digest } from '../oci/digest.ts';
import type { Reference } from '../oci/reference.ts';
import type { TargetPlan } from './plan.ts';
import type { Travelled } from './referrers-plan.ts';

export interface PublishResult {
  digest: Digest;
  manifest: string;
  mediaType: string;
  platforms: string[];
  /** `<registry>/<repository>@<digest>` per target repository. */
  images: string[];
  entries: IndexEntry[];
  /** Tags written, and tags that already pointed at the digest. */
  pushed: string[];
  unchanged: string[];
  /** Platform (containerd's full form: os.version included) → image digest, in index order. */
  platformDigests: Record<string, Digest>;
  dryRun: boolean;
  /** Per target repository: entries mounted, copied or already present. */
  plan: TargetPlan[];
  /** Referrers, cosign tags and attestations placed with the entries (or found already there). */
  referrers: Travelled[];
  stats: { requests: number; retries: number; blobsCopied: number; bytesCopied: number; blobsMounted: number; firstRequestAt?: number; copies?: TargetCopy[] };
}

/** What was copied into one target repository (across registries), and the time from its first copy's start to its last's end. */
export interface TargetCopy {
  repository: string;
  blobs: number;
  bytes: number;
  ms: number;
}

/**
 * What a tag held before the run, as a HEAD tells it: nothing, or a manifest's digest, media type
 * and size (-1 and '' when the registry did not send them). Its bytes are read by digest only
 * where they are needed: the `append` base, a put-back.
 */
export type TagState = { present: false } | { present: true; digest: Digest; mediaType: string; size: number };

/** A tag as read again after its write failed: its digest, absent, or unreadable (why). */
export type Observed = { present: false } | { present: true; digest: Digest } | { unknown: string };

/** How a tag's phase-2 write went. */
export type WriteOutcome = { kind: 'unchanged' } | { kind: 'moved' } | { kind: 'failed'; error: unknown; now: Observed };

/** Where a tag ended up. */
export type FinalState =
  | { kind: 'moved' } // at the new digest (a run that succeeded)
  | { kind: 'unchanged' } // at the new digest already before the run
  | { kind: 'untouched' } // as before the run: nothing was written to it, or its write did not land
  | { kind: 'restored' } // moved, then put back at the digest it had
  | { kind: 'deleted' } // did not exist, was created, deleted again
  | { kind: 'left'; why: string } // at the new digest: putting it back failed or is not possible
  | { kind: 'other'; now: Digest | undefined } // neither before nor new: moved by another writer, left alone
  | { kind: 'unknown'; why: string }; // unreadable after its write failed, and putting back failed

/** What fixes a tag by hand, and the command that does it. */
export interface Fix {
  what: string;
  command?: string;
}

/**
 * One tag of the run, from the read of its state to the report: what it held before, what the
 * run did to it (its phase-2 write), and where it ended up (with the fix by hand, when needed).
 */
export interface TagRecord {
  readonly tag: Reference;
  /** What it held before the run, read while the sources resolved. */
  readonly before: TagState;
  /** Its phase-2 write; undefined until attempted (and in runs that stop before phase 2). */
  write?: WriteOutcome;
  /** Where it ended up, as far as the run knows. */
  state: FinalState;
  /** Why its own write failed, in a few words, when it did. */
  error?: string;
  /** What fixes it by hand, when anything is needed. */
  fix?: Fix;
}

/** The digest a tag held before the run; undefined when it did not exist. */
export const digestBefore = (s: TagState): Digest | undefined => (s.present ? s.digest : undefined);

/** One line per tag, as the error annotation and the summary state it. */
export function stateText(r: Pick<TagRecord, 'before' | 'state'>, digest: Digest): string {
  const was = digestBefore(r.before) ?? 'absent';
  switch (r.state.kind) {
    case 'moved':
      return `moved to ${digest} (was ${was})`;
    case 'unchanged':
      return `unchanged (already at ${digest})`;
    case 'untouched':
      return `untouched (${r.before.present ? `at ${r.before.digest}` : 'absent'})`;
    case 'restored':
      return `restored to ${was}`;
    case 'deleted':
      return 'deleted again (it did not exist before the run)';
    case 'left':
      return `left at ${digest} (was ${was}): ${r.state.why}`;
    case 'other':
      return `left alone: it now holds ${r.state.now ?? 'nothing'}, neither ${was} nor ${digest}: moved by another writer`;
    case 'unknown':
      return `unknown (was ${was}): ${r.state.why}`;
  }
}

export function reportLine(r: TagRecord, digest: Digest): string {
  const fix = r.fix ? `; ${r.fix.what}${r.fix.command ? `: ${r.fix.command}` : ''}` : '';
  return `${r.tag}: ${stateText(r, digest)}${r.error ? `; its write failed: ${r.error}` : ''}${fix}`;
}

/** The tags a run leaves at the digest in the given final state, as given. */
export const tagsIn = (records: readonly TagRecord[], kind: FinalState['kind']): string[] => records.filter((r) => r.state.kind === kind).map((r) => String(r.tag));

/**
 * A run that failed after the index was assembled: its line, every tag's final state (one line
 * each), and the result so far (the outputs and summary a failed run still writes).
 * `indexPlaced`: the index is in every target repository by digest (phase 1 completed).
 */
export class PublishFailedError extends ActionError {
  readonly records: readonly TagRecord[];
  /** One line per tag (reportLine), shown under the error's own line. */
  readonly lines: string[];
  /** The index's digest. */
  readonly digest: Digest;
  readonly result: PublishResult | undefined;
  readonly indexPlaced: boolean;

  constructor(headline: string, records: readonly TagRecord[], digest: Digest, details: ActionErrorDetails, run: { result?: PublishResult; indexPlaced: boolean }) {
    super(headline, details);
    this.records = records;
    this.lines = records.map((r) => reportLine(r, digest));
    this.digest = digest;
    this.result = run.result;
    this.indexPlaced = run.indexPlaced;
  }
}

/** Details of the error that caused a failed run, kept for its title and code. */
export function causeDetails(e: unknown): ActionErrorDetails {
  return e instanceof ActionError ? { kind: e.kind, code: e.code, status: e.status, detail: e.detail, diagnostics: [...e.diagnostics], cause: e } : { kind: 'registry', cause: e };
}

/**
 * A failure before any tag moved (`written`: whether anything was written at all): every tag as
 * it was. `records` are those read so far (all of them once the states settled).
 */
export function failedBeforeTags(e: unknown, records: readonly TagRecord[], digest: Digest, run: { result?: PublishResult; indexPlaced: boolean }, written = true): PublishFailedError {
  const untouched = records.map((r): TagRecord => ({ tag: r.tag, before: r.before, state: { kind: 'untouched' } }));
  return new PublishFailedError(`${describeError(e)}. ${written ? 'No tag was moved' : 'Nothing was written'}`, untouched, digest, causeDetails(e), run);
}
