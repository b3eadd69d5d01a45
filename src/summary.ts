/**
 * The job summary: per published index, a table of platform, child digest, size and source
 * (attestations marked), then the digest, media type and every tag. All text is HTML-escaped.
 */
import type { PublishResult } from './publish.ts';
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
  for (const c of r.children) {
    const platform = c.attestation ? 'attestation' : formatPlatform(c.descriptor.platform ?? { os: 'unknown', architecture: 'unknown' });
    lines.push(
      `| ${escapeHtml(platform)} | \`${escapeHtml(c.descriptor.digest)}\` | ${humanSize(c.descriptor.size)} | ${escapeHtml(c.source)} |`,
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
