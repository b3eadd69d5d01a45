/**
 * The runner interface: src/log.ts through @actions/core, read back as the runner reads it (the
 * workflow commands on stdout, the GITHUB_OUTPUT and job summary files core writes).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SUMMARY_LIMIT, actionsLogger, getInput, setOutput, writeSummary } from '../../../src/log.ts';
import { parseOutputFile, projectRoot } from '../../helpers/action.ts';
import { captureStdout } from '../../helpers/runner-text.ts';


/** Runs fn with these environment variables set, and puts the old values back. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T | Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

describe('the runner interface (src/log.ts through @actions/core)', () => {
  it('workflow commands: one line each, the title escaped as a property, line breaks of values shown', () => {
    const cases: Array<[string, () => void, string]> = [
      ['debug', () => actionsLogger.debug('plain\nnext'), '::debug::plain\\nnext\n'],
      ['warning', () => actionsLogger.warning('50% x:y,z'), '::warning::50%25 x:y,z\n'],
      ['error with title', () => actionsLogger.error('failed', 'Bad: a, b'), '::error title=Bad%3A a%2C b::failed\n'],
      ['error with details: one command, the lines escaped', () => actionsLogger.error('failed', 'T', ['tag a\rx', 'tag b']), '::error title=T::failed%0Atag a\\rx%0Atag b\n'],
      ['mask', () => actionsLogger.setSecret('s%\n'), '::add-mask::s%25%0A\n'],
      ['an empty secret is not registered', () => actionsLogger.setSecret(''), ''],
      ['info: own lines kept, a command in a value made inert', () => actionsLogger.info('a\n::error::b'), 'a\n> ::error::b\n'],
    ];
    for (const [name, fn, want] of cases) assert.equal(captureStdout(fn), want, name);
  });

  it('groups: opened and closed around the work, also when it fails', async () => {
    let out = '';
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string | Uint8Array) => ((out += chunk.toString()), true)) as typeof process.stdout.write;
    try {
      await assert.rejects(actionsLogger.group('Push\n::x', () => Promise.reject(new Error('boom'))), /boom/);
    } finally {
      process.stdout.write = write;
    }
    assert.equal(out, '::group::Push\\n::x\n::endgroup::\n');
  });

  it('inputs: INPUT_<NAME> (spaces as _, uppercased), trimmed; empty when unset', async () => {
    await withEnv({ INPUT_SOURCES: '  a\nb \n', 'INPUT_INSECURE-REGISTRIES': 'r:5000', INPUT_TAGS: undefined }, () => {
      assert.equal(getInput('sources'), 'a\nb');
      assert.equal(getInput('insecure-registries'), 'r:5000');
      assert.equal(getInput('tags'), '');
    });
  });

  it('outputs: delimited blocks in the GITHUB_OUTPUT file that read back exactly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runner-'));
    const file = join(dir, 'output');
    writeFileSync(file, '');
    try {
      await withEnv({ GITHUB_OUTPUT: file }, () => {
        setOutput('digest', 'sha256:abc');
        setOutput('images', 'a\nb\n\nc', 'lines');
        setOutput('tags', '', 'lines');
      });
      const text = readFileSync(file, 'utf8');
      assert.deepEqual(parseOutputFile(text), { digest: 'sha256:abc', images: 'a\nb\n\nc', tags: '' });
      assert.match(text, /^digest<<ghadelimiter_[0-9a-f-]{36}\nsha256:abc\nghadelimiter_[0-9a-f-]{36}\n/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('summary: appended to the file the runner names, cut to the limit; refused when there is none', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runner-'));
    const file = join(dir, 'summary');
    writeFileSync(file, 'before\n');
    try {
      // First: core.summary keeps the file it found for the life of the process (one step).
      await withEnv({ GITHUB_STEP_SUMMARY: undefined }, () => assert.rejects(writeSummary('x'), /GITHUB_STEP_SUMMARY/));
      await withEnv({ GITHUB_STEP_SUMMARY: file }, async () => {
        await writeSummary('## one\n');
        await writeSummary(`${'x'.repeat(100)}\n`.repeat(SUMMARY_LIMIT / 50));
      });
      const text = readFileSync(file, 'utf8');
      assert.ok(text.startsWith('before\n## one\nxxx'));
      assert.ok(Buffer.byteLength(text) <= 'before\n## one\n'.length + SUMMARY_LIMIT, `${Buffer.byteLength(text)}`);
      assert.match(text, /GitHub limits a job summary to 1 MiB/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('src/log.ts is the only module that imports @actions/core, and no module names the runner files', () => {
    const src = join(projectRoot, 'src');
    const files = readdirSync(src, { recursive: true }).map(String).filter((f) => f.endsWith('.ts'));
    assert.ok(files.length > 20, `${files.length}`);
    const importers = files.filter((f) => /from '@actions\/core'/.test(readFileSync(join(src, f), 'utf8')));
    assert.deepEqual(importers, ['log.ts']);
    const naming = files.filter((f) => /GITHUB_(OUTPUT|STEP_SUMMARY)/.test(readFileSync(join(src, f), 'utf8')));
    assert.deepEqual(naming, []);
  });
});
