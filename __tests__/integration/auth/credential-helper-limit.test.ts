/**
 * A credential helper cannot hold the run past its 60 s limit (the attack review): a helper whose
 * background child keeps stdout open.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runInProcess } from '../../helpers/in-process.ts';
import { pushImage } from '../../helpers/images.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';

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
