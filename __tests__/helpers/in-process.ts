/**
 * Runs the action's run() in this process, the way runAction runs dist/ in a fresh one: INPUT_*
 * variables and GITHUB_OUTPUT / GITHUB_STEP_SUMMARY files, stdout and stderr captured as the
 * runner would read them, the same ActionRun back. For tests where the bundle is not the point
 * (what the action does, what it prints); the runner contract itself (a fresh `node dist/index.js`)
 * keeps its subprocess tests. Environment read only at process start (NODE_EXTRA_CA_CERTS, NODE_*)
 * needs runAction. Runs must not overlap: they share process.env and the standard streams; a file
 * that swaps the logger (setLogger) for its own in-process publishes uses runAction for the action.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/main.ts';
import { type ActionRun, runnerEnv, runWrote } from './action.ts';

let running = false;
// @actions/core resolves the summary file once per process and keeps it: every in-process run
// writes the same two files, emptied before each run (a test that needs another summary path, or
// none, runs dist/ with runAction).
let files: { dir: string; output: string; summary: string } | undefined;
function runFiles(): { dir: string; output: string; summary: string } {
  if (!files) {
    const dir = mkdtempSync(join(tmpdir(), 'action-run-'));
    files = { dir, output: join(dir, 'output'), summary: join(dir, 'summary') };
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return files;
}

/** Replaces `stream.write` until the returned function is called; strings are captured, the test runner's binary reports pass through. */
function capture(stream: NodeJS.WriteStream, into: (text: string) => void): () => void {
  const write = stream.write;
  stream.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    if (typeof chunk !== 'string') return write.call(stream, chunk, ...rest);
    into(chunk);
    const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    callback?.();
    return true;
  }) as typeof stream.write;
  return () => {
    stream.write = write;
  };
}

export async function runInProcess(inputs: Record<string, string>, env: Record<string, string | undefined> = {}): Promise<ActionRun> {
  if (running) throw new Error('runInProcess: runs in one process must not overlap');
  running = true;
  const { dir, output: outputFile, summary: summaryFile } = runFiles();
  writeFileSync(outputFile, '');
  writeFileSync(summaryFile, '');
  const saved = { ...process.env };
  const runEnv = runnerEnv({ dir, outputFile, summaryFile }, inputs, env);
  for (const k of Object.keys(process.env)) if (!(k in runEnv)) delete process.env[k];
  Object.assign(process.env, runEnv);
  let stdout = '';
  let stderr = '';
  const restoreOut = capture(process.stdout, (t) => (stdout += t));
  const restoreErr = capture(process.stderr, (t) => (stderr += t));
  const started = Date.now();
  const exitCodeBefore = process.exitCode;
  try {
    process.exitCode = undefined;
    await run();
  } finally {
    restoreOut();
    restoreErr();
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
    running = false;
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = exitCodeBefore;
  const result: ActionRun = {
    code,
    stdout,
    stderr,
    ...runWrote(outputFile, summaryFile),
    ms: Date.now() - started,
  };
  return result;
}
