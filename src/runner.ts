/**
 * The GitHub Actions runner protocol, as @actions/core 3 speaks it: inputs from `INPUT_*`
 * variables, workflow commands on stdout, the GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files. Written
 * out here rather than imported: @actions/core's entry also loads @actions/http-client (and with
 * it all of undici's index: fetch, WebSocket, mocks) and @actions/exec for features this action
 * never uses, which cost the cold start more than everything else before the first request
 * (BENCHMARKS.md). Only src/log.ts and src/main.ts use it.
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync, existsSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { EOL } from 'node:os';

/** `core.getInput`: `INPUT_<NAME>` (spaces → `_`, uppercased), trimmed; empty when unset. */
export function getInput(name: string, env: NodeJS.ProcessEnv = process.env): string {
  return (env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] ?? '').trim();
}

const escapeData = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
const escapeProperty = (s: string) => escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');

/** One workflow command line: `::name key=value,…::message`, escaped as @actions/core does. */
export function commandLine(name: string, properties: Record<string, string | undefined>, message: string): string {
  const props = Object.entries(properties)
    .filter(([, v]) => v)
    .map(([k, v]) => `${k}=${escapeProperty(v as string)}`)
    .join(',');
  return `::${name}${props ? ` ${props}` : ''}::${escapeData(message)}`;
}

function issue(name: string, message: string, properties: Record<string, string | undefined> = {}): void {
  process.stdout.write(commandLine(name, properties, message) + EOL);
}

export const isDebug = (): boolean => process.env.RUNNER_DEBUG === '1';
export const debug = (message: string): void => issue('debug', message);
export const info = (message: string): void => void process.stdout.write(message + EOL);
export const warning = (message: string): void => issue('warning', message);
export const error = (message: string, properties: { title?: string } = {}): void => issue('error', message, properties);
export const setSecret = (secret: string): void => issue('add-mask', secret);

export async function group<T>(name: string, fn: () => Promise<T>): Promise<T> {
  issue('group', name);
  try {
    return await fn();
  } finally {
    issue('endgroup', '');
  }
}

/** `name<<delimiter` block for GITHUB_OUTPUT (a delimiter neither name nor value contains). */
export function outputBlock(name: string, value: string): string {
  const delimiter = `ghadelimiter_${randomUUID()}`;
  if (name.includes(delimiter) || value.includes(delimiter)) throw new Error(`output ${name} contains the delimiter ${delimiter}`);
  return `${name}<<${delimiter}${EOL}${value}${EOL}${delimiter}`;
}

/** `core.setOutput`: appended to the GITHUB_OUTPUT file, or the legacy `set-output` command without one. */
export function setOutput(name: string, value: string): void {
  const file = process.env.GITHUB_OUTPUT;
  if (file) {
    if (!existsSync(file)) throw new Error(`Missing file at path: ${file}`);
    appendFileSync(file, outputBlock(name, value) + EOL, { encoding: 'utf8' });
    return;
  }
  process.stdout.write(EOL);
  issue('set-output', value, { name });
}

/** `core.summary.addRaw(markdown).write()`: appended to the GITHUB_STEP_SUMMARY file. */
export async function appendSummary(markdown: string): Promise<void> {
  const file = process.env.GITHUB_STEP_SUMMARY;
  if (!file) throw new Error('Unable to find environment variable for $GITHUB_STEP_SUMMARY. Check if your runtime environment supports job summaries.');
  await appendFile(file, markdown, { encoding: 'utf8' });
}
