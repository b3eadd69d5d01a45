/**
 * Copies bounded by what a descriptor declares (the attack review): a scripted hostile source
 * registry on loopback serves a layer without end, or drips one declared as hundreds of GB; a real
 * registry is the target. The last case runs dist/ so that a run that hangs can be killed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ActionRun, projectRoot } from '../../helpers/action.ts';
import { runInProcess } from '../../helpers/in-process.ts';
import { type Answer, type ScriptedServer, startScriptedServer } from '../../helpers/hostile-servers.ts';
import { startFaultProxy } from '../../helpers/fault-proxy.ts';
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
  let blobAnswer: 'endless' | 'drip' | 'break' = 'endless';
  before(async () => {
    target = await startRegistry();
    source = await startScriptedServer((req, res): Answer | undefined => {
      if (req.url === '/v2/app/manifests/t') return { status: 200, headers: { 'content-type': OCI_MANIFEST, 'docker-content-digest': sha(image.manifest) }, body: req.method === 'HEAD' ? undefined : image.manifest };
      if (req.url === `/v2/app/manifests/${sha(image.manifest)}`) return { status: 200, headers: { 'content-type': OCI_MANIFEST }, body: image.manifest };
      if (req.url === `/v2/app/blobs/${image.configDigest}`) return { status: 200, headers: { 'content-type': 'application/octet-stream' }, body: image.config };
      if (req.url === `/v2/app/blobs/${image.layerDigest}`) {
        if (blobAnswer === 'break') {
          // The declared size announced, a few bytes sent, then the connection broken off.
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(image.config.length + 1024) });
          res.write(Buffer.alloc(16, 0x61));
          setTimeout(() => res.socket?.destroy(), 20);
          return undefined;
        }
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

  it('a layer broken off before its upload takes it fails the run with one error line, not an uncaught exception', async () => {
    // The target opens upload sessions slowly (a loaded registry): the source's GET, sent beside the
    // session's POST, is answered and broken off while the upload cannot take its body yet. Nothing
    // listened to that failure: the process died of an uncaught exception, its stack on stderr.
    image = hostileImage(image.config.length + 1024);
    blobAnswer = 'break';
    const slow = await startFaultProxy(target.url, (r) => (r.method === 'POST' && r.url.includes('/blobs/uploads/') ? { kind: 'delay', ms: 300 } : undefined));
    try {
      const run = await runInProcess({ sources: `${source.host}/app:t`, tags: `${slow.host}/app:v4`, retries: '0' });
      assert.notEqual(run.code, 0, run.stdout);
      // One line naming the source that broke off, not the target's upload it was feeding.
      const error = run.stdout.split('\n').find((l) => l.startsWith('::error')) ?? '';
      assert.ok(error.includes(`blob ${image.layerDigest} from ${source.host}/app broke off after 16 of ${image.config.length + 1024} bytes`), run.stdout);
      assert.doesNotMatch(run.stdout, /PUT http:\/\/[^ ]+ failed after 1 attempt: UND_ERR_SOCKET/, 'the target is not blamed for the source breaking off');
    } finally {
      await slow.stop();
    }
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
