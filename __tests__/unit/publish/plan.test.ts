import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IndexEntry } from '../../../src/oci/assemble.ts';
import { MediaType } from '../../../src/oci/manifest.ts';
import { parseNormalizedNamed } from '../../../src/oci/reference.ts';
import { mergeAppend, planTargets, presenceKey, presenceQuestions, targetsOf } from '../../../src/publish/plan.ts';

const d = (n: number) => `sha256:${String(n).padStart(64, '0')}` as const;
/** An entry `n` living in registry/repository `at` (e.g. 'a.io/app'). */
const entry = (n: number, at: string, platform?: [string, string], attestationOf?: number): IndexEntry => {
  const slash = at.indexOf('/');
  return {
    descriptor: {
      mediaType: attestationOf ? MediaType.OciManifest : MediaType.DockerManifest,
      digest: d(n),
      size: n,
      platform: attestationOf ? { os: 'unknown', architecture: 'unknown' } : { os: platform?.[0] ?? 'linux', architecture: platform?.[1] ?? 'amd64' },
      ...(attestationOf ? { annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': d(attestationOf) } } : {}),
    },
    line: `src${n}`,
    registry: at.slice(0, slash),
    repository: at.slice(slash + 1),
    attestation: attestationOf !== undefined,
  };
};
const tags = (...refs: string[]) => refs.map((r) => parseNormalizedNamed(r));

describe('targetsOf', () => {
  const cases: Array<[string, string[], Array<[string, string, string[]]>]> = [
    ['one tag', ['a.io/app:1'], [['a.io', 'app', ['1']]]],
    ['two tags of one repository', ['a.io/app:1', 'a.io/app:latest'], [['a.io', 'app', ['1', 'latest']]]],
    ['repositories in the order their first tag came', ['b.io/x:1', 'a.io/app:1', 'b.io/x:2'], [['b.io', 'x', ['1', '2']], ['a.io', 'app', ['1']]]],
    ['same path on two registries', ['a.io/app:1', 'b.io/app:1'], [['a.io', 'app', ['1']], ['b.io', 'app', ['1']]]],
  ];
  for (const [name, input, want] of cases) {
    it(name, () => {
      assert.deepEqual(targetsOf(tags(...input)).map((t) => [t.registry, t.repository, t.tags.map((x) => x.tag)]), want);
    });
  }
});

describe('presenceQuestions and planTargets', () => {
  const amd = entry(1, 'a.io/build', ['linux', 'amd64']);
  const arm = entry(2, 'a.io/build', ['linux', 'arm64']);
  const other = entry(3, 'b.io/elsewhere', ['linux', 's390x']);
  const entries = [amd, arm, other];
  const cases: Array<{ name: string; tags: string[]; present: Array<[number, number]>; asked: string[]; plans: Array<[string, number, number, number, number[]]> }> = [
    {
      name: 'nothing present anywhere: same-registry entries mount, others copy',
      tags: ['a.io/release:1'],
      present: [],
      asked: ['a.io/release@1', 'a.io/release@2', 'a.io/release@3'],
      plans: [['a.io/release', 0, 2, 1, [1, 2, 3]]],
    },
    {
      name: 'the repository the entries live in is not asked about them',
      tags: ['a.io/build:multi'],
      present: [],
      asked: ['a.io/build@3'],
      plans: [['a.io/build', 2, 0, 1, [3]]],
    },
    {
      name: 'present entries are not placed again',
      tags: ['a.io/release:1', 'b.io/release:1'],
      present: [[0, 1], [1, 3]],
      asked: ['a.io/release@1', 'a.io/release@2', 'a.io/release@3', 'b.io/release@1', 'b.io/release@2', 'b.io/release@3'],
      plans: [
        ['a.io/release', 1, 1, 1, [2, 3]],
        ['b.io/release', 1, 0, 2, [1, 2]],
      ],
    },
    {
      name: 'everything present: nothing to do',
      tags: ['b.io/elsewhere:1'],
      present: [[0, 1], [0, 2]],
      asked: ['b.io/elsewhere@1', 'b.io/elsewhere@2'],
      plans: [['b.io/elsewhere', 3, 0, 0, []]],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const targets = targetsOf(tags(...c.tags));
      const asked = presenceQuestions(targets, entries);
      assert.deepEqual(asked.map(({ target, entry: e }) => `${target.registry}/${target.repository}@${Number(e.descriptor.digest.slice(7))}`), c.asked);
      const present = new Set(c.present.map(([t, n]) => presenceKey(targets[t]!, entries.find((e) => e.descriptor.size === n)!)));
      const plans = planTargets(targets, entries, present);
      assert.deepEqual(
        plans.map((p) => [p.target, p.present, p.toMount, p.toCopy, p.missing.map((e) => e.descriptor.size)]),
        c.plans,
      );
      assert.deepEqual(plans.map((p) => p.destination), targets);
    });
  }
});

describe('mergeAppend', () => {
  const cases: Array<[string, IndexEntry[], IndexEntry[], number[]]> = [
    ['into nothing: the new entries', [], [entry(1, 'r.io/app'), entry(11, 'r.io/app', undefined, 1)], [1, 11]],
    [
      'keeps existing platforms, adds new ones after them',
      [entry(1, 'r.io/app', ['linux', 'amd64']), entry(2, 'r.io/app', ['linux', 'arm64'])],
      [entry(3, 'r.io/app', ['linux', 's390x'])],
      [1, 2, 3],
    ],
    [
      'a new image replaces the same platform, and its attestation goes with it',
      [entry(1, 'r.io/app', ['linux', 'amd64']), entry(2, 'r.io/app', ['linux', 'arm64']), entry(11, 'r.io/app', undefined, 1), entry(12, 'r.io/app', undefined, 2)],
      [entry(3, 'r.io/app', ['linux', 's390x']), entry(4, 'r.io/app', ['linux', 'arm64']), entry(14, 'r.io/app', undefined, 4)],
      [1, 3, 4, 11, 14],
    ],
    [
      'new attestations alone replace nothing',
      [entry(1, 'r.io/app', ['linux', 'amd64']), entry(11, 'r.io/app', undefined, 1)],
      [entry(12, 'r.io/app', undefined, 2)],
      [1, 11, 12],
    ],
  ];
  for (const [name, existing, fresh, want] of cases) {
    it(name, () => assert.deepEqual(mergeAppend(existing, fresh).map((e) => e.descriptor.size), want));
  }
});
