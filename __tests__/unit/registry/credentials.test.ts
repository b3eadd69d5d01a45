import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ActionError } from '../../../src/errors.ts';
import { helperServerUrl, keyNamesRegistry, resolveCredentials } from '../../../src/registry/credentials.ts';

function configDir(config: unknown): NodeJS.ProcessEnv {
  const dir = mkdtempSync(join(tmpdir(), 'cred-'));
  writeFileSync(join(dir, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
  return { DOCKER_CONFIG: dir };
}
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('credential lookup', () => {
  it('Docker Hub credentials are found under its legacy names', async () => {
    for (const key of ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io']) {
      const c = await resolveCredentials('docker.io', { env: configDir({ auths: { [key]: { auth: b64('hub:pw') } } }) });
      assert.deepEqual([c.username, c.password], ['hub', 'pw'], key);
    }
    assert.equal(keyNamesRegistry('https://ghcr.io', 'ghcr.io'), true);
    assert.equal(keyNamesRegistry('ghcr.io', 'quay.io'), false);
    assert.equal(helperServerUrl('docker.io'), 'https://index.docker.io/v1/');
    assert.equal(keyNamesRegistry('https://registry.example:5000/v2/', 'registry.example:5000'), true);
  });
  it('inputs win over the config file, for their registry only', async () => {
    const env = configDir({ auths: { 'ghcr.io': { auth: b64('file:pw') } } });
    const explicit = { registry: 'ghcr.io', username: 'input', password: 'pw2' };
    assert.equal((await resolveCredentials('ghcr.io', { env, explicit })).username, 'input');
    assert.equal((await resolveCredentials('quay.io', { env, explicit })).source, 'anonymous');
  });
  it('credHelpers, then auths, then credsStore; identity tokens', async () => {
    const calls: string[] = [];
    const runHelper = async (helper: string, server: string) => {
      calls.push(`${helper} ${server}`);
      if (helper === 'ecr-login') return JSON.stringify({ Username: 'AWS', Secret: 'ecr-token' });
      if (helper === 'desktop') return JSON.stringify({ Username: '<token>', Secret: 'refresh-xyz' });
      return '';
    };
    const env = configDir({
      credHelpers: { '1234.dkr.ecr.eu-west-1.amazonaws.com': 'ecr-login' },
      auths: { 'ghcr.io': { identitytoken: 'id-token' }, 'quay.io': {} },
      credsStore: 'desktop',
    });
    const ecr = await resolveCredentials('1234.dkr.ecr.eu-west-1.amazonaws.com', { env, runHelper });
    assert.deepEqual([ecr.username, ecr.password, ecr.source], ['AWS', 'ecr-token', 'docker-credential-ecr-login']);
    assert.equal((await resolveCredentials('ghcr.io', { env, runHelper })).identityToken, 'id-token');
    const quay = await resolveCredentials('quay.io', { env, runHelper });
    assert.deepEqual([quay.identityToken, quay.source], ['refresh-xyz', 'docker-credential-desktop']);
    assert.deepEqual(calls, ['ecr-login 1234.dkr.ecr.eu-west-1.amazonaws.com', 'desktop quay.io']);
  });
  it('anonymous without a config file; a broken file is one clear error', async () => {
    assert.equal((await resolveCredentials('ghcr.io', { env: { DOCKER_CONFIG: '/nonexistent' } })).source, 'anonymous');
    await assert.rejects(resolveCredentials('ghcr.io', { env: configDir('{not json') }), (e: unknown) => e instanceof ActionError && /not valid JSON/.test(e.message));
    await assert.rejects(resolveCredentials('ghcr.io', { env: configDir({ auths: { 'ghcr.io': { auth: b64('nocolon') } } }) }), /not base64 of user:password/);
  });
});
