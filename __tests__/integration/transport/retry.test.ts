/**
 * One retry policy per host (registry/retry.ts), in-process against the real registry behind the
 * fault proxy: Docker Hub's rate limit answers 429 with Retry-After and a text/plain body, on any
 * request, the registry's first (its ping) included.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { getInputs } from '../../../src/inputs.ts';
import { publishInputs } from '../../../src/publish/index.ts';
import { Registries } from '../../../src/registry/registries.ts';
import { type FaultProxy, startFaultProxy } from '../../helpers/fault-proxy.ts';
import { pushImage } from '../../helpers/images.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';
import { withoutMachineCredentials } from '../../helpers/docker-config.ts';
import { logsPerTest } from '../../helpers/logs.ts';

const RATE_LIMITED = { kind: 'status', status: 429, headers: { 'retry-after': '2', 'content-type': 'text/plain' }, body: 'Too Many Requests (HAP429).\n' } as const;

describe('a 429 with Retry-After is waited out by every request to that host', () => {
  let reg: RunningRegistry;
  let proxy: FaultProxy;
  const logs = logsPerTest();
  withoutMachineCredentials();
  before(async () => {
    reg = await startRegistry();
    for (const architecture of ['amd64', 'arm64']) await pushImage({ url: reg.url }, 'app', architecture, { os: 'linux', architecture });
    proxy = await startFaultProxy(reg.url);
  });
  after(async () => {
    await proxy?.stop();
    await reg?.stop();
  });

  const publish = (tag: string) =>
    publishInputs(getInputs((name) => ({ sources: `${proxy.host}/app:amd64\n${proxy.host}/app:arm64`, tags: `${proxy.host}/app:${tag}` })[name] ?? ''));

  it('the registry’s first answer: the next request goes 2 s later, the run succeeds with 1 retry', async () => {
    const arrived: number[] = [];
    proxy.setRule((r) => {
      arrived.push(Date.now());
      return r.n === 1 ? RATE_LIMITED : undefined;
    });
    const result = await publish('first');
    assert.equal(proxy.log[0]?.status, 429);
    const gap = (arrived[1] as number) - (arrived[0] as number);
    assert.ok(gap >= 2000, `the next request went ${gap} ms after the 429`);
    assert.equal(result.stats.retries, 1);
    assert.match(logs.text, new RegExp(`429 from ${proxy.host.replace(/\./g, '\\.')}, waiting 2 s as it asked: retry 1/5 of GET `));
  });

  it('a 429 on one request holds the host’s other requests too, new ones included, not only its own retry', async () => {
    const arrived = new Map<number, number>();
    const from = proxy.log.length;
    const log = () => proxy.log.slice(from);
    let limitedOnce = false;
    proxy.setRule((r) => {
      arrived.set(r.n, Date.now());
      if (!r.url.endsWith('/manifests/amd64') || limitedOnce) return undefined;
      limitedOnce = true;
      return RATE_LIMITED;
    });
    const registries = new Registries({ credentials: { env: { DOCKER_CONFIG: '/nonexistent' } } });
    try {
      const client = registries.client(proxy.host);
      const limited = client.getManifest('app', 'amd64');
      // Once the 429 is out, another request to the same host is issued: it waits out the same 2 s.
      while (!log().some((l) => l.status === 429)) await new Promise((r) => setTimeout(r, 5));
      const n429 = (log().find((l) => l.status === 429) as { n: number }).n;
      await new Promise((r) => setTimeout(r, 50));
      const other = await client.getManifest('app', 'arm64');
      await limited;
      const otherN = (log().find((l) => l.url.endsWith('/manifests/arm64')) as { n: number }).n;
      const gap = (arrived.get(otherN) as number) - (arrived.get(n429) as number);
      assert.ok(gap >= 1990, `the other request went ${gap} ms after the 429`);
      assert.equal(other.mediaType.length > 0, true);
      assert.equal(registries.stats.retries, 1, 'only the rate-limited request was retried');
    } finally {
      await registries.close();
    }
  });
});
