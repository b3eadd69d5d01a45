/**
 * Property tests (fast-check) of the parsers: the run count, and the one rule every parser keeps
 * on any input: only the project's own error type escapes it.
 */
import { ActionError } from '../../src/errors.ts';

export const PROPERTY_RUNS = { numRuns: 2000 };

/** Only the project's own error type may escape a parser. */
export function onlyActionErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof ActionError)) throw e;
  }
}
