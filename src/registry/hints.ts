/**
 * What to do about a registry's refusal, for the registries whose refusals are known: a table
 * keyed by registry host (and, where a registry's own wording names it unmistakably, by that
 * wording: GHCR behind another name, a self-hosted Harbor). Each hint says what to change; the
 * registry's code and message are quoted by the error itself. Sources: __tests__/profiles/registries.ts.
 */
import { canonicalRegistry } from '../hosts.ts';

export interface Refused {
  registry: string;
  status: number;
  code: string;
  /** The registry's own message (sanitised), if it gave one. */
  message?: string;
  access?: 'pull' | 'push';
}

interface RegistryHints {
  name: string;
  /** Whether a registry host (lowercase, as references name it) is this registry. */
  host: (host: string) => boolean;
  /** Recognises the registry by its own wording, on any host. */
  says?: RegExp;
  hint: (r: Refused) => string | undefined;
}

const denied = (r: Refused) => r.status === 403 || r.code === 'DENIED' || r.code === 'UNAUTHORIZED';
const writing = (r: Refused) => r.access === 'push' || r.access === undefined;

const TABLE: RegistryHints[] = [
  {
    name: 'GHCR',
    host: (h) => h === 'ghcr.io',
    says: /\bwrite_package\b/,
    hint: (r) =>
      denied(r) && writing(r)
        ? "GHCR refused the write. Two things grant it: the job's `permissions:` must include `packages: write`, and the package's settings (Package settings → Manage Actions access) must give this workflow's repository the Write role (a package first pushed from elsewhere does not)"
        : undefined,
  },
  {
    name: 'Docker Hub',
    host: (h) => h === 'docker.io',
    says: /immutability settings/,
    hint: (r) => {
      if (/immutab/i.test(r.message ?? '')) return 'The Docker Hub repository has immutable tags: publish a new tag, or turn immutability off in its settings';
      if (denied(r) && writing(r)) return 'Docker Hub refused the write: log in with a personal or organisation access token with the Read & Write scope, for an account that may push to this repository';
      return undefined;
    },
  },
  {
    name: 'Amazon ECR',
    host: (h) => /\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/.test(h) || h === 'public.ecr.aws',
    says: /cannot be overwritten because the repository is immutable/,
    hint: (r) => {
      if (r.code === 'TAG_INVALID') return 'The ECR repository has immutable tags: publish a new tag (an identical re-run writes nothing and passes), or set its image tag mutability to MUTABLE';
      if (denied(r) && writing(r)) return 'ECR refused the write: the role needs ecr:BatchCheckLayerAvailability, ecr:InitiateLayerUpload, ecr:UploadLayerPart, ecr:CompleteLayerUpload and ecr:PutImage on the repository (and ecr:GetAuthorizationToken)';
      return undefined;
    },
  },
  {
    name: 'Google Artifact Registry',
    host: (h) => h.endsWith('-docker.pkg.dev') || h === 'gcr.io' || h.endsWith('.gcr.io'),
    hint: (r) => (denied(r) && writing(r) ? 'Artifact Registry refused the write: the service account needs roles/artifactregistry.writer on the repository' : undefined),
  },
  {
    name: 'Azure Container Registry',
    host: (h) => h.endsWith('.azurecr.io'),
    hint: (r) => (denied(r) && writing(r) ? 'ACR refused the write: the identity needs the AcrPush role on the registry (and the tag must not be locked: write-enabled)' : undefined),
  },
  {
    name: 'Quay',
    host: (h) => h === 'quay.io',
    hint: (r) => (denied(r) && writing(r) ? 'Quay refused the write: the robot account needs the Write permission on the repository' : undefined),
  },
  {
    name: 'GitLab',
    host: (h) => h === 'registry.gitlab.com',
    hint: (r) => (denied(r) && writing(r) ? 'GitLab refused the write: use a token with the write_registry scope (a deploy token, or a personal or project access token), and check protected container tags' : undefined),
  },
  {
    name: 'Harbor',
    host: () => false,
    says: /is immutable, cannot be overwrite/,
    hint: () => 'A tag immutability rule of the Harbor project matches this tag: publish a new tag, or change the rule',
  },
  {
    // 1.8 to 1.10 refuse a Docker list (415 UNSUPPORTED_MEDIA_TYPE, goharbor/harbor#8855) and answer
    // an OCI manifest or index with a 500 (goharbor/harbor#10952, #11932): no index before 2.0.
    name: 'Harbor 1.8-1.10',
    host: () => false,
    says: /^Manifest\.list is not supported\.?$/,
    hint: () => 'Harbor before 2.0 takes no multi-platform index (1.8 to 1.10 refuse a Docker manifest list and fail on an OCI index): upgrade Harbor to 2.0 or later, or publish single-platform tags',
  },
  {
    name: 'Angos',
    host: () => false,
    says: /^Tag '.*' is immutable and cannot be overwritten$/,
    hint: () => 'The registry keeps this tag immutable (Angos: immutable_tags): publish a new tag (an identical re-run writes nothing and passes), or list the tag in immutable_tags_exclusions',
  },
];

/** The registry-specific hint for a refusal, when the registry is known; undefined otherwise. */
export function registryHint(r: Refused): string | undefined {
  const host = canonicalRegistry(r.registry);
  for (const entry of TABLE) {
    const known = entry.host(host) || (entry.says !== undefined && entry.says.test(r.message ?? ''));
    if (!known) continue;
    const hint = entry.hint(r);
    if (hint) return hint;
  }
  return undefined;
}
