import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readActionYml } from '../../../scripts/docs.ts';
import { projectRoot } from '../../helpers/action.ts';
import { checkYaml, yamlBlocks } from '../../helpers/workflow-check.ts';

const action = readActionYml();

/** The Markdown a user reads: the top-level documents and docs/. */
function markdownFiles(): string[] {
  const top = readdirSync(projectRoot).filter((f) => f.endsWith('.md'));
  let docs: string[] = [];
  try {
    docs = readdirSync(join(projectRoot, 'docs'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.md')).map((f) => join('docs', f));
  } catch {
    // no docs/ folder
  }
  return [...top, ...docs].sort();
}

const blocks = markdownFiles().flatMap((file) => yamlBlocks(readFileSync(join(projectRoot, file), 'utf8'), file));

describe('every YAML block in the Markdown documents can be pasted as it is', () => {
  it('finds the README examples (the test is not vacuous)', () => {
    assert.ok(blocks.filter((b) => b.file === 'README.md').length >= 6, `found ${blocks.length} blocks`);
  });
  for (const block of blocks) {
    it(`${block.file}:${block.line}`, () => {
      assert.deepEqual(checkYaml(block.text, action), []);
    });
  }
});

// The checker itself: each broken snippet must be reported, with the reason.
const STEP = 'uses: multiarch-manifest/multiarch-manifest-action@v1';
const cases: Array<{ name: string; yaml: string; problem?: RegExp }> = [
  { name: 'a valid step list', yaml: `- id: p\n  ${STEP}\n  with:\n    sources: a\n    tags: b\n- run: echo "\${{ steps.p.outputs.digest }}"` },
  { name: '${{ inside a flow mapping', yaml: `- uses: docker/login-action@v4\n  with: { username: \${{ github.actor }} }`, problem: /^yaml: / },
  { name: 'run: parsed as a mapping', yaml: `- id: refs\n  run: { echo 'list<<EOF'; cat ref-*; echo EOF; } >> "$GITHUB_OUTPUT"`, problem: /^yaml: |^schema: / },
  { name: 'a key the workflow schema does not know', yaml: `- ${STEP}\n  wiht: { sources: a, tags: b }`, problem: /^schema: .*'wiht'/ },
  { name: 'an input action.yml does not declare', yaml: `- ${STEP}\n  with: { sources: a, tags: b, builder: x }`, problem: /input 'builder' is not in action\.yml/ },
  { name: 'a required input missing (uses: ./)', yaml: `- uses: ./\n  with: { sources: a }`, problem: /required input 'tags' is missing/ },
  { name: 'an output action.yml does not declare', yaml: `- id: p\n  ${STEP}\n  with: { sources: a, tags: b }\n- run: echo "\${{ steps.p.outputs.index-digest }}"`, problem: /action\.yml has no output 'index-digest'/ },
  { name: 'a step id that does not exist', yaml: `- run: echo "\${{ steps.nope.outputs.digest }}"`, problem: /no step with id 'nope'/ },
  { name: 'a run step that does not write the output read', yaml: `- id: refs\n  run: echo hi\n- ${STEP}\n  with: { sources: "\${{ steps.refs.outputs.list }}", tags: b }`, problem: /does not write 'list'/ },
  { name: 'needs outputs in a fragment', yaml: `- ${STEP}\n  with: { sources: "r@\${{ needs.build.outputs.digest-arm64 }}", tags: b }`, problem: /cannot be checked/ },
  {
    name: 'needs outputs the job does not define',
    yaml: `on: push\njobs:\n  build:\n    runs-on: ubuntu-24.04\n    outputs: { digest: x }\n    steps: [{ run: 'true' }]\n  merge:\n    needs: build\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo "\${{ needs.build.outputs.digest-arm64 }}"`,
    problem: /job 'build' defines no output 'digest-arm64'/,
  },
  {
    name: 'needs outputs of a job not in needs',
    yaml: `on: push\njobs:\n  build:\n    runs-on: ubuntu-24.04\n    outputs: { digest: x }\n    steps: [{ run: 'true' }]\n  merge:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo "\${{ needs.build.outputs.digest }}"`,
    problem: /'build' is not in this job's needs/,
  },
  {
    name: 'outputs of a matrix job',
    yaml: `runs-on: ubuntu-24.04\nstrategy: { matrix: { arch: [amd64, arm64] } }\noutputs:\n  digest-amd64: x\nsteps: [{ run: 'true' }]`,
    problem: /matrix job's outputs/,
  },
  { name: 'build-push-action without setup-buildx', yaml: `- uses: docker/build-push-action@v7\n  with: { push: true }`, problem: /without docker\/setup-buildx-action/ },
  { name: 'an old docker/* major', yaml: `- uses: docker/metadata-action@v5\n  with: { images: ghcr.io/acme/app }`, problem: /older than the current major v6/ },
  { name: 'a GHCR name from github.repository', yaml: `- ${STEP}\n  with: { sources: a, tags: "ghcr.io/\${{ github.repository }}:1" }`, problem: /must be lowercase/ },
  { name: 'an upper-case GHCR name', yaml: `- ${STEP}\n  with: { sources: a, tags: ghcr.io/Acme/app:1 }`, problem: /must be lowercase/ },
  {
    name: 'GHCR login without packages: write',
    yaml: `on: push\npermissions: { contents: read }\njobs:\n  merge:\n    runs-on: ubuntu-24.04\n    steps:\n      - uses: docker/login-action@v4\n        with: { registry: ghcr.io, username: "\${{ github.actor }}", password: "\${{ secrets.GITHUB_TOKEN }}" }`,
    problem: /does not grant 'packages: write'/,
  },
  { name: 'a placeholder owner', yaml: `- uses: OWNER/multiarch-manifest-action@v1\n  with: { sources: a, tags: b }`, problem: /this action is multiarch-manifest\/multiarch-manifest-action/ },
  { name: 'a with: mapping alone', yaml: `sources: |\n  a\n  b`, problem: /not a workflow, a job or a list of steps/ },
  { name: 'a duplicate key', yaml: `- ${STEP}\n  with:\n    sources: a\n    sources: b\n    tags: c`, problem: /^yaml: / },
];

describe('the YAML checker reports broken snippets', () => {
  for (const c of cases) {
    it(c.name, () => {
      const problems = checkYaml(c.yaml, action);
      if (!c.problem) assert.deepEqual(problems, []);
      else assert.ok(problems.some((p) => c.problem!.test(p)), `expected ${c.problem} in ${JSON.stringify(problems)}`);
    });
  }
  it('reads fenced yaml and yml blocks with their line numbers', () => {
    const md = 'text\n```yaml\na: 1\n```\n\n  ```yml\n  - run: x\n  ```\n```sh\nno\n```\n';
    assert.deepEqual(yamlBlocks(md, 'x.md'), [
      { file: 'x.md', line: 2, text: 'a: 1' },
      { file: 'x.md', line: 6, text: '- run: x' },
    ]);
  });
});
