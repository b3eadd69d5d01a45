import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The upstream conformance vectors, vendored in __tests__/fixtures/conformance (README.md there
 * names each upstream, its commit and its licence). Tests read nothing outside the repository.
 */
export const conformanceDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'conformance');

export function loadVectors<T = any>(file: string): T {
  return JSON.parse(readFileSync(join(conformanceDir, file), 'utf8')) as T;
}
