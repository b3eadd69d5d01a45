/**
 * A run that fails after its tags moved says so (the attack review): the summary cannot be
 * written (dist/, as the runner runs it, with a summary path that cannot be written).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runAction } from '../../helpers/action.ts';
import { getManifestBytes, pushImage } from '../../helpers/images.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';

describe('attack: a run that fails after its tags moved says so', () => {
  let reg: RunningRegistry;
  before(async () => {
    reg = await startRegistry();
    await pushImage({ url: reg.url }, 'app', 'amd64', { os: 'linux', architecture: 'amd64' });
  });
  after(async () => {
    await reg?.stop();
  });

  it('a job summary that cannot be written after the tags moved: the failure says the tags moved', async () => {
    // The step summary file is the runner's; one that is missing (a container step, a runner bug,
    // a full disk) fails core.summary.write after phase 2 has moved every tag.
    const run = await runAction({ sources: `${reg.host}/app:amd64`, tags: `${reg.host}/app:moved` }, { GITHUB_STEP_SUMMARY: '/nonexistent-dir/summary' });
    const moved = (await getManifestBytes({ url: reg.url }, 'app', 'moved')).status === 200;
    assert.ok(moved, 'the tag was written');
    const error = run.stdout.split('\n').find((l) => l.startsWith('::error')) ?? '';
    // Either the run succeeds (the summary is best effort), or its failure names the moved tag.
    assert.ok(run.code === 0 || /app:moved/.test(error), `the run failed with a line that does not say the tag moved: ${error}`);
  });
});
