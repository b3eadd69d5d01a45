/**
 * The pure decisions of a failed phase 2 (src/publish/rollback.ts) and of `overwrite: false`
 * (src/publish/push.ts): what to put back, delete or report, and the fix printed for each state.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Digest } from '../../../src/oci/digest.ts';
import { parseNormalizedNamed } from '../../../src/oci/reference.ts';
import { ERROR_DETAIL_LIMIT, actionsLogger, consoleLogger, fail, setLogger } from '../../../src/log.ts';
import { overwriteConflicts } from '../../../src/publish/push.ts';
import { type FinalState, PublishFailedError, type TagRecord, type TagState, type WriteOutcome, reportLine, stateText } from '../../../src/publish/result.ts';
import { afterReread, fixCommand, rollbackStep } from '../../../src/publish/rollback.ts';
import { renderFailure } from '../../../src/summary.ts';
import { commandsIn, runnerLines } from '../../helpers/runner-text.ts';

const d = (c: string) => `sha256:${c.repeat(64)}` as Digest;
const NEW = d('1');
const OLD = d('0');
const OTHER = d('2');
const present = { present: true, digest: OLD };
const absent = { present: false };
/** A tag's state before the run: at `digest`, or absent. */
const state = (digest?: Digest): TagState => (digest ? { present: true, digest, mediaType: 'x', size: 1 } : { present: false });
const failed = (now: Extract<WriteOutcome, { kind: 'failed' }>['now']): WriteOutcome => ({ kind: 'failed', error: new Error('HTTP 500'), now });

describe('rollbackStep: what a failed phase 2 does with each tag', () => {
  const table: Array<[string, { present: boolean; digest?: Digest }, WriteOutcome, ReturnType<typeof rollbackStep>]> = [
    ['already at the digest before the run', { present: true, digest: NEW }, { kind: 'unchanged' }, { step: 'none', state: { kind: 'unchanged' } }],
    ['moved from an old digest: put back', present, { kind: 'moved' }, { step: 'restore' }],
    ['created (absent before): delete', absent, { kind: 'moved' }, { step: 'delete' }],
    ['failed, still at the old digest: untouched', present, failed({ present: true, digest: OLD }), { step: 'none', state: { kind: 'untouched' } }],
    ['failed, still absent: untouched', absent, failed({ present: false }), { step: 'none', state: { kind: 'untouched' } }],
    ['failed but landed (at the new digest): put back', present, failed({ present: true, digest: NEW }), { step: 'restore' }],
    ['failed but landed on an absent tag: delete', absent, failed({ present: true, digest: NEW }), { step: 'delete' }],
    ['failed, unreadable afterwards: put back (harmless if it did not land)', present, failed({ unknown: 'ECONNRESET' }), { step: 'restore' }],
    ['failed, unreadable, absent before: delete', absent, failed({ unknown: 'ECONNRESET' }), { step: 'delete' }],
    ['failed, now at a third digest: left alone', present, failed({ present: true, digest: OTHER }), { step: 'none', state: { kind: 'other', now: OTHER } }],
    ['failed, created by someone else meanwhile: left alone', absent, failed({ present: true, digest: OTHER }), { step: 'none', state: { kind: 'other', now: OTHER } }],
    ['failed, deleted by someone else meanwhile: left alone', present, failed({ present: false }), { step: 'none', state: { kind: 'other', now: undefined } }],
  ];
  for (const [name, before, outcome, expected] of table) {
    it(name, () => assert.deepEqual(rollbackStep(before, outcome, NEW), expected));
  }
});

describe('afterReread: rollback acts only on what is still this run\'s', () => {
  const table: Array<[string, { present: boolean; digest?: Digest }, Parameters<typeof afterReread>[1], ReturnType<typeof afterReread>]> = [
    ['still at the new digest: put back', present, { present: true, digest: NEW }, { step: 'restore' }],
    ['created by the run, still at the new digest: delete', absent, { present: true, digest: NEW }, { step: 'delete' }],
    ['at the old digest again (a lagging read, or put back already): put back, the same bytes', present, { present: true, digest: OLD }, { step: 'restore' }],
    ['absent again, absent before: delete (of nothing)', absent, { present: false }, { step: 'delete' }],
    ['unreadable: put back (the write goes to the same registry)', present, { unknown: 'HTTP 503' }, { step: 'restore' }],
    ['moved by another writer to a third digest: left alone', present, { present: true, digest: OTHER }, { step: 'none', state: { kind: 'other', now: OTHER } }],
    ['created by the run, then moved by another writer: left alone', absent, { present: true, digest: OTHER }, { step: 'none', state: { kind: 'other', now: OTHER } }],
    ['deleted by another writer: left alone', present, { present: false }, { step: 'none', state: { kind: 'other', now: undefined } }],
  ];
  for (const [name, before, now, expected] of table) {
    it(name, () => assert.deepEqual(afterReread(before, now, NEW), expected));
  }
});

describe('fixCommand and stateText: each final state as reported', () => {
  const tag = parseNormalizedNamed('ghcr.io/acme/app:1.2');
  const table: Array<[FinalState, Digest | undefined, RegExp, RegExp | undefined]> = [
    [{ kind: 'moved' }, OLD, new RegExp(`^moved to ${NEW} \\(was ${OLD}\\)$`), undefined],
    [{ kind: 'unchanged' }, NEW, new RegExp(`^unchanged \\(already at ${NEW}\\)$`), undefined],
    [{ kind: 'restored' }, OLD, new RegExp(`^restored to ${OLD}$`), new RegExp(`^to publish it: skopeo copy --all --preserve-digests docker://ghcr.io/acme/app@${NEW} docker://ghcr.io/acme/app:1.2$`)],
    [{ kind: 'deleted' }, undefined, /^deleted again/, /^to publish it: skopeo copy/],
    [{ kind: 'untouched' }, undefined, /^untouched \(absent\)$/, /^to publish it: /],
    [{ kind: 'untouched' }, OLD, new RegExp(`^untouched \\(at ${OLD}\\)$`), /^to publish it: /],
    [{ kind: 'left', why: 'putting it back failed (HTTP 503)' }, OLD, new RegExp(`^left at ${NEW} \\(was ${OLD}\\): putting it back failed`), new RegExp(`^to put it back: skopeo copy --all --preserve-digests docker://ghcr.io/acme/app@${OLD} docker://ghcr.io/acme/app:1.2$`)],
    [{ kind: 'left', why: 'the registry refused DELETE by tag' }, undefined, /\(was absent\): the registry refused DELETE by tag$/, /^the registry cannot delete it by tag/],
    [{ kind: 'other', now: OTHER }, OLD, new RegExp(`^left alone: it now holds ${OTHER}, neither ${OLD} nor ${NEW}: moved by another writer$`), /^another writer moved it meanwhile, and it is left as they wrote it; to publish this index there anyway: skopeo copy /],
    [{ kind: 'unknown', why: 'unreadable' }, OLD, /^unknown \(was sha256:0+\): unreadable$/, /^to put it back: /],
  ];
  for (const [final, before, text, fix] of table) {
    it(`${final.kind}${before ? '' : ' (absent before)'}`, () => {
      assert.match(stateText({ before: state(before), state: final }, NEW), text);
      const f = fixCommand({ tag, before: state(before), state: final }, NEW, false);
      if (!fix) assert.equal(f, undefined);
      else assert.match(`${f?.what}${f?.command ? `: ${f.command}` : ''}`, fix);
    });
  }
  it('adds skopeo TLS flags for a registry reached without verified TLS', () => {
    const f = fixCommand({ tag: parseNormalizedNamed('127.0.0.1:5000/app:1'), before: state(OLD), state: { kind: 'restored' } }, NEW, true);
    assert.equal(f?.command, `skopeo copy --all --preserve-digests --src-tls-verify=false --dest-tls-verify=false docker://127.0.0.1:5000/app@${NEW} docker://127.0.0.1:5000/app:1`);
  });
  it('one line per tag: state, its write failure, the fix', () => {
    const report: TagRecord = { tag, before: state(OLD), state: { kind: 'untouched' }, error: 'HTTP 500 UNAVAILABLE' };
    const line = reportLine({ ...report, fix: fixCommand(report, NEW, false) }, NEW);
    assert.equal(line, `ghcr.io/acme/app:1.2: untouched (at ${OLD}); its write failed: HTTP 500 UNAVAILABLE; to publish it: skopeo copy --all --preserve-digests docker://ghcr.io/acme/app@${NEW} docker://ghcr.io/acme/app:1.2`);
    assert.ok(!line.includes('\n'));
  });
});

describe('overwriteConflicts (overwrite: false)', () => {
  const tags = ['r.io/a:1', 'r.io/a:2', 'r.io/a:3'].map(parseNormalizedNamed);
  const table: Array<[string, TagState[], string[]]> = [
    ['all absent: none', [state(), state(), state()], []],
    ['at the new digest: fine', [state(NEW), state(), state(NEW)], []],
    ['at another digest: each named with its digest', [state(OLD), state(NEW), state(OTHER)], [`r.io/a:1 ${OLD}`, `r.io/a:3 ${OTHER}`]],
  ];
  for (const [name, before, expected] of table) {
    it(name, () => assert.deepEqual(overwriteConflicts(tags.map((tag, i) => ({ tag, before: before[i] as TagState, state: { kind: 'untouched' } })), NEW).map((c) => `${c.tag} ${c.current}`), expected));
  }
});

describe('a failed run as reported: the annotation and the summary', () => {
  const tags = ['ghcr.io/acme/app:1', 'quay.io/acme/app:1'].map(parseNormalizedNamed);
  const records: TagRecord[] = [
    { tag: tags[0] as never, before: state(OLD), state: { kind: 'restored' } },
    { tag: tags[1] as never, before: state(), state: { kind: 'untouched' }, error: 'HTTP 500 UNAVAILABLE <b>down</b> | ::error::x' },
  ];
  for (const r of records) r.fix = fixCommand(r, NEW, false);
  const failed = new PublishFailedError('1 of 2 tag writes failed', records, NEW, { kind: 'registry' }, { indexPlaced: true });

  it('the annotation is one workflow command: its line, then a line per tag', () => {
    let out = '';
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string | Uint8Array) => ((out += chunk.toString()), true)) as typeof process.stdout.write;
    try {
      setLogger(actionsLogger);
      fail(failed.line, 'Registry error', failed.lines);
    } finally {
      process.stdout.write = write;
    }
    assert.equal(runnerLines(out.trimEnd()).length, 1);
    assert.equal(commandsIn(out).length, 1);
    const message = out.slice(out.indexOf('::', 2) + 2).trimEnd().replace(/%0A/g, '\n').replace(/%25/g, '%');
    assert.deepEqual(message.split('\n'), ['1 of 2 tag writes failed', ...failed.lines]);
  });
  it(`shows at most ${ERROR_DETAIL_LIMIT} tag lines, and says how many more the summary lists`, () => {
    let err = '';
    setLogger(consoleLogger({ stream: { write: (s: string) => ((err += s), true) } as unknown as NodeJS.WritableStream }));
    try {
      fail('failed', undefined, Array.from({ length: ERROR_DETAIL_LIMIT + 3 }, (_, i) => `tag ${i}`));
    } finally {
      setLogger(actionsLogger);
    }
    const lines = err.trimEnd().split('\n');
    assert.equal(lines.length, 1 + ERROR_DETAIL_LIMIT + 1);
    assert.match(lines.at(-1) as string, /and 3 more \(the job summary lists every one\)/);
  });
  it('the summary lists every tag with its state and fix, every value as text', () => {
    const md = renderFailure(failed);
    assert.match(md, /^## Multi-arch image not published/);
    assert.match(md, /<code>ghcr\.io\/acme\/app:1<\/code> \| restored to sha256:0+ \|/);
    assert.match(md, /to publish it: <code>skopeo copy --all --preserve-digests docker&#58;\/\/quay\.io/);
    assert.ok(!md.includes('<b>') && !md.includes('| ::error'), 'registry text escaped');
    assert.match(md, /is in every target repository by digest/);
  });
});
