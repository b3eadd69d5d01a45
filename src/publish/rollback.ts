/**
 * Rollback: when a tag write fails, the tags already moved go back to what they held before the
 * run (the previous manifest read by digest and PUT back with its media type; a tag that did not
 * exist is deleted where the registry allows DELETE by tag), each only if it is still this run's
 * when read again just before; every tag's final state is reported with the command that fixes
 * it by hand. The decisions are pure (rollbackStep, afterReread, fixCommand); rollBack performs
 * them on the run's tag records (result.ts), and rolledBack is the error that lists them.
 */
import { mapAll } from '../concurrency.ts';
import { describeError } from '../errors.ts';
import { log } from '../log.ts';
import type { Digest } from '../oci/digest.ts';
import type { Reference } from '../oci/reference.ts';
import type { Registries } from '../registry/registries.ts';
import { type FinalState, type Fix, type Observed, PublishFailedError, type PublishResult, type TagRecord, type WriteOutcome, causeDetails, digestBefore, stateText } from './result.ts';
import { observeTag } from './tag-read.ts';

/** The step rollback takes for one tag: nothing (with the tag's final state), put it back, or delete it. */
export type RollbackStep = { step: 'restore' | 'delete' } | { step: 'none'; state: FinalState };

/**
 * What to do with one tag after a failed phase 2: nothing (with its final state), put back the
 * manifest it held, or delete the tag. A write that failed may still have landed: when the tag now
 * holds the new digest it is treated as moved; when it cannot be read, as possibly moved (putting
 * back the old bytes is harmless when the write did not land).
 */
export function rollbackStep(before: { present: boolean; digest?: Digest }, outcome: WriteOutcome, digest: Digest): RollbackStep {
  if (outcome.kind === 'unchanged') return { step: 'none', state: { kind: 'unchanged' } };
  if (outcome.kind === 'moved') return undo(before);
  const now = outcome.now;
  if ('unknown' in now) return undo(before);
  if (now.present && now.digest === digest) return undo(before);
  return heldBefore(before, now) ? { step: 'none', state: { kind: 'untouched' } } : anotherWriter(now);
}

/**
 * The re-read just before a put-back or delete: act only on what is still this run's. The tag
 * holds this run's digest: act. It holds what it held before the run (absent, when it was): act
 * too, as that is harmless (the same bytes again, the delete of nothing) and a registry that lags
 * behind its own writes may show the old state while this run's write is in place. Unreadable:
 * act (the write goes to the same registry a moment later; leaving this run's write would move a
 * tag for certain). Anything else another writer put there after this run's write: left alone.
 */
export function afterReread(before: { present: boolean; digest?: Digest }, now: Observed, digest: Digest): RollbackStep {
  if ('unknown' in now || (now.present && now.digest === digest) || heldBefore(before, now)) return undo(before);
  return anotherWriter(now);
}

const undo = (before: { present: boolean }): RollbackStep => ({ step: before.present ? 'restore' : 'delete' });
/** The tag is as it was before the run. */
const heldBefore = (before: { present: boolean; digest?: Digest }, now: { present: false } | { present: true; digest: Digest }) =>
  now.present ? before.present && before.digest === now.digest : !before.present;
const anotherWriter = (now: { present: false } | { present: true; digest: Digest }): RollbackStep => ({ step: 'none', state: { kind: 'other', now: now.present ? now.digest : undefined } });

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
export function fixCommand(r: Pick<TagRecord, 'tag' | 'before' | 'state'>, digest: Digest, insecure: boolean): Fix | undefined {
  const before = digestBefore(r.before);
  switch (r.state.kind) {
    case 'moved':
    case 'unchanged':
      return undefined;
    case 'left':
    case 'unknown':
      return before
        ? { what: 'to put it back', command: copyCommand(r.tag, before, insecure) }
        : { what: 'the registry cannot delete it by tag; delete it in its own interface, or publish the other tags to finish' };
    case 'other':
      return { what: 'another writer moved it meanwhile, and it is left as they wrote it; to publish this index there anyway', command: copyCommand(r.tag, digest, insecure) };
    default:
      return { what: 'to publish it', command: copyCommand(r.tag, digest, insecure) };
  }
}

/**
 * Puts back every tag the failed phase 2 moved (or may have moved), with the transport's retry
 * policy: each record gets its final state, and the fix by hand where one is needed. Each tag is
 * read again (a HEAD) just before it is put back or deleted, the put-back's bytes read first, so
 * that only that HEAD and the write remain between the check and the act (no registry offers a
 * conditional PUT): a tag another writer moved meanwhile is left alone.
 */
export async function rollBack(registries: Registries, records: readonly TagRecord[], digest: Digest, limit: number, insecure: (registry: string) => boolean): Promise<void> {
  await mapAll(records, limit, async (r) => {
    const step = rollbackStep(r.before, r.write ?? { kind: 'unchanged' }, digest);
    try {
      r.state = step.step === 'none' ? step.state : await undoWrite(registries, r, step.step, digest);
    } catch (e) {
      const why = step.step === 'delete' ? `the registry refused DELETE by tag (${describeError(e, 'brief')})` : `putting it back failed (${describeError(e, 'brief')})`;
      r.state = r.write?.kind === 'failed' && 'unknown' in r.write.now ? { kind: 'unknown', why: `could not be read after its write failed (${r.write.now.unknown}), and ${why}` } : { kind: 'left', why };
    }
    if (r.write?.kind === 'failed') r.error = describeError(r.write.error, 'brief');
    r.fix = fixCommand(r, digest, insecure(r.tag.domain));
  });
}

/**
 * Puts one tag back (its previous manifest read by digest first) or deletes it, unless the
 * re-read just before shows that another writer moved it: its final state.
 */
async function undoWrite(registries: Registries, { tag, before }: TagRecord, step: 'restore' | 'delete', digest: Digest): Promise<FinalState> {
  const client = registries.client(tag.domain);
  const old = step === 'restore' && before.present ? await client.getManifest(tag.path, before.digest, `read ${tag}'s previous manifest ${before.digest} to put it back`) : undefined;
  const now = afterReread(before, await observeTag(registries, tag), digest);
  if (now.step === 'none') {
    log.info(`${tag}: left alone, another writer moved it after this run did (${stateText({ before, state: now.state }, digest)})`);
    return now.state;
  }
  if (old) {
    // The media type the GET declared, else the HEAD's from before the run.
    await client.putManifest(tag.path, tag.tag as string, old.bytes, old.mediaType || (before.present ? before.mediaType : ''));
    log.info(`${tag} put back at ${old.digest}`);
    return { kind: 'restored' };
  }
  await client.deleteManifest(tag.path, tag.tag as string);
  log.info(`${tag} deleted again`);
  return { kind: 'deleted' };
}

/** The error of a run whose phase 2 failed, once rollBack gave every record its final state. */
export function rolledBack(records: readonly TagRecord[], digest: Digest, result: PublishResult): PublishFailedError {
  const failed = records.filter((r) => r.write?.kind === 'failed');
  const first = failed[0]?.write as Extract<WriteOutcome, { kind: 'failed' }>;
  const count = (...kinds: Array<FinalState['kind']>) => records.filter((r) => kinds.includes(r.state.kind)).length;
  const left = count('left', 'unknown');
  const others = count('other');
  const undone = count('restored', 'deleted');
  // No write landed (a single tag refused, or every tag refused alike): the refusal itself, with
  // its hint, is the clearest line; the per-tag lines still follow.
  const noneMoved = records.every((r) => r.state.kind === 'untouched' || r.state.kind === 'unchanged');
  const outcome = [
    left ? `${left} tag(s) could not be put back and point at the new digest` : undefined,
    others ? `${others} tag(s) moved by another writer meanwhile were left as that writer left them` : undefined,
    !left && undone ? (others ? 'the others this run had moved were put back' : 'every tag moved by this run was put back') : undefined,
  ].filter(Boolean);
  const headline = noneMoved
    ? `${describeError(first.error)}. No tag was moved. Each tag as the run left it:`
    : `the index ${digest} was not published to every tag: ${failed.length} of ${records.length} tag writes failed (${failed.map((r) => r.tag).join(', ')}); ` +
      `${outcome.join('; ')}. Each tag as the run left it:`;
  return new PublishFailedError(headline, records, digest, causeDetails(first.error), { result, indexPlaced: true });
}
