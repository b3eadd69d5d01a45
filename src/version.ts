/**
 * The action's version, from package.json. scripts/build.ts replaces this module with the literal
 * value in the bundle, so the action never reads package.json at run time.
 */
import { readFileSync } from 'node:fs';

export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
