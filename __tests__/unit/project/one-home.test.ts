/**
 * One home for each value: action.yml holds the input defaults (the code must read an unset input
 * as its default), one 4 MiB manifest limit, one rule for what an attestation is.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readActionYml } from '../../../scripts/docs.ts';
import { getInputs } from '../../../src/inputs.ts';
import { isAttestation } from '../../../src/oci/assemble.ts';
import { DEFAULT_TRANSPORT_OPTIONS } from '../../../src/registry/transport.ts';
import { projectRoot } from '../../helpers/action.ts';

const required = { sources: 'r.io/app:amd64', tags: 'r.io/app:1' };
const read = (values: Record<string, string>) => (name: string) => values[name] ?? '';

describe('one home for each value', () => {
  const inputs = readActionYml().inputs as Record<string, { default?: string; required?: boolean }>;
  const withDefaults = Object.entries(inputs).filter(([, i]) => i.default !== undefined && i.default !== '');

  it('action.yml gives the defaults of the inputs that have one (the numbers and switches among them)', () => {
    const names = withDefaults.map(([name]) => name);
    for (const name of ['retries', 'retry-max-seconds', 'timeout', 'concurrency', 'push', 'overwrite', 'media-type']) assert.ok(names.includes(name), name);
  });

  for (const [name, input] of withDefaults) {
    it(`${name}: the code reads it unset as action.yml's default '${input.default}'`, () => {
      assert.deepEqual(getInputs(read(required)), getInputs(read({ ...required, [name]: input.default as string })));
    });
  }

  it("the transport's defaults are the inputs' defaults", () => {
    const i = getInputs(read(required));
    const t = DEFAULT_TRANSPORT_OPTIONS;
    assert.deepEqual(
      { retries: t.retries, retryMaxSeconds: t.retryMaxSeconds, timeout: t.requestTimeoutSeconds, concurrency: t.concurrency },
      { retries: i.retries, retryMaxSeconds: i.retryMaxSeconds, timeout: i.timeoutSeconds, concurrency: i.concurrency },
    );
  });

  it('one 4 MiB manifest limit in src/ (oci/manifest.ts MANIFEST_SIZE_LIMIT)', () => {
    const src = join(projectRoot, 'src');
    const homes = readdirSync(src, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.ts'))
      .flatMap((f) => (readFileSync(join(src, f), 'utf8').match(/\b4 \* 1024 \* 1024\b|\b4194304\b|\b4_194_304\b/g) ?? []).map(() => f));
    assert.deepEqual(homes, [join('oci', 'manifest.ts')]);
  });

  it('isAttestation: buildx’s attestation manifests only (the CLI and the publish path share it)', () => {
    const table: Array<[Record<string, string> | undefined, boolean]> = [
      [{ 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': 'sha256:a' }, true],
      [{ 'vnd.docker.reference.type': 'other' }, false],
      [{ 'vnd.docker.reference.type': '' }, false],
      [{ 'org.opencontainers.image.title': 'x' }, false],
      [undefined, false],
    ];
    for (const [annotations, want] of table) assert.equal(isAttestation(annotations ? { annotations } : {}), want, JSON.stringify(annotations));
  });
});
