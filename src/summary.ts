/**
 * The job summary: per published index, a table of platform, child digest, size and source
 * (attestations marked), then the digest, media type and every tag (in a dry run, the tags that
 * would be written), then the bytes copied into each target repository, then what travelled with the images (referrers, cosign tags, attestations). Every value is written as text (src/escape.ts markdownText): registry data
 * renders as the characters it holds, never as Markdown or HTML. The summary stays under GitHub's
 * 1 MiB limit: rows that do not fit are left out with a note.
 */
import { markdownText } from './escape.ts';
import { SUMMARY_LIMIT } from './log.ts';
import { formatPlatform } from './oci/platform.ts';
import { type PublishFailedError, type PublishResult, type TargetCopy, stateText } from './publish/result.ts';
import type { Travelled } from './publish/referrers-plan.ts';

function humanSize(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

const code = (s: string) => `<code>${markdownText(s)}</code>`;
const bytes = (s: string) => Buffer.byteLength(s, 'utf8') + 1;

/** Room kept for the note on what was left out. */
const NOTE_RESERVE = 256;

/**
 * Renders the summary as Markdown. `tags` are the run's tags as given (for the dry run's list);
 * `limit` is the byte budget (GitHub's 1 MiB).
 */
export function renderSummary(r: PublishResult, tags: string[] = [], limit = SUMMARY_LIMIT): string {
  const head = [`## Multi-arch image ${r.dryRun ? '(dry run: nothing was pushed)' : 'published'}`, '', '| Platform | Digest | Size | Source |', '| --- | --- | --- | --- |'];
  const written = r.dryRun
    ? tags.map(code)
    : [...r.pushed.map(code), ...r.unchanged.map((t) => `${code(t)} (unchanged)`)];
  const tail = [
    '',
    `**Digest:** ${code(r.digest)}  `,
    `**Media type:** ${code(r.mediaType)}  `,
    `**${r.dryRun ? 'Tags (not pushed)' : 'Tags'}:** ${written.join(', ')}`,
    '',
    ...copiedLines(r.stats.copies ?? []),
    ...travelledLines(r.referrers),
  ];
  let budget = limit - NOTE_RESERVE - [...head, ...tail].reduce((n, l) => n + bytes(l), 0);
  const rows: string[] = [];
  for (const e of r.entries) {
    const platform = e.attestation ? 'attestation' : formatPlatform(e.descriptor.platform ?? { os: 'unknown', architecture: 'unknown' });
    const row = `| ${markdownText(platform)} | ${code(e.descriptor.digest)} | ${markdownText(humanSize(e.descriptor.size))} | ${markdownText(e.line)} |`;
    budget -= bytes(row);
    if (budget < 0) break;
    rows.push(row);
  }
  const left = r.entries.length - rows.length;
  if (left > 0) rows.push('', `*${left} of ${r.entries.length} entries are not shown: GitHub limits a job summary to 1 MiB.*`);
  // Tags alone could outgrow the limit (thousands of long ones): log.ts fitSummary is the backstop.
  return [...head, ...rows, ...tail].join('\n');
}

/**
 * A failed run's summary: what failed, then every tag as the run left it and what fixes it by
 * hand; the index's digest when it is in every target repository. (log.ts fitSummary bounds it.)
 */
export function renderFailure(e: PublishFailedError): string {
  const lines = ['## Multi-arch image not published', '', markdownText(e.line), ''];
  if (e.indexPlaced) lines.push(`The index ${code(e.digest)} is in every target repository by digest.`, '');
  lines.push('| Tag | State | Its write | Fix by hand |', '| --- | --- | --- | --- |');
  for (const r of e.records) {
    const fix = r.fix ? `${markdownText(r.fix.what)}${r.fix.command ? `: ${code(r.fix.command)}` : ''}` : '';
    lines.push(`| ${code(String(r.tag))} | ${markdownText(stateText(r, e.digest))} | ${markdownText(r.error ?? '')} | ${fix} |`);
  }
  lines.push('');
  return lines.join('\n');
}

/** Per target repository: the blobs copied across registries, their bytes, and the time the copies took. */
function copiedLines(copies: TargetCopy[]): string[] {
  if (!copies.length) return [];
  const rows = copies.map((c) => `| ${code(c.repository)} | ${c.blobs} | ${markdownText(humanSize(c.bytes))} | ${(c.ms / 1000).toFixed(1)} s |`);
  return ['### Copied across registries', '', '| Repository | Blobs | Size | Time |', '| --- | --- | --- | --- |', ...rows, ''];
}

const KIND: Record<Travelled['kind'], string> = {
  referrer: 'referrer',
  cosign: 'cosign tag',
  attestation: 'attestation (now a referrer)',
  image: 'the image, already there: its referrers left as the target had them',
  'fallback-tag': 'the sha256-<hex> tag listing its referrers',
};

/** Per image and target: the referrers, cosign tags and attestations that travelled with it. */
function travelledLines(travelled: Travelled[]): string[] {
  if (!travelled.length) return [];
  const lines = ['### Referrers and signatures', '', '| Image | Target | What | Digest | Type or tag | Outcome |', '| --- | --- | --- | --- | --- | --- |'];
  for (const t of travelled) {
    const what = `${markdownText(KIND[t.kind])}${t.subject === t.image ? '' : ` of ${code(`${t.subject.slice(0, 19)}…`)}`}`;
    const type = t.tag ?? t.artifactType ?? '';
    lines.push(`| ${code(t.image)} | ${markdownText(t.target)} | ${what} | ${code(t.digest)} | ${markdownText(type)} | ${t.outcome} |`);
  }
  const changed = [...new Map(travelled.filter((t) => t.from).map((t) => [t.digest, t])).values()];
  if (changed.length) {
    lines.push('', `Attestations attached as referrers got a subject, so their digests changed: ${changed.map((t) => `${code(t.from as string)} → ${code(t.digest)}`).join(', ')}`);
  }
  lines.push('');
  return lines;
}
