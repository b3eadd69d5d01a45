/**
 * Runs the bundled action the way the Actions runner does: a fresh `node dist/index.js` process
 * with INPUT_* variables, and GITHUB_OUTPUT / GITHUB_STEP_SUMMARY files.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = resolve(fileURLToPath(import.meta.url), '..', '..', '..');

export interface ActionRun {
  code: number;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
  ms: number;
}

/** A run of dist/ in a child process: also its memory. */
export interface ChildRun extends ActionRun {
  /** The child's peak resident memory (VmHWM from /proc/<pid>/status, sampled every 20 ms), in KiB. */
  peakRssKiB: number;
}

/** Parses the GITHUB_OUTPUT file format (`name<<delimiter` blocks and `name=value` lines). */
export function parseOutputFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const m = /^([^=<]+)<<(.+)$/.exec(line);
    if (m) {
      const [, name, delim] = m;
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== delim; i++) value.push(lines[i] as string);
      out[name as string] = value.join('\n');
    } else if (line.includes('=')) {
      out[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1);
    }
  }
  return out;
}

/**
 * The environment the runner gives a step, from this process's: no INPUT_* or GITHUB_* of its own,
 * the run's output and summary files, RUNNER_TEMP, and none of this machine's credentials (a test
 * names its own); then `env` (undefined removes) and `inputs` as INPUT_* variables.
 */
export function runnerEnv(
  files: { dir: string; outputFile: string; summaryFile: string },
  inputs: Record<string, string>,
  env: Record<string, string | undefined>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('INPUT_') && !k.startsWith('GITHUB_')) out[k] = v;
  }
  Object.assign(out, {
    GITHUB_OUTPUT: files.outputFile,
    GITHUB_STEP_SUMMARY: files.summaryFile,
    RUNNER_TEMP: files.dir,
    HOME: process.env.HOME ?? files.dir,
    DOCKER_CONFIG: join(files.dir, 'no-docker-config'),
  });
  // The other places credentials are looked for: none of this machine's.
  for (const k of ['DOCKER_AUTH_CONFIG', 'BUILDX_CONFIG', 'REGISTRY_AUTH_FILE', 'XDG_RUNTIME_DIR']) delete out[k];
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  for (const [k, v] of Object.entries(inputs)) out[`INPUT_${k.replace(/ /g, '_').toUpperCase()}`] = v;
  return out;
}

/** What a run wrote for the runner: its outputs (parsed) and its job summary. */
export function runWrote(outputFile: string, summaryFile: string): Pick<ActionRun, 'outputs' | 'summary'> {
  return { outputs: parseOutputFile(readFileSync(outputFile, 'utf8')), summary: readFileSync(summaryFile, 'utf8') };
}

export async function runAction(inputs: Record<string, string>, env: Record<string, string | undefined> = {}, entry = 'dist/index.js'): Promise<ChildRun> {
  const dir = mkdtempSync(join(tmpdir(), 'action-run-'));
  const outputFile = join(dir, 'output');
  const summaryFile = join(dir, 'summary');
  writeFileSync(outputFile, '');
  writeFileSync(summaryFile, '');
  const childEnv = runnerEnv({ dir, outputFile, summaryFile }, inputs, env);
  const started = Date.now();
  const child = spawn(process.execPath, [join(projectRoot, entry)], { env: childEnv, cwd: projectRoot });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  // VmHWM only grows, and memory a run holds stays held until it ends: sampling finds the peak.
  let peakRssKiB = 0;
  const sample = () => {
    try {
      const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peakRssKiB = Math.max(peakRssKiB, Number(m[1]));
    } catch {
      // exited, or not Linux
    }
  };
  const sampler = setInterval(sample, 20);
  child.on('exit', sample);
  const code: number = await new Promise((r) => child.on('close', (c) => r(c ?? -1)));
  clearInterval(sampler);
  const result = {
    peakRssKiB,
    code,
    stdout,
    stderr,
    ...runWrote(outputFile, summaryFile),
    ms: Date.now() - started,
  };
  rmSync(dir, { recursive: true, force: true });
  return result;
}
