import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** ../shared/conformance beside the project (CONFORMANCE_DIR overrides). */
export const conformanceDir =
  process.env.CONFORMANCE_DIR ??
  resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'conformance');

export function loadVectors<T = any>(file: string): T {
  return JSON.parse(readFileSync(join(conformanceDir, file), 'utf8')) as T;
}
