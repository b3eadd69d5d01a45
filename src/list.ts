/** List inputs, as the action's multi-value inputs are written. Pure; cheap enough for start-up. */

/** Splits a list input on newlines and commas, trimming, dropping blanks and # comments. */
export function splitList(value: string): string[] {
  return value
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .flatMap((l) => l.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
}
