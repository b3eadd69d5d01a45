/**
 * Registries as their public issues and documents describe them: one profile per registry, each
 * quirk with its source. The proxy in profile-proxy.ts plays a profile in front of the real
 * distribution registry; profiles.test.ts runs the action through each; README.md's Registries
 * table is generated from this data (registries-table.ts) and checked by a test.
 *
 * Only what a source says is written here. Where a source does not give a status code, the
 * profile says so (`statusGuessed`), and the action treats the codes of that family alike.
 */

/** A public issue, pull request or document that shows the behaviour. */
export type Source = `https://${string}`;

export interface Refusal {
  status: number;
  code: string;
  message: string;
  /** The source describes the refusal but not its status code: the one here is a stand-in. */
  statusGuessed?: boolean;
  source: Source;
}

export interface Profile {
  id: string;
  name: string;
  /** The registry's host(s), as the hint table (src/registry/hints.ts) keys them. */
  host: string;
  referrers: {
    /** listed: the referrers API lists what has a subject; absent: no API (404); lying: OCI-Subject answered, nothing listed. */
    api: 'listed' | 'absent' | 'lying';
    source: Source;
    /** A manifest with a `subject` is refused. */
    refusesSubject?: Refusal;
    /** A media type with parameters (`;version=0.2`) in a manifest is refused. */
    refusesMediaTypeParameters?: Refusal;
  };
  deleteByTag?: { allowed: boolean; source: Source };
  mount?: { how: 'honoured' | 'ignored' | 'needs-pull'; source: Source };
  /** Moving an existing tag is refused (a tag rewritten with the same bytes is not a move). */
  immutableTags?: Refusal;
  /** Index formats refused on PUT. */
  index?: {
    ociIndex?: Refusal;
    annotatedDockerList?: Refusal;
    /** An index whose children are not (yet) in the repository. */
    incomplete?: Refusal;
  };
  rateLimit?: { body: 'json' | 'text'; retryAfter?: 'seconds' | 'date'; source: Source };
  /** A manifest GET/HEAD whose Accept does not name the stored type is answered 404 MANIFEST_UNKNOWN. */
  strictAccept?: { message: string; source: Source };
  /** Writes refused with the registry's own 403 body. */
  denied?: Refusal;
  /** A tag just written may read as absent for a moment. */
  tagLag?: { source: Source };
  /** A manifest GET counts against a pull quota; HEAD does not. */
  getCountsAsPull?: { source: Source };
}

export const PROFILES: Profile[] = [
  {
    id: 'dockerhub',
    name: 'Docker Hub',
    host: 'docker.io',
    referrers: { api: 'absent', source: 'https://github.com/docker/roadmap/issues/724' },
    mount: { how: 'needs-pull', source: 'https://github.com/oras-project/rust-oci-client/issues/235' },
    immutableTags: {
      status: 403,
      code: 'DENIED',
      // The status from hub-feedback#2466, the code and message as kimai/kimai#5791 quotes them.
      message: 'requested access to the resource is denied - This tag is already assigned to an image in this repository and cannot be updated due to immutability settings. To push this image, use a different tag.',
      source: 'https://github.com/docker/hub-feedback/issues/2466',
    },
    rateLimit: { body: 'text', retryAfter: 'seconds', source: 'https://github.com/docker/hub-feedback/issues/1907' },
    getCountsAsPull: { source: 'https://github.com/containers/image/pull/1078' },
  },
  {
    id: 'ghcr',
    name: 'GitHub Container Registry',
    host: 'ghcr.io',
    referrers: { api: 'absent', source: 'https://github.com/orgs/community/discussions/208530' },
    strictAccept: { message: 'OCI index found, but Accept header does not support OCI indexes', source: 'https://github.com/release-argus/Argus/issues/459' },
    denied: { status: 403, code: 'DENIED', message: 'permission_denied: write_package', source: 'https://github.com/redhat-actions/push-to-registry/issues/52' },
    tagLag: { source: 'https://github.com/p2pool-starter-stack/pithead/issues/429' },
  },
  {
    id: 'ecr',
    name: 'Amazon ECR',
    host: 'dkr.ecr.amazonaws.com',
    referrers: {
      api: 'lying',
      source: 'https://github.com/sigstore/sigstore-js/pull/1183',
      refusesSubject: {
        status: 405,
        code: 'UNSUPPORTED',
        message: 'Method Not Allowed',
        source: 'https://github.com/aws/containers-roadmap/issues/2783',
      },
      refusesMediaTypeParameters: {
        status: 400,
        code: 'MANIFEST_INVALID',
        message: 'manifest invalid',
        statusGuessed: true,
        source: 'https://github.com/sigstore/sigstore-js/pull/1058',
      },
    },
    immutableTags: {
      status: 400,
      code: 'TAG_INVALID',
      message: "The image tag 'latest' already exists in the 'app' repository and cannot be overwritten because the repository is immutable.",
      source: 'https://github.com/aws/containers-roadmap/issues/862',
    },
  },
  {
    id: 'ecr-public',
    name: 'Amazon ECR Public',
    host: 'public.ecr.aws',
    // The same registry API as ECR's; sigstore-js#1183 found AWS ECR answering OCI-Subject without listing.
    referrers: { api: 'lying', source: 'https://github.com/sigstore/sigstore-js/pull/1183' },
  },
  {
    id: 'gar',
    name: 'Google Artifact Registry',
    host: 'pkg.dev',
    referrers: { api: 'listed', source: 'https://github.com/sigstore/policy-controller/pull/1894' },
    index: {
      annotatedDockerList: {
        status: 400,
        code: 'MANIFEST_INVALID',
        message: 'Failed to parse manifest: Failed to deserialize application/vnd.docker.distribution.manifest.list.v2+json.',
        source: 'https://github.com/regclient/regclient/issues/466',
      },
    },
  },
  {
    id: 'acr',
    name: 'Azure Container Registry',
    host: 'azurecr.io',
    referrers: { api: 'listed', source: 'https://github.com/aws/containers-roadmap/issues/2783' },
    strictAccept: { message: 'OCI manifest found, but accept header does not support OCI manifests', source: 'https://github.com/Azure/acr/pull/764' },
  },
  {
    id: 'quay',
    name: 'Quay',
    host: 'quay.io',
    referrers: { api: 'listed', source: 'https://github.com/quay/quay/pull/2597' },
    deleteByTag: { allowed: true, source: 'https://github.com/quay/quay/pull/3128' },
  },
  {
    id: 'harbor',
    name: 'Harbor',
    host: 'goharbor.io',
    referrers: { api: 'listed', source: 'https://github.com/goharbor/harbor/issues/17928' },
    mount: { how: 'ignored', source: 'https://github.com/goharbor/harbor/issues/17097' },
    immutableTags: {
      status: 412,
      code: 'DENIED',
      message: 'The tag:library/app:1 is immutable, cannot be overwrite.',
      source: 'https://github.com/goharbor/harbor/pull/9427',
    },
  },
  {
    id: 'harbor-1',
    name: 'Harbor 1.x',
    host: 'goharbor.io',
    referrers: { api: 'absent', source: 'https://github.com/goharbor/harbor/issues/17928' },
    immutableTags: {
      status: 412,
      code: 'DENIED',
      message: 'The tag:library/app:1 is immutable, cannot be overwrite.',
      source: 'https://github.com/goharbor/harbor/pull/9427',
    },
    index: {
      // No OCI index before Harbor 2.0 ("Harbor will support all OCI artifacts on the upcoming 2.0", #8268); up to
      // 1.7 Harbor ran distribution 2.6.2 (goharbor/harbor#6513), which refuses a manifest type it does not know as
      // MANIFEST_INVALID. The `sha256-<hex>` fallback tag is an OCI index too. Not played: 1.8-1.10 refuse a Docker
      // list (415 UNSUPPORTED_MEDIA_TYPE, goharbor/harbor#8855), 1.10 answers an OCI manifest 500 (goharbor/harbor#10952).
      ociIndex: {
        status: 400,
        code: 'MANIFEST_INVALID',
        message: 'manifest invalid',
        statusGuessed: true,
        source: 'https://github.com/goharbor/harbor/issues/8268',
      },
    },
  },
  {
    id: 'nexus',
    name: 'Sonatype Nexus',
    host: 'nexus',
    referrers: { api: 'absent', source: 'https://github.com/estesp/manifest-tool/issues/191' },
    immutableTags: {
      status: 400,
      code: 'BLOB_UPLOAD_INVALID',
      message: 'blob upload invalid',
      source: 'https://github.com/GoogleContainerTools/jib/issues/3057',
    },
    index: {
      incomplete: {
        status: 400,
        code: 'MANIFEST_INVALID',
        message: 'manifest invalid',
        source: 'https://github.com/estesp/manifest-tool/issues/190',
      },
    },
  },
  {
    id: 'artifactory',
    name: 'JFrog Artifactory',
    host: 'jfrog.io',
    referrers: { api: 'listed', source: 'https://jfrog.com/help/r/jfrog-artifactory-documentation/use-referrers-rest-api-to-discover-oci-references' },
    immutableTags: {
      status: 403,
      code: 'MANIFEST_INVALID',
      message: 'manifest invalid',
      source: 'https://github.com/GoogleContainerTools/kaniko/issues/1095',
    },
  },
  {
    id: 'gitlab',
    name: 'GitLab',
    host: 'registry.gitlab.com',
    referrers: { api: 'absent', source: 'https://gitlab.com/gitlab-org/container-registry/-/issues/1205' },
    mount: { how: 'needs-pull', source: 'https://github.com/estesp/manifest-tool/issues/53' },
    strictAccept: { message: 'OCI manifest found, but accept header does not support OCI manifests', source: 'https://github.com/sergi0g/cup/issues/132' },
  },
  {
    id: 'gitea',
    name: 'Gitea',
    host: 'gitea',
    referrers: { api: 'absent', source: 'https://github.com/go-gitea/gitea/issues/37093' },
    index: {
      incomplete: {
        status: 404,
        code: 'MANIFEST_UNKNOWN',
        message: 'manifest unknown',
        source: 'https://github.com/go-gitea/gitea/issues/21954',
      },
    },
  },
  {
    id: 'angos',
    name: 'Angos',
    host: 'angos',
    referrers: { api: 'listed', source: 'https://github.com/project-angos/angos/blob/f104e30a0a265fdedc452fc51bd9f214b8693f67/doc/reference/api-endpoints.md#referrers' },
    deleteByTag: { allowed: true, source: 'https://github.com/project-angos/angos/blob/f104e30a0a265fdedc452fc51bd9f214b8693f67/doc/reference/api-endpoints.md#manifests' },
    // Its documentation: "409 Conflict", code DENIED (CONFLICT before its 4XX codes were limited to the spec's,
    // project-angos/angos commit 161ac3a4), message "Tag 'tagname' is immutable and cannot be overwritten".
    // Played as documented: a move is refused, a tag rewritten with the same bytes is not a move.
    immutableTags: {
      status: 409,
      code: 'DENIED',
      message: "Tag '1' is immutable and cannot be overwritten",
      source: 'https://github.com/project-angos/angos/blob/f104e30a0a265fdedc452fc51bd9f214b8693f67/doc/how-to/protect-tags-immutability.md#error-handling',
    },
  },
  {
    id: 'distribution-2.8',
    name: 'distribution 2.8',
    host: 'registry:2',
    referrers: { api: 'absent', source: 'https://github.com/distribution/distribution/issues/3859' },
    deleteByTag: { allowed: false, source: 'https://github.com/distribution/distribution/pull/3174' },
    mount: { how: 'honoured', source: 'https://github.com/distribution/distribution/pull/1269' },
  },
  {
    id: 'distribution-3',
    name: 'distribution 3',
    host: 'registry:3',
    referrers: { api: 'absent', source: 'https://github.com/distribution/distribution/pull/4828' },
    deleteByTag: { allowed: true, source: 'https://github.com/distribution/distribution/pull/3427' },
    mount: { how: 'honoured', source: 'https://github.com/distribution/distribution/pull/1269' },
  },
];

/** Rate limits every registry may answer; Retry-After in either form (RFC 9110 §10.2.3). */
export const RATE_LIMITS: Array<{ body: 'json' | 'text'; retryAfter: 'seconds' | 'date'; source: Source }> = [
  { body: 'text', retryAfter: 'seconds', source: 'https://github.com/docker/hub-feedback/issues/1907' },
  { body: 'json', retryAfter: 'seconds', source: 'https://github.com/containers/image/pull/1078' },
  { body: 'json', retryAfter: 'date', source: 'https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3' },
];

export function profile(id: string): Profile {
  const p = PROFILES.find((x) => x.id === id);
  if (!p) throw new Error(`no profile ${id}`);
  return p;
}
