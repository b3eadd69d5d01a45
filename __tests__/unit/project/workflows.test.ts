import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { readActionYml } from '../../../scripts/docs.ts';
import { projectRoot } from '../../helpers/action.ts';
import { checkActionYml, checkDependabotYml, checkYaml } from '../../helpers/workflow-check.ts';

const action = readActionYml();
const read = (path: string) => readFileSync(join(projectRoot, path), 'utf8');
const workflowDir = '.github/workflows';
const workflows = readdirSync(join(projectRoot, workflowDir)).filter((f) => /\.ya?ml$/.test(f)).sort();

describe('action.yml against SchemaStore github-action.json', () => {
  const doc = parse(read('action.yml'));
  it('is valid', () => assert.deepEqual(checkActionYml(doc), []));
  it('the schema knows node24 and rejects a runtime that does not exist (the check can fail)', () => {
    assert.equal(doc.runs.using, 'node24');
    assert.match(checkActionYml({ ...doc, runs: { ...doc.runs, using: 'node99' } }).join('\n'), /\/runs/);
    assert.match(checkActionYml({ ...doc, inputs: { x: { required: false } } }).join('\n'), /description/);
  });
});

describe('workflows in .github/workflows', () => {
  it('are the CI, end-to-end, CodeQL and release workflows', () => {
    assert.deepEqual(workflows, ['ci.yml', 'codeql.yml', 'e2e.yml', 'release.yml']);
  });
  for (const file of workflows) {
    const text = read(join(workflowDir, file));
    it(`${file}: valid against github-workflow.json, this action's inputs and outputs, needs`, () => {
      assert.deepEqual(checkYaml(text, action), []);
    });
    it(`${file}: least permissions at the top, a concurrency group, a timeout on every job`, () => {
      const doc = parse(text) as { permissions?: unknown; concurrency?: unknown; jobs: Record<string, { 'timeout-minutes'?: unknown }> };
      assert.deepEqual(doc.permissions, { contents: 'read' });
      assert.ok(doc.concurrency, 'concurrency');
      for (const [id, job] of Object.entries(doc.jobs)) assert.equal(typeof job['timeout-minutes'], 'number', `jobs.${id}.timeout-minutes`);
    });
  }
});

describe('.github/dependabot.yml against SchemaStore dependabot-2.0.json', () => {
  const doc = parse(read('.github/dependabot.yml')) as { updates: Array<{ 'package-ecosystem': string }> };
  it('is valid and updates npm and the workflows actions', () => {
    assert.deepEqual(checkDependabotYml(doc), []);
    assert.deepEqual(doc.updates.map((u) => u['package-ecosystem']).sort(), ['github-actions', 'npm']);
  });
  it('the schema rejects an unknown ecosystem (the check can fail)', () => {
    assert.notDeepEqual(checkDependabotYml({ ...doc, updates: [{ ...doc.updates[0], 'package-ecosystem': 'npmm' }] }), []);
  });
});
