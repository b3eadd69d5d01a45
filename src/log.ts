/**
 * Logging seam: the action logs through @actions/core; the CLI and tests can swap in another sink.
 */
import * as core from '@actions/core';

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warning(message: string): void;
  /** Registers a secret so that it is masked in every later log line. */
  setSecret(secret: string): void;
  group<T>(name: string, fn: () => Promise<T>): Promise<T>;
  isDebug(): boolean;
}

export const actionsLogger: Logger = {
  debug: (m) => core.debug(m),
  info: (m) => core.info(m),
  warning: (m) => core.warning(m),
  setSecret: (s) => {
    if (s) core.setSecret(s);
  },
  group: (name, fn) => core.group(name, fn),
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
  return {
    debug: (m) => {
      if (options.debug) out.write(`debug: ${mask(m)}\n`);
    },
    info: (m) => out.write(`${mask(m)}\n`),
    warning: (m) => out.write(`warning: ${mask(m)}\n`),
    setSecret: (s) => {
      if (s) secrets.add(s);
    },
    group: async (name, fn) => {
      out.write(`== ${name}\n`);
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
  setSecret: (s) => current.setSecret(s),
  group: (name, fn) => current.group(name, fn),
  isDebug: () => current.isDebug(),
};
