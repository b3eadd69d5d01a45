/**
 * Text on its way to the runner, made inert. The runner reads the action's stdout and stderr line
 * by line (a line ends at \n, \r or \r\n) and takes as a workflow command any line whose first
 * non-blank characters are `::`, and the legacy form `##[command]` anywhere in a line. Registry
 * text must never produce either, nor break a line, nor render as Markdown or HTML in the summary.
 */

/**
 * Characters that end or disguise a line: C0 and C1 controls, DEL, Unicode line and paragraph
 * separators, bidirectional overrides and the BOM.
 */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;
/** A run of them, flattened to one space. */
const UNPRINTABLE_RUN = new RegExp(`${UNPRINTABLE.source}+`, 'g');
/** The same without the C0 controls, which JSON.stringify escapes itself. */
const UNPRINTABLE_IN_JSON = /[\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** The text on one line: every character that could end or disguise the line shown as an escape. */
export function oneLine(text: string): string {
  return text.replace(UNPRINTABLE, (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Cuts text to at most `max` UTF-16 units, never inside a surrogate pair, marking the cut. */
export function bounded(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max;
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}

/**
 * Text from outside (a registry's error message) flattened into a message: every run of characters
 * that could end or disguise a line becomes one space, the ends trimmed, and the whole cut to
 * `limit` characters, the cut mark included.
 */
export function flatLine(text: string, limit: number): string {
  const clean = text.replace(UNPRINTABLE_RUN, ' ').trim();
  return clean.length > limit ? bounded(clean, limit - 1) : clean;
}

/** Longest registry-supplied value shown in a message. */
export const QUOTE_LIMIT = 200;

/**
 * A value read from a registry (or any other outside source) as shown in a message: JSON-quoted,
 * so its bounds are clear and nothing in it is a control character, and cut to QUOTE_LIMIT.
 * Non-strings are shown as their JSON.
 */
export function quote(value: unknown, max = QUOTE_LIMIT): string {
  let text: string;
  if (typeof value === 'string') text = value;
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
    return oneLine(bounded(text, max));
  }
  return oneLine(JSON.stringify(bounded(text, max)));
}

/** A line beginning with `::` after blanks (as the runner trims them) is a command. */
const COMMAND_START = /^\s*::/u;
/** The legacy command prefix, recognised anywhere in a line. */
const LEGACY_COMMAND = /##\[/g;

/** One line of output that the runner takes as text only: no line break, no command. */
export function inertLine(line: string): string {
  const flat = oneLine(line).replace(LEGACY_COMMAND, '# #[');
  return COMMAND_START.test(flat) ? `> ${flat}` : flat;
}

/**
 * Multi-line text as printed: the action's own line breaks (\n) kept, every line made inert. A \r
 * anywhere is shown as `\r`, never taken as a line break.
 */
export function inertText(text: string): string {
  return text.split('\n').map(inertLine).join('\n');
}

/**
 * A value as inert JSON text: JSON.stringify escapes the C0 controls; the other characters that
 * end or disguise a line, and the legacy `##[`, can only occur inside strings there, so they are
 * written as \u escapes: the text parses to the same value and no line of it is a command (a
 * JSON line starts with a blank, a quote, a bracket or a literal, never with `::`).
 */
export function inertJson(value: unknown): string {
  return jsonWithEscapes(JSON.stringify(value, null, 2) ?? 'null').replace(LEGACY_COMMAND, '#\\u0023[');
}

/**
 * JSON text with the characters JSON.stringify leaves raw but a reader may take as a line break or
 * a direction change (C1 controls, U+2028/2029, bidi marks) written as \u escapes: the same value,
 * and bytes that print as they parse. The pushed index is serialised this way, so that the
 * `manifest` output can be those very bytes.
 */
export function jsonWithEscapes(json: string): string {
  return json.replace(UNPRINTABLE_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Characters with a meaning in GitHub Markdown or HTML inline text (a table cell is inline). */
const MARKDOWN_SPECIAL = /[\\`*_~[\]()<>&"'|!#@$]/g;
/** Sequences GitHub's Markdown parser turns into links: `scheme://` and `www.`. */
const AUTOLINK_COLON = /:(?=\/\/)/g;
const AUTOLINK_WWW = /(www)\./gi;

const reference = (c: string) => `&#${c.charCodeAt(0)};`;

/**
 * Text for a Markdown table cell (or any inline Markdown/HTML): one line, and every character
 * that could mean something written as a numeric character reference, so that GitHub renders the
 * same text: no table break (`|`), emphasis, code, link, image, HTML tag or entity, math or
 * autolink; `@` and `#` too. Letters, digits, `/`, `.`, `:`, `-` and the like stay readable in
 * the raw summary. (GitHub's later passes over the rendered text, such as :emoji:, are not
 * Markdown and cannot be escaped: they change no text into markup.)
 */
export function markdownText(text: string): string {
  return oneLine(text).replace(MARKDOWN_SPECIAL, reference).replace(AUTOLINK_COLON, reference).replace(AUTOLINK_WWW, '$1&#46;');
}

/** Reverses markdownText's character references (for tests and size accounting). */
export function decodeMarkdownText(text: string): string {
  return text.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)));
}
