/**
 * The demo behind `npm run demo`: a real registry on a free loopback port, four per-arch images,
 * the bundled action run as the runner runs it, and the result read back.
 */
import { execFileSync } from 'node:child_process';
import { runAction } from '../__tests__/helpers/action.ts';
import { pushImage } from '../__tests__/helpers/images.ts';
import { startRegistry } from '../__tests__/helpers/registry.ts';

const platforms = [
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64', variant: 'v8' },
  { os: 'linux', architecture: 'arm', variant: 'v7' },
  { os: 'linux', architecture: 's390x' },
];

const reg = await startRegistry();
try {
  console.log(`registry: ${reg.url} (storage ${reg.dir})`);
  for (const p of platforms) {
    const tag = `build-${p.architecture}${p.variant ?? ''}`;
    const pushed = await pushImage({ url: reg.url }, 'demo/app', tag, p);
    console.log(`pushed ${reg.host}/demo/app:${tag}  ${pushed.digest}`);
  }
  const inputs = {
    sources: platforms.map((p) => `${reg.host}/demo/app:build-${p.architecture}${p.variant ?? ''}`).join('\n'),
    tags: `${reg.host}/demo/app:1.0.0\n${reg.host}/demo/app:latest`,
  };
  console.log('\n$ node dist/index.js   # with INPUT_SOURCES, INPUT_TAGS, GITHUB_OUTPUT set as the runner sets them');
  const run = await runAction(inputs);
  // As the job log shows it: ::debug:: lines only under step debug logging (RUNNER_DEBUG=1 npm run demo).
  const shown = process.env.RUNNER_DEBUG === '1' ? run.stdout : run.stdout.replace(/^::debug::.*\n/gm, '');
  process.stdout.write(shown.replace(/^(?=.)/gm, '  | '));
  if (run.code !== 0) throw new Error(`the action failed (exit ${run.code}); the ::error line above says why`);
  console.log(`\ndigest:     ${run.outputs.digest}`);
  console.log(`media-type: ${run.outputs['media-type']}`);
  console.log(`platforms:  ${run.outputs.platforms}`);
  console.log(`images:     ${run.outputs.images}`);
  console.log(`time:       ${run.ms} ms (fresh node process)`);
  try {
    const out = execFileSync('docker', ['manifest', 'inspect', '--insecure', `${reg.host}/demo/app:1.0.0`], {
      env: { ...process.env, DOCKER_CONFIG: reg.dir },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const list = JSON.parse(out.toString());
    console.log(`\ndocker manifest inspect reads ${list.manifests.length} platforms: ${list.manifests.map((m: any) => [m.platform.os, m.platform.architecture, m.platform.variant].filter(Boolean).join('/')).join(', ')}`);
  } catch {
    console.log('\n(docker CLI not available: skipped docker manifest inspect)');
  }
} catch (e) {
  console.error(`demo: ${(e as Error).message}`);
  process.exitCode = 1;
} finally {
  await reg.stop();
}
