/**
 * Reading output as the Actions runner does: a line ends at \n, \r or \r\n; a line whose first
 * non-blank characters are `::` is a workflow command, and so is one holding the legacy `##[`.
 */

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
