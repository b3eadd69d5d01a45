/** The registry-specific hints (src/registry/hints.ts): by host, by the registry's own wording, and none for the unknown. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Refused, registryHint } from '../../../src/registry/hints.ts';

const cases: Array<[string, Refused, RegExp | undefined]> = [
  ['GHCR 403 on a write: the two fixes', { registry: 'ghcr.io', status: 403, code: 'DENIED', message: 'permission_denied: write_package', access: 'push' }, /packages: write.*Manage Actions access.*Write role/],
  ['GHCR wording on another host (a proxy, GHES)', { registry: '127.0.0.1:5000', status: 403, code: 'DENIED', message: 'permission_denied: write_package', access: 'push' }, /Manage Actions access/],
  ['GHCR 403 on a read: not the package-write advice', { registry: 'ghcr.io', status: 403, code: 'DENIED', access: 'pull' }, undefined],
  ['Docker Hub immutable tag', { registry: 'docker.io', status: 403, code: 'DENIED', message: 'requested access to the resource is denied - This tag is already assigned to an image in this repository and cannot be updated due to immutability settings.', access: 'push' }, /immutable tags: publish a new tag/],
  ['Docker Hub under an alias', { registry: 'index.docker.io', status: 401, code: 'UNAUTHORIZED', access: 'push' }, /Read & Write scope/],
  ['ECR immutable tag', { registry: '123456789012.dkr.ecr.eu-west-1.amazonaws.com', status: 400, code: 'TAG_INVALID', access: 'push' }, /immutable tags.*MUTABLE/],
  ['ECR immutable tag by its wording', { registry: 'localhost:5000', status: 400, code: 'TAG_INVALID', message: "The image tag '1' already exists in the 'app' repository and cannot be overwritten because the repository is immutable.", access: 'push' }, /MUTABLE/],
  ['ECR denied', { registry: '123456789012.dkr.ecr.us-east-1.amazonaws.com', status: 403, code: 'DENIED', access: 'push' }, /ecr:PutImage/],
  ['ECR Public denied', { registry: 'public.ecr.aws', status: 403, code: 'DENIED', access: 'push' }, /ecr:PutImage/],
  ['Artifact Registry denied', { registry: 'europe-west1-docker.pkg.dev', status: 403, code: 'DENIED', access: 'push' }, /roles\/artifactregistry\.writer/],
  ['ACR denied', { registry: 'acme.azurecr.io', status: 401, code: 'UNAUTHORIZED', access: 'push' }, /AcrPush/],
  ['Quay denied', { registry: 'quay.io', status: 403, code: 'DENIED', access: 'push' }, /robot account/],
  ['GitLab denied', { registry: 'registry.gitlab.com', status: 403, code: 'DENIED', access: 'push' }, /write_registry/],
  ['Harbor immutable tag by its wording', { registry: 'harbor.corp.example', status: 412, code: 'DENIED', message: 'The tag:library/app:1 is immutable, cannot be overwrite.', access: 'push' }, /tag immutability rule/],
  ['Harbor 1.8-1.10 refusing a Docker list (415) by its wording', { registry: 'harbor.corp.example', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Manifest.list is not supported.', access: 'push' }, /Harbor to 2\.0 or later/],
  ['Angos immutable tag (409) by its wording', { registry: 'registry.corp.example', status: 409, code: 'DENIED', message: "Tag 'v1.0.0' is immutable and cannot be overwritten", access: 'push' }, /immutable_tags_exclusions/],
  ['an unknown registry: no hint of its own', { registry: 'registry.corp.example', status: 403, code: 'DENIED', access: 'push' }, undefined],
  ['a known registry, an unrelated error: none', { registry: 'ghcr.io', status: 404, code: 'MANIFEST_UNKNOWN', access: 'pull' }, undefined],
];

describe('registry hints', () => {
  for (const [what, refused, expected] of cases) {
    it(what, () => {
      const hint = registryHint(refused);
      if (expected) assert.match(hint ?? '', expected);
      else assert.equal(hint, undefined);
    });
  }
});
