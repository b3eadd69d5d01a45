/**
 * Security review (attack branch): failing tests for breaks found by the attacker review. Each
 * drives the action (run() in process; the bundled one where a hang must be killed) against a
 * scripted hostile source registry on loopback (what a source registry the workflow author does
 * not control may send) and a real registry as the target.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ActionRun, projectRoot, runAction } from '../../helpers/action.ts';
import { runInProcess } from '../../helpers/in-process.ts';
import { type Answer, type ScriptedServer, startScriptedServer } from '../../helpers/hostile-servers.ts';
import { getManifestBytes, pushImage, putManifest } from '../../helpers/images.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/** A hostile source image: a real config, and one layer whose descriptor claims `layerSize` bytes. */
function hostileImage(layerSize: number, layerDigest = sha('never-served')) {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: layerSize }],
    }),
  );
  return { config, manifest, configDigest: sha(config), layerDigest };
}

/**
 * Runs the bundled action like runAction, but kills it after `killAfterMs` (a run that would hang):
 * returns how long it ran and whether it had to be killed.
 */
async function runWithKill(inputs: Record<string, string>, killAfterMs: number): Promise<{ killed: boolean; ms: number; stdout: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'attack-run-'));
  writeFileSync(join(dir, 'output'), '');
  writeFileSync(join(dir, 'summary'), '');
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('INPUT_') && !k.startsWith('GITHUB_')) env[k] = v;
  Object.assign(env, { GITHUB_OUTPUT: join(dir, 'output'), GITHUB_STEP_SUMMARY: join(dir, 'summary'), RUNNER_TEMP: dir, DOCKER_CONFIG: join(dir, 'none') });
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
  const started = Date.now();
  const child = spawn(process.execPath, [join(projectRoot, 'dist/index.js')], { env, cwd: projectRoot });
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stdout += d));
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill('SIGKILL');
  }, killAfterMs);
  await new Promise((r) => child.on('close', r));
  clearTimeout(timer);
  return { killed, ms: Date.now() - started, stdout };
}

describe('attack: a blob copy is bounded by what its descriptor declares', () => {
  let target: RunningRegistry;
  let source: ScriptedServer;
  let served = 0;
  let image = hostileImage(8);
  let blobAnswer: 'endless' | 'drip' = 'endless';
  before(async () => {
    target = await startRegistry();
    source = await startScriptedServer((req, res): Answer | undefined => {
      if (req.url === '/v2/app/manifests/t') return { status: 200, headers: { 'content-type': OCI_MANIFEST, 'docker-content-digest': sha(image.manifest) }, body: req.method === 'HEAD' ? undefined : image.manifest };
      if (req.url === `/v2/app/manifests/${sha(image.manifest)}`) return { status: 200, headers: { 'content-type': OCI_MANIFEST }, body: image.manifest };
      if (req.url === `/v2/app/blobs/${image.configDigest}`) return { status: 200, headers: { 'content-type': 'application/octet-stream' }, body: image.config };
      if (req.url === `/v2/app/blobs/${image.layerDigest}`) {
        // Chunked, never ending: as fast as the client reads, or one byte a second.
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        const piece = Buffer.alloc(64 * 1024, 0x61);
        let stop = false;
        res.on('close', () => (stop = true));
        const pump = () => {
          if (stop) return;
          if (blobAnswer === 'drip') {
            res.write('a');
            served += 1;
            setTimeout(pump, 500);
            return;
          }
          while (!stop && res.write(piece)) served += piece.length;
          served += piece.length;
          if (!stop) res.once('drain', pump);
        };
        pump();
        return undefined;
      }
      return { status: 404, headers: { 'content-type': 'application/json' }, body: '{"errors":[{"code":"NOT_FOUND"}]}' };
    });
  });
  after(async () => {
    await source?.stop();
    await target?.stop();
  });

  it('a layer declared as 8 bytes and served without end is not streamed into the target past its size', async () => {
    served = 0;
    image = hostileImage(8);
    blobAnswer = 'endless';
    // timeout 2: the blob GET's deadline is 2 × 2 s plus 8 bytes' worth.
    const run: ActionRun = await runInProcess({ sources: `${source.host}/app:t`, tags: `${target.host}/app:v1`, timeout: '2', retries: '0' });
    assert.notEqual(run.code, 0);
    // A copy that checks the declared size stops at the first chunk past it. What the server counts
    // as served includes what loopback's socket buffers absorb before the connection closes (a few
    // MiB); before the check the action read 186 MiB and sent it on to the target in chunks.
    assert.ok(served < 16 * 1024 * 1024, `the action read ${(served / 1048576).toFixed(0)} MiB of a blob declared as 8 bytes, and sent it on to the target in chunks`);
    assert.match(run.stdout, /SIZE_INVALID|more than the 8 bytes its descriptor declares/, run.stdout);
  });

  it('a layer declared as 600 GB: no Node warning on stderr, and no deadline that fires after 1 ms', async () => {
    served = 0;
    image = hostileImage(600e9);
    blobAnswer = 'drip';
    // 2 s + 600e9 B / 256 KiB/s = 2 288 820 360 ms: past setTimeout's 2^31-1, which Node replaces
    // by 1 ms with a TimeoutOverflowWarning written straight to stderr (not through log.ts).
    const run = await runInProcess({ sources: `${source.host}/app:t`, tags: `${target.host}/app:v2`, timeout: '1', retries: '0' });
    assert.doesNotMatch(run.stderr, /TimeoutOverflowWarning|\(node:\d+\)/, run.stderr);
    assert.doesNotMatch(run.stdout, /no complete answer within 2288820\.4 s/, 'the error claims a 26-day wait after about a millisecond');
  });

  it('a layer declared as 500 GB and dripped one byte every 0.5 s does not hold the run past its timeouts', async () => {
    served = 0;
    image = hostileImage(500e9);
    blobAnswer = 'drip';
    // 2 s + 500e9 B / 256 KiB/s ≈ 22 days: inside setTimeout's range, so the deadline is real and
    // the attacker's. The run should end within a few seconds of its 1 s timeout.
    const run = await runWithKill({ sources: `${source.host}/app:t`, tags: `${target.host}/app:v3`, timeout: '1', retries: '0' }, 30_000);
    assert.equal(run.killed, false, `the run was still going after ${run.ms} ms with a 1 s timeout (${served} bytes dripped)`);
  });
});


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

describe('attack: the manifest output is the index as pushed', () => {
  let reg: RunningRegistry;
  before(async () => {
    reg = await startRegistry();
    const image = await pushImage({ url: reg.url }, 'app', 'amd64', { os: 'linux', architecture: 'amd64', format: 'oci' });
    // A source index whose entry carries annotations with characters JSON.stringify keeps raw.
    const index = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: image.mediaType,
          digest: image.digest,
          size: image.size,
          platform: { os: 'linux', architecture: 'amd64' },
          annotations: { 'org.opencontainers.image.title': 'a\u2028b\u0085c\u202ed' },
        },
      ],
    };
    await putManifest({ url: reg.url }, 'app', 'src', Buffer.from(JSON.stringify(index)), 'application/vnd.oci.image.index.v1+json');
  });
  after(async () => {
    await reg?.stop();
  });

  it('outputs.manifest hashes to outputs.digest when a copied annotation holds U+2028, U+0085 or U+202E', async () => {
    const run = await runInProcess({ sources: `${reg.host}/app:src`, tags: `${reg.host}/app:out` });
    assert.equal(run.code, 0, run.stdout);
    const pushed = await getManifestBytes({ url: reg.url }, 'app', 'out');
    assert.equal(sha(pushed.bytes), run.outputs.digest);
    assert.equal(sha(Buffer.from(run.outputs.manifest ?? '')), run.outputs.digest, `manifest output ${run.outputs.manifest}\nis not the pushed index ${pushed.bytes.toString()}`);
  });
});

describe('attack: a token server does not choose what the job log masks', () => {
  let realm: ScriptedServer;
  let source: ScriptedServer;
  before(async () => {
    realm = await startScriptedServer(() => ({ status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'sha256\nlinux\nerror', expires_in: 300 }) }));
    source = await startScriptedServer((req): Answer =>
      req.authorization?.startsWith('Bearer ')
        ? { status: 404, headers: { 'content-type': 'application/json' }, body: '{"errors":[{"code":"MANIFEST_UNKNOWN"}]}' }
        : { status: 401, headers: { 'www-authenticate': `Bearer realm="${realm.url}/token",service="x"` } },
    );
  });
  after(async () => {
    await source?.stop();
    await realm?.stop();
  });

  it("a source registry's token server cannot make the runner mask common words in the rest of the job's log", async () => {
    // Anonymous pull: no credential of the workflow's is involved, only what the source's realm sent.
    const run = await runInProcess({ sources: `${source.host}/app:t`, tags: `${source.host}/app:v1` });
    const masks = run.stdout.split('\n').filter((l) => l.startsWith('::add-mask::'));
    // Every later "sha256", "linux" and "error" in the job's log (every step after this one too) would read ***.
    assert.deepEqual(masks, [], masks.join('\n'));
  });
});

describe("attack: a source's Content-Type does not become a descriptor media type unchecked", () => {
  let target: RunningRegistry;
  let source: ScriptedServer;
  const EVIL_TYPE = 'x/<img src=x onerror=alert(1)>|::error::owned';
  before(async () => {
    target = await startRegistry();
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
    // An OCI image manifest may omit mediaType: the kind then comes from Content-Type.
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length }, layers: [] }));
    source = await startScriptedServer((req) => {
      if (req.url === '/v2/app/manifests/t' || req.url === `/v2/app/manifests/${sha(manifest)}`) return { status: 200, headers: { 'content-type': EVIL_TYPE }, body: req.method === 'HEAD' ? undefined : manifest };
      if (req.url === `/v2/app/blobs/${sha(config)}`) return { status: 200, body: config };
      return { status: 404, body: '' };
    });
  });
  after(async () => {
    await source?.stop();
    await target?.stop();
  });

  it('a dry run refuses the source instead of putting the header into the index (outputs.manifest)', async () => {
    const run = await runInProcess({ sources: `${source.host}/app:t`, tags: `${target.host}/app:v1`, push: 'false' });
    assert.ok(!(run.outputs.manifest ?? '').includes('onerror'), `the index carries the Content-Type as a media type:\n${run.outputs.manifest}`);
  });
});

describe('attack: a credential helper cannot hold the run past its 60 s limit', () => {
  let reg: RunningRegistry;
  before(async () => {
    reg = await startRegistry({ htpasswd: { username: 'u', password: 'longsecret' } });
    await pushImage({ url: reg.url, authorization: `Basic ${Buffer.from('u:longsecret').toString('base64')}` }, 'app', 'amd64', { os: 'linux', architecture: 'amd64' });
  });
  after(async () => {
    await reg?.stop();
  });

  it('a helper whose background child keeps stdout open: the run ends within the helper timeout', { timeout: 150_000 }, async () => {
    const { chmodSync } = await import('node:fs');
    const bin = mkdtempSync(join(tmpdir(), 'attack-helper-'));
    // Answers at once, but leaves a child (an agent it started) holding its stdout for 120 s.
    writeFileSync(join(bin, 'docker-credential-agent'), '#!/bin/sh\nsleep 120 &\necho \'{"Username":"u","Secret":"longsecret"}\'\nexit 0\n');
    chmodSync(join(bin, 'docker-credential-agent'), 0o755);
    const config = mkdtempSync(join(tmpdir(), 'attack-config-'));
    writeFileSync(join(config, 'config.json'), JSON.stringify({ credsStore: 'agent' }));
    const started = Date.now();
    const run = await runInProcess({ sources: `${reg.host}/app:amd64`, tags: `${reg.host}/app:helper` }, { DOCKER_CONFIG: config, PATH: `${bin}:${process.env.PATH}` });
    const ms = Date.now() - started;
    assert.ok(ms < 70_000, `the run took ${Math.round(ms / 1000)} s: the helper answered at once and its limit is 60 s (exit code ${run.code})`);
  });
});
