/**
 * Benchmarks (npm run bench). Not timed tests: figures for BENCHMARKS.md.
 *
 * latency: a real registry behind a TCP proxy adding a round trip (BENCH_RTT_MS, default 50);
 *   N per-arch images (BENCH_N, default 4,16,64); rounds (BENCH_RUNS, default 7), each running every
 *   N in turn with both tools: the bundled action in a fresh `node dist/index.js` process, and
 *   `docker manifest create --insecure` + `docker manifest push --insecure`. Medians, the ratio
 *   docker / action, and request counts from the registry's access log.
 * copy: the action, skopeo and curl (the floor) copying large images between two registries
 *   (scripts/bench/copy.ts).
 *
 * tls: the profile users publish on: a real registry over TLS (a generated CA, trusted through
 *   NODE_EXTRA_CA_CERTS) with token auth through a token service over TLS on its own port, each
 *   behind a latency proxy (BENCH_TLS_RTT_MS, default 10,20), N per-arch images (BENCH_TLS_N,
 *   default 4,16), rounds (BENCH_TLS_RUNS, default 5). Each round runs, for each RTT and N: the
 *   action over HTTP/2, the action over HTTP/1.1 (MULTIARCH_HTTP1_ONLY), the action against the same
 *   profile over plain HTTP, and `docker manifest` against that plain-HTTP profile (docker talks
 *   plain HTTP to any loopback registry and cannot be timed over TLS here). Connections are counted
 *   per run at each proxy. The TLS registry is reached by this machine's host name (it must resolve
 *   to loopback): the action treats loopback addresses as maybe-plain-HTTP, a host name as HTTPS.
 *
 * start: the cold start against its floors (scripts/bench/start.ts).
 *
 * `node scripts/bench.ts [latency] [copy] [tls] [start]` runs the named parts (default all four).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runAction } from '../__tests__/helpers/action.ts';
import { makeServerCerts } from '../__tests__/helpers/certs.ts';
import { localName } from '../__tests__/helpers/local-name.ts';
import { startTokenIssuer } from '../__tests__/helpers/token-issuer.ts';
import { pushImage } from '../__tests__/helpers/images.ts';
import { startLatencyProxy } from '../__tests__/helpers/latency-proxy.ts';
import { type RunningRegistry, startRegistry } from '../__tests__/helpers/registry.ts';
import { benchCopy } from './bench/copy.ts';
import { benchStart } from './bench/start.ts';

const exec = promisify(execFile);
const parts = process.argv.slice(2).length ? process.argv.slice(2) : ['latency', 'copy', 'tls', 'start'];
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const ARCHES = ['amd64', 'arm64', 'arm', '386', 'ppc64le', 's390x', 'riscv64', 'mips64le', 'loong64', 'mips', 'mipsle', 'mips64', 'ppc64', 'riscv', 's390', 'sparc64'];
const OSES = ['linux', 'windows', 'freebsd', 'netbsd'];

function platformFor(i: number) {
  return { os: OSES[Math.floor(i / ARCHES.length) % OSES.length] as string, architecture: ARCHES[i % ARCHES.length] as string };
}

async function requestsBetween(reg: RunningRegistry, from: number): Promise<number> {
  const to = await reg.mark();
  return to - from - 1; // minus the marker request itself
}

console.log(`# machine: ${cpus().length} × ${cpus()[0]?.model}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`);

if (parts.includes('latency')) {
  const rtt = Number(process.env.BENCH_RTT_MS ?? 50);
  const sizes = (process.env.BENCH_N ?? '4,16,64').split(',').map(Number);
  const runs = Number(process.env.BENCH_RUNS ?? 7);
  // The registry shares this machine's cores with the tools measured, which a remote registry does
  // not; these settings keep its own CPU cost from standing in for network time, for both tools
  // alike. Application log at warn: per-request info lines (the access log that counts requests
  // stays on). GOGC=400: distribution 2.8 reads every blob through a 4 MiB buffer, and with the few
  // MiB of live heap this registry has, Go's default (100) means a collection for every blob
  // served. GODEBUG=madvdontneed=0: between bursts Go hands the heap back to the kernel, and the
  // next burst faults it in again, page by zeroed page; a production registry's heap stays large.
  // BENCH_REGISTRY_GOGC='' and BENCH_REGISTRY_GODEBUG='' run Go's defaults.
  const gogc = process.env.BENCH_REGISTRY_GOGC ?? '400';
  const godebug = process.env.BENCH_REGISTRY_GODEBUG ?? 'madvdontneed=0';
  const reg = await startRegistry({ logLevel: 'warn', env: { ...(gogc ? { GOGC: gogc } : {}), ...(godebug ? { GODEBUG: godebug } : {}) } });
  const proxy = await startLatencyProxy(reg.port, rtt);
  console.log(
    `\n## latency: round trip ${rtt} ms added by a TCP proxy; ${runs} rounds, each running every N with both tools in turn; registry GOGC=${gogc || '(default)'} GODEBUG=${godebug || '(default)'}\n`,
  );
  interface Tally {
    action: number[];
    docker: number[];
    actionRequests: number;
    dockerRequests: number;
    dockerFailures: number;
  }
  const tally = new Map<number, Tally>();
  const rows: string[] = [];
  try {
    for (const n of sizes) {
      for (let i = 0; i < n; i++) await pushImage({ url: reg.url }, `bench/n${n}`, `a${i}`, platformFor(i));
      tally.set(n, { action: [], docker: [], actionRequests: 0, dockerRequests: 0, dockerFailures: 0 });
    }
    // Rounds rather than one N after another: a machine whose speed drifts (shared hosts do) then
    // weighs on every N alike, and the ratio between sizes compares like with like.
    for (let r = 0; r < runs; r++) {
      for (const n of sizes) {
        const t = tally.get(n) as Tally;
        const repo = `bench/n${n}`;
        const sources = Array.from({ length: n }, (_, i) => `${proxy.host}/${repo}:a${i}`);
        let from = await reg.mark();
        const run = await runAction({ sources: sources.join('\n'), tags: `${proxy.host}/${repo}:action-${r}`, ...(process.env.BENCH_CONCURRENCY ? { concurrency: process.env.BENCH_CONCURRENCY } : {}) });
        if (run.code !== 0) throw new Error(`action failed: ${run.stdout}`);
        t.actionRequests = await requestsBetween(reg, from);
        t.action.push(run.ms);
        rows.push(`| ${n} | action | ${r + 1} | ${run.ms} | ${t.actionRequests} |`);

        // docker's registry ping through the proxy occasionally ends in EOF; such an attempt is
        // reported and run again from scratch (fresh DOCKER_CONFIG, fresh tag); it never counts.
        let ms = 0;
        for (let attempt = 1; ; attempt++) {
          const cfg = mkdtempSync(join(tmpdir(), 'docker-bench-'));
          const env = { ...process.env, DOCKER_CONFIG: cfg };
          const tag = `${proxy.host}/${repo}:docker-${r}-${attempt}`;
          from = await reg.mark();
          const t0 = performance.now();
          try {
            await exec('docker', ['manifest', 'create', '--insecure', tag, ...sources], { env });
            await exec('docker', ['manifest', 'push', '--insecure', tag], { env });
            ms = Math.round(performance.now() - t0);
            break;
          } catch (e) {
            const first = String((e as { stderr?: string }).stderr ?? e).split('\n')[0];
            console.error(`docker attempt ${attempt} failed (${first}); running it again`);
            t.dockerFailures++;
            if (attempt === 5) throw e;
          } finally {
            rmSync(cfg, { recursive: true, force: true });
          }
        }
        t.dockerRequests = await requestsBetween(reg, from);
        t.docker.push(ms);
        rows.push(`| ${n} | docker manifest | ${r + 1} | ${ms} | ${t.dockerRequests} |`);
      }
    }
  } finally {
    await proxy.stop();
    await reg.stop();
  }
  console.log('| N | action median (ms) | docker manifest median (ms) | docker / action | action requests | docker requests | docker attempts run again |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const n of sizes) {
    const t = tally.get(n) as Tally;
    const a = median(t.action);
    const d = median(t.docker);
    console.log(`| ${n} | ${a} | ${d} | ${(d / a).toFixed(1)}× | ${t.actionRequests} (limit ${2 * n + 4}) | ${t.dockerRequests} | ${t.dockerFailures} |`);
  }
  if (sizes.length > 1) {
    const first = sizes[0] as number;
    const last = sizes[sizes.length - 1] as number;
    const ratio = median((tally.get(last) as Tally).action) / median((tally.get(first) as Tally).action);
    console.log(`\nAction time at N=${last} / at N=${first}: ${ratio.toFixed(2)}`);
  }
  rows.sort((a, b) => Number(a.split('|')[1]) - Number(b.split('|')[1]));
  console.log('\nRaw rows (in the order run within each N):\n\n| N | tool | run | ms | requests |\n| --- | --- | --- | --- | --- |');
  for (const r of rows) console.log(r);
}

if (parts.includes('copy')) await benchCopy(median);

if (parts.includes('tls')) {
  const rtts = (process.env.BENCH_TLS_RTT_MS ?? '10,20').split(',').map(Number);
  const sizes = (process.env.BENCH_TLS_N ?? '4,16').split(',').map(Number);
  const runs = Number(process.env.BENCH_TLS_RUNS ?? 5);
  const local = await localName();
  if (!local) throw new Error('tls: this machine has no host name that resolves to loopback (see __tests__/helpers/local-name.ts)');
  const { Agent } = await import('undici');
  const certs = makeServerCerts([local.name]);
  const user = 'bench';
  const password = 'bench-password';
  const env = { GOGC: '400', GODEBUG: 'madvdontneed=0' };
  // Token services (TLS for the TLS registry, plain for the plain one), each behind its own proxy.
  const tlsIssuer = await startTokenIssuer({ users: { [user]: password }, tls: { cert: certs.cert, key: certs.key } });
  const plainIssuer = await startTokenIssuer({ users: { [user]: password } });
  const dispatcher = new Agent({ connect: { ca: readFileSync(certs.caCert) } });
  const cfgDir = mkdtempSync(join(tmpdir(), 'bench-tls-'));
  console.log(`\n## tls: token auth, round trips ${rtts.join(', ')} ms, N = ${sizes.join(', ')}, ${runs} rounds; registry host ${local.name} (→ ${local.address}); load average at start ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  const rows: string[] = [];
  const tally = new Map<string, { ms: number[]; conns: number[]; tokenConns: number[]; requests: number[]; first: number[] }>();
  const record = (key: string, ms: number, conns: number, tokenConns: number, requests: number, first: number) => {
    const t = tally.get(key) ?? { ms: [], conns: [], tokenConns: [], requests: [], first: [] };
    t.ms.push(ms);
    t.conns.push(conns);
    t.tokenConns.push(tokenConns);
    t.requests.push(requests);
    t.first.push(first);
    tally.set(key, t);
  };
  const stops: Array<() => Promise<void>> = [];
  try {
    for (const rtt of rtts) {
      const tokenTlsProxy = await startLatencyProxy(tlsIssuer.port, rtt, { upstreamTls: true, listenHost: local.address });
      const tokenPlainProxy = await startLatencyProxy(plainIssuer.port, rtt);
      const tlsReg = await startRegistry({
        logLevel: 'warn',
        env,
        tls: { certificate: certs.cert, key: certs.key },
        token: { ...tlsIssuer, realm: `https://${local.name}:${tokenTlsProxy.port}/token` },
      });
      const plainReg = await startRegistry({ logLevel: 'warn', env, token: { ...plainIssuer, realm: `http://${tokenPlainProxy.host}/token` } });
      const tlsProxy = await startLatencyProxy(tlsReg.port, rtt, { upstreamTls: true, listenHost: local.address });
      const plainProxy = await startLatencyProxy(plainReg.port, rtt);
      stops.push(() => tokenTlsProxy.stop(), () => tokenPlainProxy.stop(), () => tlsProxy.stop(), () => plainProxy.stop(), () => tlsReg.stop(), () => plainReg.stop());
      const profiles = {
        tls: { host: `${local.name}:${tlsProxy.port}`, proxy: tlsProxy, token: tokenTlsProxy },
        plain: { host: plainProxy.host, proxy: plainProxy, token: tokenPlainProxy },
      };
      for (const n of sizes) {
        for (let i = 0; i < n; i++) {
          const platform = platformFor(i);
          const auth = (issuer: typeof tlsIssuer) => (scope: string) => `Bearer ${issuer.mint(user, [scope])}`;
          await pushImage({ url: tlsReg.url, dispatcher, authorization: auth(tlsIssuer) }, `bench/n${n}`, `a${i}`, platform);
          await pushImage({ url: plainReg.url, authorization: auth(plainIssuer) }, `bench/n${n}`, `a${i}`, platform);
        }
      }
      writeFileSync(join(cfgDir, 'config.json'), JSON.stringify({ auths: { [profiles.plain.host]: { auth: Buffer.from(`${user}:${password}`).toString('base64') } } }));
      for (let r = 0; r < runs; r++) {
        for (const n of sizes) {
          const variants: Array<[string, 'tls' | 'plain', Record<string, string>]> = [
            ['action HTTP/2 (TLS)', 'tls', {}],
            ['action HTTP/1.1 (TLS)', 'tls', { MULTIARCH_HTTP1_ONLY: '1' }],
            ['action (plain HTTP)', 'plain', {}],
          ];
          for (const [name, profile, extra] of variants) {
            const p = profiles[profile];
            const sources = Array.from({ length: n }, (_, i) => `${p.host}/bench/n${n}:a${i}`).join('\n');
            const before = [p.proxy.connections(), p.token.connections()];
            const run = await runAction({ sources, tags: `${p.host}/bench/n${n}:action-${r}`, username: user, password }, { NODE_EXTRA_CA_CERTS: certs.caCert, ...extra });
            if (run.code !== 0) throw new Error(`action failed: ${run.stdout}`);
            await new Promise((res) => setTimeout(res, 50)); // let the proxy count the last accept
            const requests = Number(/(\d+) requests/.exec(run.stdout)?.[1]);
            const first = Number(/first request (\d+) ms/.exec(run.stdout)?.[1]);
            const conns = p.proxy.connections() - (before[0] as number);
            const tokenConns = p.token.connections() - (before[1] as number);
            record(`${rtt}|${n}|${name}`, run.ms, conns, tokenConns, requests, first);
            rows.push(`| ${rtt} | ${n} | ${name} | ${r + 1} | ${run.ms} | ${first} | ${requests} | ${conns} | ${tokenConns} |`);
          }
          // docker manifest over plain HTTP, logged in through the Docker config. Its registry ping
          // through the proxy occasionally ends in EOF (as in part 1): such an attempt is reported
          // and run again from scratch (fresh DOCKER_CONFIG, fresh tag); it never counts.
          const p = profiles.plain;
          const sources = Array.from({ length: n }, (_, i) => `${p.host}/bench/n${n}:a${i}`);
          let before = [0, 0];
          let t0 = 0;
          for (let attempt = 1; ; attempt++) {
            const tag = `${p.host}/bench/n${n}:docker-${r}-${attempt}`;
            const cfg = mkdtempSync(join(tmpdir(), 'docker-bench-'));
            writeFileSync(join(cfg, 'config.json'), readFileSync(join(cfgDir, 'config.json')));
            before = [p.proxy.connections(), p.token.connections()];
            t0 = performance.now();
            try {
              await exec('docker', ['manifest', 'create', '--insecure', tag, ...sources], { env: { ...process.env, DOCKER_CONFIG: cfg } });
              await exec('docker', ['manifest', 'push', '--insecure', tag], { env: { ...process.env, DOCKER_CONFIG: cfg } });
              break;
            } catch (e) {
              const first = String((e as { stderr?: string }).stderr ?? e).split('\n')[0];
              console.error(`docker attempt ${attempt} failed (${first}); running it again`);
              if (attempt === 5) throw e;
            } finally {
              rmSync(cfg, { recursive: true, force: true });
            }
          }
          const ms = Math.round(performance.now() - t0);
          const conns = p.proxy.connections() - (before[0] as number);
          const tokenConns = p.token.connections() - (before[1] as number);
          record(`${rtt}|${n}|docker manifest (plain HTTP)`, ms, conns, tokenConns, Number.NaN, Number.NaN);
          rows.push(`| ${rtt} | ${n} | docker manifest (plain HTTP) | ${r + 1} | ${ms} | | | ${conns} | ${tokenConns} |`);
        }
      }
    }
  } finally {
    for (const stop of stops.reverse()) await stop();
    await tlsIssuer.stop();
    await plainIssuer.stop();
    await dispatcher.close();
    rmSync(cfgDir, { recursive: true, force: true });
  }
  console.log('| RTT (ms) | N | tool | median (ms) | first request (median ms after start) | requests | registry connections per run (median, max) | token service connections per run (median) |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const [key, t] of tally) {
    const [rtt, n, name] = key.split('|');
    const first = t.first.every(Number.isNaN) ? '' : median(t.first);
    const requests = t.requests.every(Number.isNaN) ? '' : median(t.requests);
    console.log(`| ${rtt} | ${n} | ${name} | ${median(t.ms)} | ${first} | ${requests} | ${median(t.conns)}, ${Math.max(...t.conns)} | ${median(t.tokenConns)} |`);
  }
  console.log('\nRatios (medians):\n');
  for (const rtt of rtts) {
    for (const n of sizes) {
      const m = (name: string) => median((tally.get(`${rtt}|${n}|${name}`) as { ms: number[] }).ms);
      const h2 = m('action HTTP/2 (TLS)');
      console.log(
        `- RTT ${rtt} ms, N = ${n}: HTTP/2 (TLS) / plain HTTP ${(h2 / m('action (plain HTTP)')).toFixed(2)}; HTTP/1.1 (TLS) / HTTP/2 ${(m('action HTTP/1.1 (TLS)') / h2).toFixed(2)}; docker manifest (plain) / action HTTP/2 (TLS) ${(m('docker manifest (plain HTTP)') / h2).toFixed(1)}×`,
      );
    }
  }
  console.log(`\nload average at end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log('\nRaw rows (in the order run):\n\n| RTT (ms) | N | tool | run | ms | first request (ms) | requests | registry connections | token service connections |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) console.log(r);
}

if (parts.includes('start')) await benchStart(median);
