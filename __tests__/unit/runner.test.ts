import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { commandLine, getInput, outputBlock } from '../../src/runner.ts';
import { parseOutputFile } from '../helpers/action.ts';

describe('the runner protocol (as @actions/core 3 speaks it)', () => {
  it('workflow commands: data escapes % CR LF; properties also : and ,; empty properties are left out', () => {
    const cases: Array<[string, Record<string, string | undefined>, string, string]> = [
      ['debug', {}, 'plain', '::debug::plain'],
      ['error', { title: 'Bad: a, b' }, '50% done\r\nnext', '::error title=Bad%3A a%2C b::50%25 done%0D%0Anext'],
      ['error', { title: '' }, 'x', '::error::x'],
      ['warning', { title: undefined }, 'x:y,z', '::warning::x:y,z'],
      ['add-mask', {}, 's%\n', '::add-mask::s%25%0A'],
      ['group', {}, 'Resolve sources', '::group::Resolve sources'],
      ['endgroup', {}, '', '::endgroup::'],
    ];
    for (const [name, props, message, want] of cases) assert.equal(commandLine(name, props, message), want);
  });

  it('inputs: INPUT_<NAME> with spaces as _, uppercased, trimmed; empty when unset', () => {
    const env = { INPUT_SOURCES: '  a\nb \n', 'INPUT_INSECURE-REGISTRIES': 'r:5000', INPUT_MY_INPUT: 'x' };
    assert.equal(getInput('sources', env), 'a\nb');
    assert.equal(getInput('insecure-registries', env), 'r:5000');
    assert.equal(getInput('my input', env), 'x');
    assert.equal(getInput('tags', env), '');
  });

  it('outputs: a delimited block the runner (and the test helper) reads back exactly', () => {
    const dir = mkdtempSync(join(tmpdir(), 'runner-'));
    const file = join(dir, 'output');
    const values = { digest: 'sha256:abc', images: 'a\nb\n\nc', empty: '' };
    writeFileSync(file, Object.entries(values).map(([k, v]) => `${outputBlock(k, v)}\n`).join(''));
    assert.deepEqual(parseOutputFile(readFileSync(file, 'utf8')), values);
    assert.match(outputBlock('x', 'y'), /^x<<ghadelimiter_[0-9a-f-]{36}\ny\nghadelimiter_[0-9a-f-]{36}$/);
  });
});
