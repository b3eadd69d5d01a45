/**
 * The one way out to the runner, and the only module that imports @actions/core. Every line the
 * action (or the CLI) writes, every output and the job summary go through here, and everything is
 * made inert on the way (src/escape.ts) before @actions/core sees it: a logged message keeps the
 * action's own line breaks, but no value in it can break a line or start a workflow command.
 * The CLI and tests swap in another sink with setLogger.
 */
import * as core from '@actions/core';
import { bounded, inertJson, inertLine, inertText, oneLine } from './escape.ts';

/** An action input as the runner passes it (`core.getInput`: trimmed, '' when unset). */
export function getInput(name: string): string {
  return core.getInput(name);
}

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warning(message: string): void;
  /** The run's failure: one line, with a title (the annotation's), then one line per detail (a failed run's tags). */
  error(message: string, title?: string, details?: string[]): void;
  /** Registers a secret so that it is masked in every later log line. */
  setSecret(secret: string): void;
  group<T>(name: string, fn: () => Promise<T>): Promise<T>;
  isDebug(): boolean;
}

export const actionsLogger: Logger = {
  debug: (m) => core.debug(oneLine(m)),
  info: (m) => core.info(inertText(m)),
  warning: (m) => core.warning(oneLine(m)),
  // core.error escapes the line breaks: the annotation is still one workflow command.
  error: (m, title, details = []) => core.error([m, ...details].map(oneLine).join('\n'), title ? { title: oneLine(title) } : {}),
  setSecret: (s) => {
    if (s) core.setSecret(s);
  },
  group: (name, fn) => core.group(oneLine(name), fn),
  isDebug: () => core.isDebug(),
};

/** Plain console output (CLI). Secrets are replaced by *** in everything it prints. */
export function consoleLogger(options: { debug?: boolean; stream?: NodeJS.WritableStream } = {}): Logger {
  const secrets = new Set<string>();
  const out = options.stream ?? process.stderr;
  const mask = (m: string) => {
    for (const s of secrets) m = m.split(s).join('***');
    return m;
  };
  const line = (m: string) => out.write(`${inertLine(mask(m))}\n`);
  return {
    debug: (m) => {
      if (options.debug) line(`debug: ${m}`);
    },
    info: (m) => out.write(`${inertText(mask(m))}\n`),
    warning: (m) => line(`warning: ${m}`),
    error: (m, _title, details = []) => out.write(`${[inertText(mask(`error: ${m}`)), ...details.map((d) => `  ${inertLine(mask(d))}`)].join('\n')}\n`),
    setSecret: (s) => {
      if (s) secrets.add(s);
    },
    group: async (name, fn) => {
      line(`== ${name}`);
      return fn();
    },
    isDebug: () => Boolean(options.debug),
  };
}

let current: Logger = actionsLogger;

export function setLogger(logger: Logger): void {
  current = logger;
}

/** The active logger. */
export const log: Logger = {
  debug: (m) => current.debug(m),
  info: (m) => current.info(m),
  warning: (m) => current.warning(m),
  error: (m, title, details) => current.error(m, title, details),
  setSecret: (s) => current.setSecret(s),
  group: (name, fn) => current.group(name, fn),
  isDebug: () => current.isDebug(),
};

/**
 * A step output. `line` values (a digest, a media type, a platform list) carry no line break at
 * all; `lines` values keep their \n separators, each line made one line.
 */
export function setOutput(name: string, value: string, shape: 'line' | 'lines' = 'line'): void {
  core.setOutput(name, shape === 'line' ? oneLine(value) : value.split('\n').map(oneLine).join('\n'));
}

/** GitHub refuses a step summary over 1 MiB (and shows none). */
export const SUMMARY_LIMIT = 1024 * 1024;

/**
 * Cuts Markdown at a line boundary so that it fits `limit` bytes with a closing note. The summary
 * renderer truncates its own table first; this is the backstop for anything written.
 */
export function fitSummary(markdown: string, limit = SUMMARY_LIMIT): string {
  if (Buffer.byteLength(markdown, 'utf8') <= limit) return markdown;
  const note = '\n\n*The rest of this summary was cut: GitHub limits a job summary to 1 MiB.*\n';
  const budget = limit - Buffer.byteLength(note, 'utf8');
  const cut = Buffer.from(markdown, 'utf8').subarray(0, budget).toString('utf8');
  const lastLine = cut.lastIndexOf('\n');
  return `${lastLine > 0 ? cut.slice(0, lastLine) : ''}${note}`;
}

/**
 * Appends Markdown to the job summary; rejects when the runner provides none, or it cannot be
 * written. core.summary is one buffer per process: emptied first, so that nothing of a write that
 * failed goes out with the next.
 */
export async function writeSummary(markdown: string): Promise<void> {
  await core.summary.emptyBuffer().addRaw(fitSummary(markdown)).write();
}

/** A command's text (CLI) on stdout, or stderr: the lines made inert like every log line, ending in a line break. */
export function print(text: string, stream: 'stdout' | 'stderr' = 'stdout'): void {
  const inert = inertText(text);
  process[stream].write(inert.endsWith('\n') ? inert : `${inert}\n`);
}

/** A command's JSON result on stdout (CLI): inert, and parsing to exactly `value`. */
export function printJson(value: unknown): void {
  process.stdout.write(`${inertJson(value)}\n`);
}

/** The longest failure line shown; a registry's message is bounded well before this. */
export const ERROR_LINE_LIMIT = 4000;

/** Detail lines shown under a failure at most (the job summary lists them all). */
export const ERROR_DETAIL_LIMIT = 50;

/**
 * Reports the run's failure through the active logger: one bounded line, and under it one bounded
 * line per detail (a failed run's tags), at most ERROR_DETAIL_LIMIT of them.
 */
export function fail(line: string, title?: string, details: string[] = []): void {
  const shown = details.slice(0, ERROR_DETAIL_LIMIT).map((d) => bounded(d, ERROR_LINE_LIMIT));
  if (details.length > shown.length) shown.push(`… and ${details.length - shown.length} more (the job summary lists every one)`);
  log.error(bounded(line, ERROR_LINE_LIMIT), title, shown);
}
