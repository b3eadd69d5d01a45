import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PublishResult } from '../../../src/publish/result.ts';
import { decodeMarkdownText } from '../../../src/escape.ts';
import { fitSummary } from '../../../src/log.ts';
import { renderSummary } from '../../../src/summary.ts';
import { MARKUP } from '../../helpers/runner-text.ts';

const d = (n: number) => `sha256:${String(n).padStart(64, '0')}` as const;
const base: PublishResult = {
  digest: d(9),
  manifest: '{}',
  mediaType: 'application/vnd.oci.image.index.v1+json',
  platforms: ['linux/amd64'],
  images: ['r.io/app@' + d(9)],
  entries: [
    { descriptor: { mediaType: 'm', digest: d(1), size: 2048, platform: { os: 'linux', architecture: 'amd64' } }, line: 'r.io/app:<amd64>', registry: 'r.io', repository: 'app', attestation: false },
    { descriptor: { mediaType: 'm', digest: d(2), size: 10, platform: { os: 'unknown', architecture: 'unknown' } }, line: 'r.io/app:<amd64>', registry: 'r.io', repository: 'app', attestation: true },
  ],
  pushed: ['r.io/app:1'],
  unchanged: ['r.io/app:latest'],
  platformDigests: {},
  dryRun: false,
  plan: [],
  referrers: [],
  stats: { requests: 1, retries: 0, blobsCopied: 0, bytesCopied: 0, blobsMounted: 0 },
};

/** The text a summary cell shows: character references decoded, <code> unwrapped. */
const shown = (cell: string) => decodeMarkdownText(cell.trim().replace(/^<code>(.*)<\/code>$/, '$1'));
const rowsOf = (md: string) => md.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| Platform') && !l.startsWith('| ---'));
const cellsOf = (row: string) => row.split('|').slice(1, -1);

describe('job summary', () => {
  it('lists every platform, child digest, size, source, the index digest and the tags', () => {
    const md = renderSummary(base);
    const rows = rowsOf(md).map((r) => cellsOf(r).map(shown));
    assert.deepEqual(rows, [
      ['linux/amd64', d(1), '2.0 KiB', 'r.io/app:<amd64>'],
      ['attestation', d(2), '10 B', 'r.io/app:<amd64>'],
    ]);
    assert.ok(md.includes(`**Digest:** <code>${d(9)}</code>`));
    assert.ok(md.includes('**Tags:** <code>r.io/app:1</code>, <code>r.io/app:latest</code> (unchanged)'));
    assert.doesNotMatch(md, /<amd64>/, 'HTML-escaped');
  });
  it('marks dry runs and lists the tags that would be written, not the images', () => {
    const md = renderSummary({ ...base, dryRun: true, pushed: [], unchanged: [] }, ['r.io/app:1', 'r.io/app:latest']);
    assert.match(md, /dry run: nothing was pushed/);
    const line = md.split('\n').find((l) => l.startsWith('**Tags (not pushed):**')) as string;
    assert.equal(decodeMarkdownText(line.replace(/<\/?code>/g, '')), '**Tags (not pushed):** r.io/app:1, r.io/app:latest');
    assert.ok(!line.includes(d(9).slice(7)), 'no image digest in place of the tags');
  });
  // Attack case: a platform or source holding Markdown/HTML breaks the table and renders as markup.
  it('renders registry text as text in every cell: |, newlines, images, headings, HTML, mentions', () => {
    const hostile = ['linux | evil | x', 'linux\n# Heading\n', '![](https://evil.example/x.png)', '<img src=x onerror=alert(1)>', '@octocat #1 :tada: **b** _i_ `c` [l](u) ~s~ \\', 'a\r::error::x'];
    for (const text of hostile) {
      const md = renderSummary({ ...base, entries: [{ ...(base.entries[0] as PublishResult['entries'][number]), line: text, descriptor: { ...(base.entries[0] as PublishResult['entries'][number]).descriptor, platform: { os: text, architecture: 'amd64' } } }] });
      const rows = rowsOf(md);
      assert.equal(rows.length, 1, `one row for ${JSON.stringify(text)}`);
      const cells = cellsOf(rows[0] as string);
      assert.equal(cells.length, 4, `four cells for ${JSON.stringify(text)}`);
      assert.equal(shown(cells[3] as string), JSON.parse(JSON.stringify(text)).replace(/\n/g, '\\n').replace(/\r/g, '\\r'));
      for (const cell of cells) assert.doesNotMatch(cell.replace(/&#\d+;/g, '').replace(/^ ?<code>|<\/code> ?$/g, ''), MARKUP, `no markup in ${JSON.stringify(cell)}`);
    }
  });
  // Attack case: the summary can exceed GitHub's 1 MiB summary limit.
  it('stays under 1 MiB with 20000 entries, saying how many were left out', () => {
    const many = Array.from({ length: 20000 }, (_, i) => ({ ...(base.entries[0] as PublishResult['entries'][number]), line: `r.io/app:${'x'.repeat(40)}-${i}` }));
    const md = renderSummary({ ...base, entries: many });
    assert.ok(Buffer.byteLength(md) <= 1024 * 1024, `${Buffer.byteLength(md)} bytes`);
    const shownRows = rowsOf(md).length;
    assert.ok(shownRows > 1000 && shownRows < 20000, `${shownRows} rows`);
    assert.ok(md.includes(`*${20000 - shownRows} of 20000 entries are not shown: GitHub limits a job summary to 1 MiB.*`));
    assert.match(md, /\*\*Digest:\*\*/, 'the digest and tags are kept');
  });
  it('cuts anything written at a line boundary under the limit, with a note (the backstop)', () => {
    const text = Array.from({ length: 100 }, (_, i) => `line ${i} ${'é'.repeat(20)}`).join('\n');
    const cut = fitSummary(text, 1000);
    assert.ok(Buffer.byteLength(cut) <= 1000);
    assert.match(cut, /GitHub limits a job summary to 1 MiB/);
    const kept = cut.split('\n\n*The rest')[0] as string;
    assert.ok(text.startsWith(`${kept}\n`), 'whole lines kept');
    assert.equal(fitSummary('short'), 'short');
  });
  it('lists what travelled per image and target, and says which attestation digests changed', () => {
    const md = renderSummary({
      ...base,
      referrers: [
        { image: d(1), target: 'b.io/app', kind: 'referrer', subject: d(1), digest: d(3), artifactType: 'application/spdx+json', outcome: 'copied' },
        { image: d(1), target: 'b.io/app', kind: 'cosign', subject: d(1), digest: d(4), tag: 'sha256-1.sig', outcome: 'present' },
        { image: d(1), target: 'b.io/app', kind: 'referrer', subject: d(3), digest: d(5), artifactType: 'text/<b>|x', outcome: 'copied' },
        { image: d(1), target: 'b.io/app', kind: 'attestation', subject: d(1), digest: d(6), artifactType: 'application/vnd.docker.attestation.manifest.v1+json', from: d(2), outcome: 'copied' },
        { image: d(1), target: 'b.io/app', kind: 'fallback-tag', subject: d(1), digest: d(7), tag: 'sha256-1', outcome: 'refused' },
      ],
    });
    const section = md.slice(md.indexOf('### Referrers and signatures'));
    assert.ok(section.length < md.length, 'a section of its own');
    const rows = section.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| Image') && !l.startsWith('| ---')).map((r) => cellsOf(r).map(shown));
    assert.deepEqual(rows, [
      [d(1), 'b.io/app', 'referrer', d(3), 'application/spdx+json', 'copied'],
      [d(1), 'b.io/app', 'cosign tag', d(4), 'sha256-1.sig', 'present'],
      [d(1), 'b.io/app', `referrer of <code>${d(3).slice(0, 19)}…</code>`, d(5), 'text/<b>|x', 'copied'],
      [d(1), 'b.io/app', 'attestation (now a referrer)', d(6), 'application/vnd.docker.attestation.manifest.v1+json', 'copied'],
      [d(1), 'b.io/app', 'the sha256-<hex> tag listing its referrers', d(7), 'sha256-1', 'refused'],
    ]);
    assert.ok(section.includes(`digests changed: <code>${d(2)}</code> → <code>${d(6)}</code>`));
    assert.doesNotMatch(renderSummary(base), /Referrers and signatures/, 'no section when nothing travelled');
  });
});
