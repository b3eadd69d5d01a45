import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PublishResult } from '../../src/publish/index.ts';
import { escapeHtml, renderSummary } from '../../src/summary.ts';

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
  stats: { requests: 1, retries: 0, blobsCopied: 0, bytesCopied: 0, blobsMounted: 0 },
};

describe('job summary', () => {
  it('lists every platform, entry digest, size, source, the index digest and the tags', () => {
    const md = renderSummary(base);
    assert.match(md, /\| linux\/amd64 \| `sha256:0+1` \| 2\.0 KiB \| r\.io\/app:&lt;amd64&gt; \|/);
    assert.match(md, /\| attestation \| `sha256:0+2` \| 10 B \|/);
    assert.match(md, /\*\*Digest:\*\* `sha256:0+9`/);
    assert.match(md, /`r\.io\/app:1`, `r\.io\/app:latest \(unchanged\)`/);
    assert.doesNotMatch(md, /<amd64>/, 'HTML-escaped');
  });
  it('marks dry runs', () => {
    assert.match(renderSummary({ ...base, dryRun: true, pushed: [], unchanged: [] }), /dry run: nothing was pushed/);
  });
  it('escapes HTML', () => assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;'));
});
