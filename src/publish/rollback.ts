/**
 * Rollback: when a tag write fails, the tags already moved go back to what they held before the
 * run (a PUT of the recorded bytes with their media type; a tag that did not exist is deleted
 * where the registry allows DELETE by tag), and every tag's final state is reported with the
 * command that fixes it by hand. The decisions are pure (rollbackStep, fixCommand, reportLine);
 * rollBack performs them.
 */
import { mapSettled } from '../concurrency.ts';
import { ActionError, type ActionErrorDetails, describeError } from '../errors.ts';
import { log } from '../log.ts';
import type { Digest } from '../oci/digest.ts';
import type { Reference } from '../oci/reference.ts';
import type { Registries } from '../registry/registries.ts';
import type { PublishResult } from './index.ts';
import type { IndexToPush, TagState } from './push.ts';

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
  | { kind: 'other'; now: Digest | undefined } // neither before nor new: another writer; left alone
  | { kind: 'unknown'; why: string }; // unreadable after its write failed, and putting back failed

export interface TagReport {
  tag: Reference;
  /** The digest before the run; undefined when the tag did not exist. */
  before: Digest | undefined;
  state: FinalState;
  /** Why its own write failed, when it did. */
  error?: string;
  /** What fixes it by hand, when anything is needed, and the command that does it. */
  fix?: Fix;
}

export interface Fix {
  what: string;
  command?: string;
}

/**
 * What to do with one tag after a failed phase 2: nothing (with its final state), put back the
 * recorded bytes, or delete the tag. A write that failed may still have landed: when the tag now
 * holds the new digest it is treated as moved; when it cannot be read, as possibly moved (putting
 * back the old bytes is harmless when the write did not land).
 */
export function rollbackStep(before: { present: boolean; digest?: Digest }, outcome: WriteOutcome, digest: Digest): { step: 'restore' | 'delete' } | { step: 'none'; state: FinalState } {
  const undo = { step: before.present ? ('restore' as const) : ('delete' as const) };
  if (outcome.kind === 'unchanged') return { step: 'none', state: { kind: 'unchanged' } };
  if (outcome.kind === 'moved') return undo;
  const now = outcome.now;
  if ('unknown' in now) return undo;
  if (now.present && now.digest === digest) return undo;
  const same = now.present ? before.present && before.digest === now.digest : !before.present;
  if (same) return { step: 'none', state: { kind: 'untouched' } };
  return { step: 'none', state: { kind: 'other', now: now.present ? now.digest : undefined } };
}

/** skopeo's flags for a registry reached without verified TLS (loopback or insecure-registries). */
const skopeoTls = (insecure: boolean) => (insecure ? '--src-tls-verify=false --dest-tls-verify=false ' : '');

/** The index (or image) at `digest` in the tag's repository, copied to the tag: skopeo keeps the bytes. */
function copyCommand(tag: Reference, digest: Digest, insecure: boolean): string {
  return `skopeo copy --all --preserve-digests ${skopeoTls(insecure)}docker://${tag.domain}/${tag.path}@${digest} docker://${tag}`;
}

/**
 * The command that fixes a tag by hand, or undefined when none is needed. A tag left at the new
 * digest is put back; a tag as it was before the run is published once its registry accepts
 * writes (the index is in every target repository by digest already).
 */
export function fixCommand(r: Pick<TagReport, 'tag' | 'before' | 'state'>, digest: Digest, insecure: boolean): Fix | undefined {
  switch (r.state.kind) {
    case 'moved':
    case 'unchanged':
      return undefined;
    case 'left':
    case 'unknown':
      return r.before
        ? { what: 'to put it back', command: copyCommand(r.tag, r.before, insecure) }
        : { what: 'the registry cannot delete it by tag; delete it in its own interface, or publish the other tags to finish' };
    default:
      return { what: 'to publish it', command: copyCommand(r.tag, digest, insecure) };
  }
}

/** One line per tag, as the error annotation and the summary state it. */
export function stateText(r: Pick<TagReport, 'before' | 'state'>, digest: Digest): string {
  const was = r.before ?? 'absent';
  switch (r.state.kind) {
    case 'moved':
      return `moved to ${digest} (was ${was})`;
    case 'unchanged':
      return `unchanged (already at ${digest})`;
    case 'untouched':
      return `untouched (${r.before ? `at ${r.before}` : 'absent'})`;
    case 'restored':
      return `restored to ${was}`;
    case 'deleted':
      return 'deleted again (it did not exist before the run)';
    case 'left':
      return `left at ${digest} (was ${was}): ${r.state.why}`;
    case 'other':
      return `left alone: it now holds ${r.state.now ?? 'nothing'}, neither ${was} nor ${digest} (another writer?)`;
    case 'unknown':
      return `unknown (was ${was}): ${r.state.why}`;
  }
}

export function reportLine(r: TagReport, digest: Digest): string {
  const fix = r.fix ? `; ${r.fix.what}${r.fix.command ? `: ${r.fix.command}` : ''}` : '';
  return `${r.tag}: ${stateText(r, digest)}${r.error ? `; its write failed: ${r.error}` : ''}${fix}`;
}

/**
 * A run that failed after the index was assembled: its line, every tag's final state (one line
 * each), and the result so far (the outputs and summary a failed run still writes). `indexPlaced`: the index is in every
 * target repository by digest (phase 1 completed).
 */
export class PublishFailedError extends ActionError {
  readonly reports: TagReport[];
  /** One line per tag (reportLine), shown under the error's own line. */
  readonly lines: string[];
  /** The index's digest. */
  readonly digest: Digest;
  result: PublishResult | undefined;
  indexPlaced: boolean;

  constructor(headline: string, reports: TagReport[], digest: Digest, details: ActionErrorDetails, indexPlaced: boolean) {
    super(headline, details);
    this.lines = reports.map((r) => reportLine(r, digest));
    this.digest = digest;
    this.reports = reports;
    this.indexPlaced = indexPlaced;
  }
}

/** Details of the error that caused a failed run, kept for its title and code. */
function causeDetails(e: unknown): ActionErrorDetails {
  return e instanceof ActionError ? { kind: e.kind, code: e.code, status: e.status, detail: e.detail, diagnostics: [...e.diagnostics], cause: e } : { kind: 'registry', cause: e };
}

/** A failure before any tag moved (`written`: whether anything was written at all): every tag as it was. */
export function failedBeforeTags(e: unknown, tags: Reference[], before: Array<TagState | undefined>, digest: Digest, indexPlaced: boolean, written = true): PublishFailedError {
  const reports = tags.map((tag, i): TagReport => {
    const s = before[i];
    return { tag, before: s?.present ? s.digest : undefined, state: { kind: 'untouched' } };
  });
  return new PublishFailedError(`${describeError(e)}. ${written ? 'No tag was moved' : 'Nothing was written'}`, reports, digest, causeDetails(e), indexPlaced);
}

/**
 * Puts back every tag the failed phase 2 moved (or may have moved), with the transport's retry
 * policy, and returns the error describing every tag's final state.
 */
export async function rollBack(
  registries: Registries,
  index: IndexToPush,
  tags: Reference[],
  before: TagState[],
  outcomes: WriteOutcome[],
  limit: number,
  insecure: (registry: string) => boolean,
): Promise<PublishFailedError> {
  const steps = tags.map((_, i) => rollbackStep(before[i] as TagState, outcomes[i] as WriteOutcome, index.digest));
  const done = await mapSettled(tags, limit, async (tag, i): Promise<FinalState> => {
    const step = steps[i] as ReturnType<typeof rollbackStep>;
    const s = before[i] as TagState;
    const client = registries.client(tag.domain);
    if (step.step === 'none') return step.state;
    if (step.step === 'restore' && s.present) {
      await client.putManifest(tag.path, tag.tag as string, s.bytes, s.mediaType);
      log.info(`${tag} put back at ${s.digest}`);
      return { kind: 'restored' };
    }
    await client.deleteManifest(tag.path, tag.tag as string);
    log.info(`${tag} deleted again`);
    return { kind: 'deleted' };
  });
  const reports = tags.map((tag, i): TagReport => {
    const s = before[i] as TagState;
    const outcome = outcomes[i] as WriteOutcome;
    const d = done[i] as PromiseSettledResult<FinalState>;
    let state: FinalState;
    if (d.status === 'fulfilled') state = d.value;
    else {
      const why = steps[i]?.step === 'delete' ? `the registry refused DELETE by tag (${short(d.reason)})` : `putting it back failed (${short(d.reason)})`;
      state = outcome.kind === 'failed' && 'unknown' in outcome.now ? { kind: 'unknown', why: `could not be read after its write failed (${outcome.now.unknown}), and ${why}` } : { kind: 'left', why };
    }
    const report: TagReport = { tag, before: s.present ? s.digest : undefined, state, ...(outcome.kind === 'failed' ? { error: short(outcome.error) } : {}) };
    report.fix = fixCommand(report, index.digest, insecure(tag.domain));
    return report;
  });
  const failed = reports.filter((r) => r.error !== undefined);
  const first = outcomes.find((o) => o.kind === 'failed') as Extract<WriteOutcome, { kind: 'failed' }>;
  const left = reports.filter((r) => r.state.kind === 'left' || r.state.kind === 'unknown').length;
  // No write landed (a single tag refused, or every tag refused alike): the refusal itself, with
  // its hint, is the clearest line; the per-tag lines still follow.
  const noneMoved = reports.every((r) => r.state.kind === 'untouched' || r.state.kind === 'unchanged');
  const headline = noneMoved
    ? `${describeError(first.error)}. No tag was moved. Each tag as the run left it:`
    : `the index ${index.digest} was not published to every tag: ${failed.length} of ${tags.length} tag writes failed (${failed.map((r) => r.tag).join(', ')}); ` +
      (left ? `${left} tag(s) could not be put back and point at the new digest` : 'every tag moved by this run was put back') +
      '. Each tag as the run left it:';
  return new PublishFailedError(headline, reports, index.digest, causeDetails(first.error), true);
}

/** An error in a few words: its registry code and message, for a per-tag line. */
export function short(e: unknown): string {
  if (e instanceof ActionError) {
    const status = e.status ? `HTTP ${e.status}` : undefined;
    const code = e.code && !/^HTTP_\d+$/.test(e.code) ? e.code : undefined;
    const detail = e.detail && e.detail !== e.code && e.detail !== status ? e.detail : undefined;
    const parts = [status, code, detail].filter(Boolean);
    return parts.length ? parts.join(' ') : e.message;
  }
  return describeError(e);
}
