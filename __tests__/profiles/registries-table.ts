/**
 * README.md's Registries table, generated from the profiles (registries.ts): each cell what the
 * registry does, then what the action does there, with the source. `npm run docs` writes it;
 * readme-table.test.ts fails when README.md and the profiles disagree.
 */
import { type Profile, PROFILES, type Source } from './registries.ts';

const link = (source: Source) => `[↗](${source})`;
const NONE = '—';

function referrers(p: Profile): string {
  const r = p.referrers;
  const parts = [
    r.api === 'listed'
      ? `listed → no fallback tag ${link(r.source)}`
      : r.api === 'lying'
        ? `OCI-Subject answered, nothing listed → \`sha256-<hex>\` tag written ${link(r.source)}`
        : p.index?.ociIndex
          ? `none, and the \`sha256-<hex>\` tag (an OCI index) refused → named in a warning, \`refused\` ${link(p.index.ociIndex.source)}`
          : `none → \`sha256-<hex>\` tag written ${link(r.source)}`,
  ];
  if (r.refusesSubject) parts.push(`a manifest with \`subject\` refused (${r.refusesSubject.status}) → left out, \`refused\` ${link(r.refusesSubject.source)}`);
  if (r.refusesMediaTypeParameters) parts.push(`\`;\` in a media type refused → left out, \`refused\` ${link(r.refusesMediaTypeParameters.source)}`);
  return parts.join('; ');
}

function deleteByTag(p: Profile): string {
  if (!p.deleteByTag) return NONE;
  return p.deleteByTag.allowed
    ? `allowed → a tag a failed run created is deleted ${link(p.deleteByTag.source)}`
    : `refused → such a tag is reported ${link(p.deleteByTag.source)}`;
}

function mount(p: Profile): string {
  if (!p.mount) return NONE;
  const how = { honoured: 'honoured', ignored: 'answered with an upload session → blobs uploaded', 'needs-pull': '`pull` on the source needed → the token asks it' }[p.mount.how];
  return `${how} ${link(p.mount.source)}`;
}

function immutable(p: Profile): string {
  const t = p.immutableTags;
  if (!t) return NONE;
  return `${t.status} \`${t.code}\` → an identical re-run writes nothing; a move fails quoting it, moved tags put back ${link(t.source)}`;
}

function index(p: Profile): string {
  const parts: string[] = [];
  if (p.index?.ociIndex) parts.push(`OCI index refused → a Docker list when every child is Docker ${link(p.index.ociIndex.source)}`);
  if (p.index?.annotatedDockerList) parts.push(`annotated Docker list refused → annotations make it OCI ${link(p.index.annotatedDockerList.source)}`);
  if (p.index?.incomplete) parts.push(`children must be there first (${p.index.incomplete.status}) → they go in first ${link(p.index.incomplete.source)}`);
  if (p.strictAccept) parts.push(`\`Accept\` must name the stored type → every read names them all ${link(p.strictAccept.source)}`);
  return parts.length ? parts.join('; ') : 'accepted';
}

function rateLimits(p: Profile): string {
  const parts: string[] = [];
  if (p.rateLimit) parts.push(`429 with a ${p.rateLimit.body === 'text' ? '`text/plain`' : 'JSON'} body${p.rateLimit.retryAfter ? ' and `Retry-After`' : ''} → waited out, retried ${link(p.rateLimit.source)}`);
  if (p.getCountsAsPull) parts.push(`a manifest GET counts as a pull → tags read with HEAD ${link(p.getCountsAsPull.source)}`);
  if (p.tagLag) parts.push(`a tag just written may read as absent → a re-run writes it again, same digest; \`append\` reads it again for 3.5 s ${link(p.tagLag.source)}`);
  if (p.denied) parts.push(`writes refused with its own 403 → quoted, with what to change ${link(p.denied.source)}`);
  return parts.length ? parts.join('; ') : NONE;
}

export function registriesTable(profiles: Profile[] = PROFILES): string {
  const head = ['Registry', 'Referrers API', 'DELETE by tag', 'Cross-repository mount', 'Immutable tags', 'OCI index', 'Rate limits and other answers'];
  const rows = profiles.map((p) => [p.name, referrers(p), deleteByTag(p), mount(p), immutable(p), index(p), rateLimits(p)]);
  return [head, head.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

/** README.md with its Registries table (between the registries markers) rewritten. */
export function renderRegistries(readme: string): string {
  return readme.replace(/<!-- registries:start -->[\s\S]*?<!-- registries:end -->/, `<!-- registries:start -->\n${registriesTable()}\n<!-- registries:end -->`);
}
