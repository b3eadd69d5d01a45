import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { getInputs } from '../../../src/inputs.ts';
import { parseAnnotations } from '../../../src/oci/annotations.ts';
import { inputsTable, outputsTable, readActionYml, section } from '../../../scripts/docs.ts';
import { projectRoot } from '../../helpers/action.ts';

const action = readActionYml();
const readme = readFileSync(`${projectRoot}/README.md`, 'utf8');

describe('README and action.yml agree', () => {
  it('the inputs table matches action.yml (node scripts/docs.ts regenerates it)', () => {
    assert.equal(section(readme, 'inputs'), inputsTable(action));
  });
  it('the outputs table matches action.yml', () => {
    assert.equal(section(readme, 'outputs'), outputsTable(action));
  });
  it('the code reads exactly the inputs action.yml declares', () => {
    const asked = new Set<string>();
    getInputs((name) => {
      asked.add(name);
      return name === 'sources' ? 'r.io/a:1' : name === 'tags' ? 'r.io/a:2' : '';
    });
    assert.deepEqual([...asked].sort(), Object.keys(action.inputs).sort());
  });
  // That the code sets exactly the outputs action.yml declares is asserted from a real run's
  // GITHUB_OUTPUT file: __tests__/integration/publish/main.test.ts.
  it('the annotations description names the prefixes as the parser reads them', () => {
    const description = action.inputs.annotations?.description ?? '';
    const parsed = parseAnnotations('a=1\nindex:b=2\nmanifest-descriptor:c=3\nmanifest:d=4\nindex-descriptor:e=5');
    assert.deepEqual(parsed.indexAnnotations, { a: '1', b: '2' }, 'unprefixed and index: lines');
    assert.deepEqual(parsed.descriptorAnnotations, [{ key: 'c', value: '3' }], 'manifest-descriptor: lines');
    assert.deepEqual(parsed.skippedAnnotations, ['manifest:d=4', 'index-descriptor:e=5']);
    for (const prefix of ['Unprefixed', '`index:`', '`manifest-descriptor:`', '`manifest:`', '`index-descriptor:`']) assert.ok(description.includes(prefix), prefix);
    assert.doesNotMatch(description, /\b(index|manifest)-(?!descriptor)/, 'no index-/manifest- prefixes: the parser wants a colon');
    assert.match(description, /DOCKER_METADATA_ANNOTATIONS_LEVELS=index/);
  });
  it('every optional input has a default and a description; runs on node24 from dist/', () => {
    for (const [name, input] of Object.entries(action.inputs)) {
      assert.ok(input.description, `${name} has a description`);
      if (!input.required) assert.notEqual(input.default, undefined, `${name} has a default`);
    }
    const raw = parse(readFileSync(`${projectRoot}/action.yml`, 'utf8'));
    assert.deepEqual(raw.runs, { using: 'node24', main: 'dist/index.js' });
    assert.ok(raw.branding?.icon && raw.branding?.color);
  });
});
