/**
 * copy (issue 26): two real registries on loopback (the target with basic auth), two per-arch
 * images of 4 incompressible layers each, BENCH_COPY_MIB in total (default 256,1024: one table per
 * size), BENCH_COPY_RUNS rounds (default 5). Each round runs three copies of the same two images,
 * each into a fresh target registry, in an order that rotates with the round:
 * - the action (`node dist/index.js`), its peak RSS as it reports it (VmHWM);
 * - `skopeo copy --all`, one process per image, both side by side; peak RSS per process
 *   (`/usr/bin/time`);
 * - the floor: for every blob of both images at once, curl piping the blob's GET straight into a
 *   monolithic PUT with its Content-Length (no verification: the registry checks the digest), then
 *   the two manifests.
 * - the Node floor (`scripts/bench/undici-copy-floor.mjs`, bundled with ncc as the action is): the
 *   same copy in one Node 24 process through undici's public API and nothing else (each GET's body
 *   piped into its PUT, no verification); its peak RSS is the floor of any Node program streaming
 *   these bytes without a forced collection or a V8 flag.
 * BENCH_COPY_VARIANTS=name=path,… runs other builds of the action in the same rotation (an
 * experiment against dist/index.js, paired round by round).
 * Ratios are taken within each round (action / floor, skopeo / floor) and their median reported:
 * the disk under the registries drifts between rounds more than the tools differ.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { isAbsolute, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot, runAction } from '../../__tests__/helpers/action.ts';
import { type Pushed, pushImage } from '../../__tests__/helpers/images.ts';
import { type RunningRegistry, startRegistry } from '../../__tests__/helpers/registry.ts';

const exec = promisify(execFile);
const USER = 'bench';
const PASSWORD = 'bench-password';
const AUTH = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
const ARCHES = [
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64', variant: 'v8' },
];
const LAYERS_PER_IMAGE = 4;

interface Round {
  /** By tool: the action's variants, 'skopeo', 'floor'. */
  ms: Record<string, number>;
  rss: Record<string, number>;
}

/** The action's builds to run: `action` (dist/index.js) and any BENCH_COPY_VARIANTS. */
function variants(): Map<string, string> {
  const list = new Map([['action', 'dist/index.js']]);
  for (const v of (process.env.BENCH_COPY_VARIANTS ?? '').split(',').filter(Boolean)) {
    const [name, path] = v.split('=');
    if (!name || !path) throw new Error(`BENCH_COPY_VARIANTS: ${v} is not name=path`);
    list.set(name, isAbsolute(path) ? relative(projectRoot, path) : path);
  }
  return list;
}

export async function benchCopy(median: (xs: number[]) => number): Promise<void> {
  const sizes = (process.env.BENCH_COPY_MIB ?? '256,1024').split(',').map(Number);
  const runs = Number(process.env.BENCH_COPY_RUNS ?? 5);
  for (const totalMiB of sizes) await benchSize(totalMiB, runs, median);
}

async function benchSize(totalMiB: number, runs: number, median: (xs: number[]) => number): Promise<void> {
  const layerBytes = Math.floor((totalMiB * 1048576) / (ARCHES.length * LAYERS_PER_IMAGE));
  const source = await startRegistry({ logLevel: 'warn' });
  const images: Pushed[] = [];
  for (const [i, p] of ARCHES.entries()) {
    const layers = Array.from({ length: LAYERS_PER_IMAGE }, () => randomBytes(layerBytes));
    images.push(await pushImage({ url: source.url }, 'big/app', `a${i}`, { ...p, layers }));
  }
  console.log(
    `\n## copy: ${ARCHES.length} images × ${LAYERS_PER_IMAGE} incompressible layers of ${(layerBytes / 1048576).toFixed(0)} MiB (${totalMiB} MiB), registry A → registry B (basic auth), ${runs} rounds; load average at start ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`,
  );
  const rounds: Round[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'bench-copy-'));
  const actions = variants();
  const tools = [...actions.keys(), 'skopeo', 'node-floor', 'floor'];
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
  execFileSync(join(projectRoot, 'node_modules', '.bin', 'ncc'), ['build', join(projectRoot, 'scripts', 'bench', 'undici-copy-floor.mjs'), '-o', join(dir, 'node-floor'), '--minify', '--quiet'], { cwd: projectRoot });
  try {
    for (let r = 0; r < runs; r++) {
      const round: Round = { ms: {}, rss: {} };
      for (let k = 0; k < tools.length; k++) {
        const tool = tools[(k + r) % tools.length] as string;
        const target = await startRegistry({ htpasswd: { username: USER, password: PASSWORD }, logLevel: 'warn' });
        try {
          const entry = actions.get(tool);
          if (entry) {
            const run = await runAction(
              { sources: ARCHES.map((_, i) => `${source.host}/big/app:a${i}`).join('\n'), tags: `${target.host}/big/app:v1`, username: USER, password: PASSWORD },
              { DOCKER_CONFIG: dir },
              entry,
            );
            if (run.code !== 0) throw new Error(`${tool} failed: ${run.stdout}`);
            round.ms[tool] = run.ms;
            round.rss[tool] = Number(/peak RSS ([\d.]+) MiB/.exec(run.stdout)?.[1]);
          } else if (tool === 'skopeo') {
            const t0 = performance.now();
            const rss = await Promise.all(ARCHES.map((_, i) => skopeoCopy(`${source.host}/big/app:a${i}`, `${target.host}/big/app:v1-${i}`, join(dir, `time-${i}`))));
            round.ms.skopeo = Math.round(performance.now() - t0);
            round.rss.skopeo = Math.max(...rss) / 1024;
          } else if (tool === 'node-floor') {
            const t0 = performance.now();
            const { stdout } = await exec(process.execPath, [join(dir, 'node-floor', 'index.mjs')], { env: { ...process.env, FLOOR_JOB: floorJob(source, target, images) } });
            round.ms[tool] = Math.round(performance.now() - t0);
            round.rss[tool] = Number(/peak RSS ([\d.]+) MiB/.exec(stdout)?.[1]);
          } else {
            const t0 = performance.now();
            await Promise.all(images.map((image) => floorCopy(source, target, image)));
            round.ms.floor = Math.round(performance.now() - t0);
          }
        } finally {
          await target.stop();
        }
      }
      rounds.push(round);
    }
  } finally {
    await source.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const ms = (tool: string) => median(rounds.map((x) => x.ms[tool] as number));
  const ratio = (tool: string) => median(rounds.map((x) => (x.ms[tool] as number) / (x.ms.floor as number))).toFixed(2);
  const peak = (tool: string) => Math.max(...rounds.map((x) => x.rss[tool] as number)).toFixed(1);
  const mibs = (t: number) => (totalMiB / (t / 1000)).toFixed(0);
  const label = (tool: string) =>
    tool === 'skopeo'
      ? 'skopeo copy --all (a process per image, side by side)'
      : tool === 'floor'
        ? 'floor: curl GET piped into a monolithic PUT, every blob at once'
        : tool === 'node-floor'
          ? 'Node floor: the same in one Node process, undici only, no verification'
          : tool;
  console.log('| tool | median (ms) | MiB/s | / floor (median of per-round ratios) | peak RSS (MiB, max of rounds) |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const tool of tools) {
    const rss = tool === 'floor' ? '' : tool === 'skopeo' ? `${peak(tool)} per process` : peak(tool);
    console.log(`| ${label(tool)} | ${ms(tool)} | ${mibs(ms(tool))} | ${tool === 'floor' ? '1' : ratio(tool)} | ${rss} |`);
  }
  console.log(`\nRounds (ms, peak RSS in MiB):\n\n| round | ${tools.join(' | ')} | ${tools.filter((t) => t !== 'floor').map((t) => `${t} / floor`).join(' | ')} | ${tools.filter((t) => t !== 'floor').map((t) => `${t} RSS`).join(' | ')} |`);
  console.log(`| ${Array.from({ length: 3 * tools.length - 1 }, () => '---').join(' | ')} |`);
  rounds.forEach((x, r) => {
    const others = tools.filter((t) => t !== 'floor');
    console.log(
      `| ${r + 1} | ${tools.map((t) => x.ms[t]).join(' | ')} | ${others.map((t) => ((x.ms[t] as number) / (x.ms.floor as number)).toFixed(2)).join(' | ')} | ${others.map((t) => (x.rss[t] as number).toFixed(1)).join(' | ')} |`,
    );
  });
}

/** One `skopeo copy --all`; its peak RSS in KiB. */
async function skopeoCopy(from: string, to: string, timeFile: string): Promise<number> {
  await exec(
    '/usr/bin/time',
    ['-f', '%M', '-o', timeFile, 'skopeo', 'copy', '--all', '--preserve-digests', '--src-tls-verify=false', '--dest-tls-verify=false', '--dest-creds', `${USER}:${PASSWORD}`, `docker://${from}`, `docker://${to}`],
    { maxBuffer: 1 << 26 },
  );
  return Number(readFileSync(timeFile, 'utf8').trim().split('\n').pop());
}

/** The Node floor's job: both images' blobs and manifests, as scripts/bench/undici-copy-floor.mjs reads it. */
function floorJob(source: RunningRegistry, target: RunningRegistry, images: Pushed[]): string {
  return JSON.stringify({
    source: source.url,
    target: target.url,
    authorization: AUTH,
    repository: 'big/app',
    images: images.map((image) => {
      const manifest = JSON.parse(image.bytes.toString()) as { config: { digest: string; size: number }; layers: { digest: string; size: number }[] };
      return { digest: image.digest, mediaType: image.mediaType, manifest: image.bytes.toString('base64'), blobs: [manifest.config, ...manifest.layers] };
    }),
  });
}

/** The floor: each blob's GET piped by curl into a monolithic PUT, all blobs at once; then the manifest. */
async function floorCopy(source: RunningRegistry, target: RunningRegistry, image: Pushed): Promise<void> {
  const manifest = JSON.parse(image.bytes.toString()) as { config: { digest: string; size: number }; layers: { digest: string; size: number }[] };
  await Promise.all(
    [manifest.config, ...manifest.layers].map(async (blob) => {
      const start = await fetch(`${target.url}/v2/big/app/blobs/uploads/`, { method: 'POST', headers: { authorization: AUTH } });
      await start.arrayBuffer();
      const location = new URL(start.headers.get('location') as string, target.url);
      location.searchParams.set('digest', blob.digest);
      await pipeline(
        `curl -sf ${source.url}/v2/big/app/blobs/${blob.digest} | curl -sf -u ${USER}:${PASSWORD} -X PUT -T - -H 'Transfer-Encoding:' -H 'Expect:' -H 'Content-Length: ${blob.size}' -H 'Content-Type: application/octet-stream' '${location.toString()}'`,
      );
    }),
  );
  const put = await fetch(`${target.url}/v2/big/app/manifests/${image.digest}`, {
    method: 'PUT',
    headers: { authorization: AUTH, 'content-type': image.mediaType },
    body: new Uint8Array(image.bytes),
  });
  if (put.status !== 201) throw new Error(`floor: manifest PUT ${put.status}`);
}

function pipeline(script: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `set -o pipefail; ${script}`], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`floor: ${script} exited ${code}`))));
  });
}
