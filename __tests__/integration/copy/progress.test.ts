/**
 * Progress of long copies (issue 26), in process so that the interval can be shortened: a
 * copy slowed by a proxy in front of the source prints a line per blob while it copies and one
 * per image; a quick copy prints neither. The job summary gives bytes and time per target
 * repository. Real registries; the proxy only slows the source's blob bodies.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { getInputs } from '../../../src/inputs.ts';
import { publishInputs } from '../../../src/publish/index.ts';
import { copyProgress } from '../../../src/publish/place.ts';
import { renderSummary } from '../../../src/summary.ts';
import { startFaultProxy } from '../../helpers/fault-proxy.ts';
import { pushImage } from '../../helpers/images.ts';
import { logsPerTest } from '../../helpers/logs.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';
import { withoutMachineCredentials } from '../../helpers/docker-config.ts';

const isBlobGet = (r: { method: string; url: string }) => r.method === 'GET' && /\/blobs\/sha256:/.test(r.url);

describe('copy progress (slow source through a proxy; interval shortened)', () => {
  let a: RunningRegistry;
  let b: RunningRegistry;
  const logs = logsPerTest();
  const savedInterval = copyProgress.intervalMs;
  withoutMachineCredentials();
  before(async () => {
    a = await startRegistry();
    b = await startRegistry();
    // Two layers of 1.5 MiB: at 512 KiB/s each takes about 3 s.
    await pushImage({ url: a.url }, 'big/app', 'amd64', { os: 'linux', architecture: 'amd64', layers: [randomBytes(1536 * 1024), randomBytes(1536 * 1024)] });
    await pushImage({ url: a.url }, 'small/app', 'amd64', { os: 'linux', architecture: 'amd64', layers: [randomBytes(4096)] });
  });
  after(async () => {
    copyProgress.intervalMs = savedInterval;
    await a?.stop();
    await b?.stop();
  });

  const publish = (inputs: Record<string, string>) => publishInputs(getInputs((name) => inputs[name] ?? ''));

  it('a copy lasting seconds: progress lines per blob while it copies, a line for the image, bytes and time per target repository in the summary', async () => {
    const slow = await startFaultProxy(a.url, (r) => (isBlobGet(r) ? { kind: 'throttle', bytesPerSecond: 512 * 1024 } : undefined));
    copyProgress.intervalMs = 1000;
    try {
      const result = await publish({ sources: `${slow.host}/big/app:amd64`, tags: `${b.host}/big/app:1` });
      const progress = logs.text.split('\n').filter((l) => /^copying sha256:[0-9a-f]{12}… to /.test(l));
      assert.ok(progress.length >= 2, `progress lines while the layers copy:\n${logs.text}`);
      for (const line of progress) assert.match(line, new RegExp(`^copying sha256:[0-9a-f]{12}… to ${b.host}/big/app: \\d+\\.\\d of 1\\.5 MiB \\(\\d+\\.\\d MiB/s\\)$`));
      // Both layers report, and what they report grows.
      assert.equal(new Set(progress.map((l) => l.slice(0, 27))).size, 2, progress.join('\n'));
      const done = progress.map((l) => Number(/: (\d+\.\d) of/.exec(l)?.[1]));
      assert.ok(done.some((d) => d > 0) && done.every((d) => d <= 1.5), done.join(' '));
      const image = logs.text.split('\n').filter((l) => l.startsWith('copied linux/amd64 image '));
      assert.equal(image.length, 1, logs.text);
      assert.match(image[0] as string, new RegExp(`^copied linux/amd64 image sha256:[0-9a-f]{64} to ${b.host}/big/app: 3 blobs, 3\\.0 MiB in \\d+\\.\\d s \\(\\d+\\.\\d MiB/s\\)$`));

      const copies = result.stats.copies ?? [];
      assert.equal(copies.length, 1);
      assert.equal(copies[0]?.repository, `${b.host}/big/app`);
      assert.equal(copies[0]?.blobs, 3);
      assert.ok((copies[0]?.bytes as number) > 3 * 1024 * 1024 && (copies[0]?.ms as number) >= 2000, JSON.stringify(copies));
      const summary = renderSummary(result, [`${b.host}/big/app:1`]);
      assert.match(summary, new RegExp(`### Copied across registries\\n\\n\\| Repository \\| Blobs \\| Size \\| Time \\|\\n\\| --- \\| --- \\| --- \\| --- \\|\\n\\| <code>${b.host.replace(/\./g, '\\.')}/big/app</code> \\| 3 \\| 3\\.0 MiB \\| \\d+\\.\\d s \\|`));
    } finally {
      await slow.stop();
    }
  });

  it('a quick copy prints no progress, and a run that copies nothing has no copy table', async () => {
    copyProgress.intervalMs = 1000;
    const result = await publish({ sources: `${a.host}/small/app:amd64`, tags: `${b.host}/small/app:1` });
    assert.equal(result.stats.blobsCopied, 2);
    assert.doesNotMatch(logs.text, /^copying |^copied .* image /m, logs.text);
    assert.match(renderSummary(result), /### Copied across registries/);
    // Same registry: mounted, not copied.
    const mounted = await publish({ sources: `${a.host}/small/app:amd64`, tags: `${a.host}/other/app:1` });
    assert.equal(mounted.stats.blobsCopied, 0);
    assert.deepEqual(mounted.stats.copies, []);
    assert.doesNotMatch(renderSummary(mounted), /Copied across registries/);
  });
});
