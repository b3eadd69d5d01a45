/**
 * The job summary: per published index, a table of platform, entry digest, size and source
 * (attestations marked), then the digest, media type and every tag. All text is HTML-escaped.
 */
import type { PublishResult } from './publish/index.ts';
import { formatPlatform } from './oci/platform.ts';

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function humanSize(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** Renders the summary as Markdown with HTML-escaped cells (GitHub renders both). */
export function renderSummary(r: PublishResult): string {
  const lines: string[] = [];
  lines.push(`## Multi-arch image ${r.dryRun ? '(dry run: nothing was pushed)' : 'published'}`);
  lines.push('');
  lines.push('| Platform | Digest | Size | Source |');
  lines.push('| --- | --- | --- | --- |');
  for (const e of r.entries) {
    const platform = e.attestation ? 'attestation' : formatPlatform(e.descriptor.platform ?? { os: 'unknown', architecture: 'unknown' });
    lines.push(
      `| ${escapeHtml(platform)} | \`${escapeHtml(e.descriptor.digest)}\` | ${humanSize(e.descriptor.size)} | ${escapeHtml(e.line)} |`,
    );
  }
  lines.push('');
  lines.push(`**Digest:** \`${escapeHtml(r.digest)}\`  `);
  lines.push(`**Media type:** \`${escapeHtml(r.mediaType)}\`  `);
  const tags = [...r.pushed.map((t) => `${t}`), ...r.unchanged.map((t) => `${t} (unchanged)`)];
  if (r.dryRun) lines.push(`**Tags (not pushed):** ${r.images.map(escapeHtml).join(', ')}`);
  else lines.push(`**Tags:** ${tags.map((t) => `\`${escapeHtml(t)}\``).join(', ')}`);
  lines.push('');
  return lines.join('\n');
}
