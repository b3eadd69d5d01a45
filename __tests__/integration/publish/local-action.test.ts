/**
 * @github/local-action (GitHub's tool for running an action on a developer's machine) runs this
 * action and shows its outputs. It finds the action's own @actions/core with `npm ls` and stubs
 * that copy (its lib/core.js) before it imports src/main.ts and calls run(): this passes only
 * when every output goes through @actions/core (src/log.ts), as on the runner.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { projectRoot } from '../../helpers/action.ts';
import { getManifestBytes, pushImage, sha256 } from '../../helpers/images.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';

/** The rows of the "Action Outputs" table local-action prints (console.table: `│ i │ 'name' │ 'value' │`). */
function outputsTable(stdout: string): Record<string, string> {
  const at = stdout.lastIndexOf('Action Outputs');
  assert.ok(at >= 0, `no "Action Outputs" section in:\n${stdout.slice(-2000)}`);
  const rows: Record<string, string> = {};
  for (const line of stdout.slice(at).split('\n')) {
    const m = /^│\s*\d+\s*│\s*'([^']*)'\s*│\s*'(.*)'\s*│$/.exec(line.trim());
    if (m) rows[m[1] as string] = m[2] as string;
  }
  return rows;
}

describe('@github/local-action runs the action (real registry)', () => {
  let reg: RunningRegistry;
  let dir: string;
  before(async () => {
    reg = await startRegistry();
    await pushImage({ url: reg.url }, 'local/app', 'amd64', { os: 'linux', architecture: 'amd64' });
    await pushImage({ url: reg.url }, 'local/app', 'arm64', { os: 'linux', architecture: 'arm64', variant: 'v8' });
    dir = mkdtempSync(join(tmpdir(), 'local-action-'));
  });
  after(async () => {
    await reg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('publishes, and prints the outputs the action set', async () => {
    const dotenv = join(dir, '.env');
    const summary = join(dir, 'summary');
    writeFileSync(dotenv, '');
    writeFileSync(summary, '');
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('INPUT_') && !k.startsWith('GITHUB_')) env[k] = v;
    Object.assign(env, {
      // This Node first on PATH: local-action starts `npm exec tsx`, which runs `node`.
      PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`,
      INPUT_SOURCES: `${reg.host}/local/app:amd64\n${reg.host}/local/app:arm64`,
      INPUT_TAGS: `${reg.host}/local/app:1`,
      GITHUB_STEP_SUMMARY: summary,
      DOCKER_CONFIG: join(dir, 'no-docker-config'),
      NO_COLOR: '1',
    });
    const bin = join(projectRoot, 'node_modules', '@github', 'local-action', 'bin', 'local-action.js');
    const child = spawn(process.execPath, [bin, 'run', '.', 'src/main.ts', dotenv], { cwd: projectRoot, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
    assert.equal(code, 0, `${stdout.slice(-3000)}\n${stderr.slice(-3000)}`);
    assert.doesNotMatch(stdout, /No outputs were set!/);

    const outputs = outputsTable(stdout);
    const pushed = await getManifestBytes({ url: reg.url }, 'local/app', '1');
    assert.equal(pushed.status, 200);
    assert.equal(outputs.digest, sha256(pushed.bytes));
    assert.equal(outputs['media-type'], 'application/vnd.docker.distribution.manifest.list.v2+json');
    assert.equal(outputs.platforms, 'linux/amd64,linux/arm64/v8');
    assert.equal(outputs.images, `${reg.host}/local/app@${sha256(pushed.bytes)}`);
    assert.equal(outputs.tags, `${reg.host}/local/app:1`);
    // The job summary went through local-action's stub of core.summary into the file it names.
    assert.match(readFileSync(summary, 'utf8'), /\| linux\/arm64\/v8 \|/);
  });
});
