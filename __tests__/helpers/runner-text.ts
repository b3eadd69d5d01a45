/**
 * Reading output as the Actions runner does: a line ends at \n, \r or \r\n; a line whose first
 * non-blank characters are `::` is a workflow command, and so is one holding the legacy `##[`.
 */
import assert from 'node:assert/strict';
import type { ActionRun } from './action.ts';

export const runnerLines = (text: string): string[] => text.split(/\r\n|\r|\n/);

/** The workflow commands the runner would take from text. */
export const commandsIn = (text: string): string[] => runnerLines(text).filter((l) => /^\s*::/u.test(l) || l.includes('##['));

/** What would make Markdown or HTML of summary text: markup characters, controls, autolink starts. */
export const MARKUP = /[\\`*_~[\]()<>&"'|!#@$\x00-\x1f\x7f-\x9f\u2028\u2029]|:\/\/|www\./i;

/** Runs fn with process.stdout.write captured (synchronous code only: nothing else writes meanwhile). */
export function captureStdout(fn: () => void): string {
  let out = '';
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out += chunk.toString();
    return true;
  }) as typeof process.stdout.write;
  try {
    fn();
  } finally {
    process.stdout.write = write;
  }
  return out;
}

/** A run's ::error annotations, as the runner reads its stdout. */
export const errorLines = (run: { stdout: string }): string[] => run.stdout.split('\n').filter((l) => l.startsWith('::error'));

/** Output without the runner's ::add-mask:: commands (which carry the secrets by design). */
export const visible = (out: string): string => out.split('\n').filter((l) => !l.startsWith('::add-mask::')).join('\n');

/** Text matched literally inside a regular expression (a host name, a reference). */
export const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A digest no run of the action computes: an output holding it was forged by registry text. */
export const FORGED_DIGEST = `sha256:${'6'.repeat(64)}`;
/** Registry text that would be workflow commands if printed as it is. */
export const INJECTION = `linux\n::error title=pwned::owned\n::set-output name=digest::${FORGED_DIGEST}`;

/** The failure annotation's text. */
export const failureText = (run: { stdout: string }): string => (commandsIn(run.stdout).find((l) => l.startsWith('::error')) ?? '').replace(/^::error[^:]*::/, '');

/**
 * The run issued no command but its own: at most the one failure annotation (one line: no
 * escaped line break in it), nothing on stderr; no raw \r anywhere; no forged output.
 */
export function assertInert(run: ActionRun, { failed }: { failed: boolean }): void {
  const commands = commandsIn(run.stdout);
  const own = commands.filter((l) => /^::(error title=[^:]*|group|endgroup|debug|warning)::/.test(l));
  assert.deepEqual(commands, own, `only the action's own commands:\n${commands.join('\n')}`);
  const errors = commands.filter((l) => l.startsWith('::error'));
  assert.equal(errors.length, failed ? 1 : 0, run.stdout);
  // The failure annotation: its own line, then the action's one line per tag of a failed run (a
  // line break of the action's, %0A); registry text adds no line of its own.
  for (const e of errors) {
    assert.doesNotMatch(e, /%0D/);
    for (const l of e.split('%0A').slice(1)) assert.match(l, /^[a-z0-9.:-]+(\/[a-z0-9._-]+)+:[\w][\w.-]*: (untouched|restored|deleted|left|unchanged|moved|unknown) /, 'the failure annotation is one line, and a line per tag');
  }
  assert.deepEqual(commandsIn(run.stderr), [], run.stderr);
  assert.ok(!run.stdout.includes('\r') && !run.stderr.includes('\r'), 'no raw \\r');
  assert.notEqual(run.outputs.digest, FORGED_DIGEST);
  for (const [name, value] of Object.entries(run.outputs)) {
    if (name !== 'images' && name !== 'manifest') assert.doesNotMatch(value, /[\r\n]/, `output ${name}`);
  }
  // The summary: the action's own headings only (one title, its fixed section names), every table cell text only.
  const headings = run.summary.split('\n').filter((l) => l.startsWith('#'));
  const titles = headings.filter((h) => h.startsWith('## '));
  assert.ok(titles.length <= 1 && titles.every((h) => /^## Multi-arch image (published|not published|\(dry run: nothing was pushed\))$/.test(h)), headings.join('\n'));
  assert.ok(headings.every((h) => h.startsWith('## ') || /^### (Copied across registries|Referrers and signatures)$/.test(h)), headings.join('\n'));
  for (const row of run.summary.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| Platform') && !l.startsWith('| ---'))) {
    const cells = row.split('|').slice(1, -1);
    assert.equal(cells.length, 4, row);
    for (const cell of cells) assert.doesNotMatch(cell.replace(/&#\d+;/g, '').replace(/^ ?<code>|<\/code> ?$/g, ''), MARKUP, row);
  }
}
