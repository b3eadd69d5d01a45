/**
 * start: the cold start (issue 18's "first request ≤ 40 ms after process start"), three programs
 * alternating in one loop, BENCH_START_RUNS rounds (default 15), each a fresh process started the
 * way the runner starts the action (`node <file>`), against a plain-HTTP registry on loopback
 * without added latency:
 * - Node alone: an ES module printing performance.now() (what Node spends before any code runs);
 * - the undici floor: scripts/bench/undici-floor.mjs bundled with ncc (undici's pool and request
 *   API, nothing of the action), reporting when its one GET was issued;
 * - the action (dist/index.js, N = 4), reporting its first request (`first request … ms after start`).
 * Times are from the process's own clock (performance.timeOrigin: the process start).
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runAction } from '../../__tests__/helpers/action.ts';
import { pushImage } from '../../__tests__/helpers/images.ts';
import { startRegistry } from '../../__tests__/helpers/registry.ts';

const exec = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;

export async function benchStart(median: (xs: number[]) => number): Promise<void> {
  const runs = Number(process.env.BENCH_START_RUNS ?? 15);
  const dir = mkdtempSync(join(tmpdir(), 'bench-start-'));
  const reg = await startRegistry({ logLevel: 'warn' });
  try {
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
    writeFileSync(join(dir, 'node-alone.js'), 'console.log(`at ${Math.round(performance.now())} ms`);\n');
    execFileSync(join(root, 'node_modules', '.bin', 'ncc'), ['build', join(root, 'scripts', 'bench', 'undici-floor.mjs'), '-o', join(dir, 'floor'), '--minify', '--quiet'], { cwd: root });
    const floorEntry = join(dir, 'floor', 'index.mjs');
    const sources: string[] = [];
    for (const [i, architecture] of ['amd64', 'arm64', 'arm', '386'].entries()) {
      await pushImage({ url: reg.url }, 'bench/start', `a${i}`, { os: 'linux', architecture });
      sources.push(`${reg.host}/bench/start:a${i}`);
    }
    console.log(`\n## start: cold start, ${runs} rounds, plain-HTTP registry on loopback; load average at start ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
    const rows: string[] = [];
    const tally: Record<string, number[]> = { node: [], floor: [], action: [] };
    const number = (text: string, re: RegExp) => Number(re.exec(text)?.[1] ?? Number.NaN);
    for (let r = 0; r < runs; r++) {
      const node = number((await exec(process.execPath, [join(dir, 'node-alone.js')])).stdout, /at (\d+) ms/);
      const floor = number((await exec(process.execPath, [floorEntry], { env: { ...process.env, FLOOR_URL: reg.url } })).stdout, /first request (\d+) ms/);
      const run = await runAction({ sources: sources.join('\n'), tags: `${reg.host}/bench/start:t${r}` });
      if (run.code !== 0) throw new Error(`action failed: ${run.stdout}`);
      const action = number(run.stdout, /first request (\d+) ms/);
      tally.node?.push(node);
      tally.floor?.push(floor);
      tally.action?.push(action);
      rows.push(`| ${r + 1} | ${node} | ${floor} | ${action} |`);
    }
    console.log('| program | median (ms after process start) | min | max |');
    console.log('| --- | --- | --- | --- |');
    const names: Record<string, string> = { node: 'Node alone: first line of an ES module runs', floor: 'undici floor: its one GET issued', action: 'the action: first request issued' };
    for (const [k, xs] of Object.entries(tally)) console.log(`| ${names[k]} | ${median(xs)} | ${Math.min(...xs)} | ${Math.max(...xs)} |`);
    console.log(`\nload average at end ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n\nRaw rows:\n\n| round | Node alone (ms) | undici floor (ms) | action first request (ms) |\n| --- | --- | --- | --- |`);
    for (const row of rows) console.log(row);
  } finally {
    await reg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
