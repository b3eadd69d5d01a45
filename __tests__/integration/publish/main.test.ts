/**
 * run() in this process, as docker/build-push-action tests its main: INPUT_* variables in the
 * environment, a GITHUB_OUTPUT file read back afterwards. (The runner contract, a fresh process on
 * dist/, is tested by the subprocess tests.)
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run } from '../../../src/main.ts';
import { readActionYml } from '../../../scripts/docs.ts';
import { parseOutputFile } from '../../helpers/action.ts';
import { getManifestBytes, pushImage, sha256 } from '../../helpers/images.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';

interface MainRun {
  outputs: Record<string, string>;
  summary: string;
  stdout: string;
  exitCode: number;
}

/** Runs main's run() with these inputs; the workflow commands it prints are captured, not shown. */
async function runMain(inputs: Record<string, string>, overrides: Record<string, string> = {}): Promise<MainRun> {
  const dir = mkdtempSync(join(tmpdir(), 'main-run-'));
  const env: Record<string, string> = {
    GITHUB_OUTPUT: join(dir, 'output'),
    GITHUB_STEP_SUMMARY: join(dir, 'summary'),
    DOCKER_CONFIG: join(dir, 'no-docker-config'),
  };
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value;
  writeFileSync(env.GITHUB_OUTPUT as string, '');
  writeFileSync(env.GITHUB_STEP_SUMMARY as string, '');
  Object.assign(env, overrides);
  const saved = new Map(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  let stdout = '';
  const write = process.stdout.write;
  // @actions/core prints strings; the test runner's own reports to its parent are binary: pass them on.
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    if (typeof chunk !== 'string') return write.call(process.stdout, chunk, ...rest);
    stdout += chunk;
    return true;
  }) as typeof process.stdout.write;
  try {
    await run();
  } finally {
    process.stdout.write = write;
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  const exitCode = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  const result = { outputs: existsSync(env.GITHUB_OUTPUT as string) ? parseOutputFile(readFileSync(env.GITHUB_OUTPUT as string, 'utf8')) : {}, summary: readFileSync(env.GITHUB_STEP_SUMMARY as string, 'utf8'), stdout, exitCode };
  rmSync(dir, { recursive: true, force: true });
  return result;
}

describe('main run() in process (real registry)', () => {
  let reg: RunningRegistry;
  before(async () => {
    reg = await startRegistry();
    await pushImage({ url: reg.url }, 'main/app', 'amd64', { os: 'linux', architecture: 'amd64' });
    await pushImage({ url: reg.url }, 'main/app', 'arm64', { os: 'linux', architecture: 'arm64', variant: 'v8' });
  });
  after(async () => reg?.stop());

  it('sets exactly the outputs action.yml declares, with the published values, and writes the summary', async () => {
    const result = await runMain({ sources: `${reg.host}/main/app:amd64\n${reg.host}/main/app:arm64`, tags: `${reg.host}/main/app:1` });
    assert.equal(result.exitCode, 0, result.stdout);
    assert.deepEqual(Object.keys(result.outputs).sort(), Object.keys(readActionYml().outputs).sort());
    const got = await getManifestBytes({ url: reg.url }, 'main/app', '1');
    assert.equal(result.outputs.digest, sha256(got.bytes));
    assert.equal(result.outputs.manifest, got.bytes.toString());
    assert.equal(result.outputs['media-type'], 'application/vnd.docker.distribution.manifest.list.v2+json');
    assert.equal(result.outputs.platforms, 'linux/amd64,linux/arm64/v8');
    assert.equal(result.outputs.images, `${reg.host}/main/app@${result.outputs.digest}`);
    assert.match(result.summary, /\| linux\/arm64\/v8 \|/);
    assert.match(result.stdout, /^published sha256:[a-f0-9]{64} \(linux\/amd64, linux\/arm64\/v8\)/m);
  });

  it('a failure is one titled error annotation and exit code 1, with no outputs', async () => {
    const result = await runMain({ sources: `${reg.host}/main/app:missing`, tags: `${reg.host}/main/app:2` });
    assert.equal(result.exitCode, 1);
    assert.deepEqual(result.outputs, {});
    const errors = result.stdout.split('\n').filter((l) => l.startsWith('::error'));
    assert.equal(errors.length, 1, result.stdout);
    assert.match(errors[0] as string, /^::error title=Registry error::1 of 1 source\(s\) could not be read/);
  });

  it('outputs that cannot be written after the tags moved: the title says it published (not "Invalid input")', async () => {
    const result = await runMain({ sources: `${reg.host}/main/app:amd64`, tags: `${reg.host}/main/app:3` }, { GITHUB_OUTPUT: join(tmpdir(), 'no-such-dir-for-main-test', 'output') });
    assert.equal(result.exitCode, 1);
    const errors = result.stdout.split('\n').filter((l) => l.startsWith('::error'));
    assert.equal(errors.length, 1, result.stdout);
    assert.match(errors[0] as string, /^::error title=Published%2C but the step outputs failed::published sha256:[a-f0-9]{64} to .*main\/app:3, but the step outputs could not be written/);
    assert.equal((await getManifestBytes({ url: reg.url }, 'main/app', '3')).status, 200);
  });
});
