/**
 * The bundled action (dist/, version inlined at build) names itself on every request: each line
 * of the real registry's access log, and each request to the token realm.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { runAction } from '../../helpers/action.ts';
import { pushImage } from '../../helpers/images.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';
import { type TokenIssuer, startTokenIssuer } from '../../helpers/token-issuer.ts';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
const USER_AGENT = `multiarch-manifest-action/${pkg.version} (+https://github.com/multiarch-manifest/multiarch-manifest-action) node/${process.version}`;

describe('User-Agent of the bundled action', () => {
  let issuer: TokenIssuer;
  let reg: RunningRegistry;
  before(async () => {
    issuer = await startTokenIssuer({ users: { bot: 'pw' } });
    reg = await startRegistry({ token: { realm: issuer.realm, service: issuer.service, issuer: issuer.issuer, rootCertBundle: issuer.rootCertBundle } });
    const target = { url: reg.url, authorization: (scope: string) => `Bearer ${issuer.mint('bot', [scope])}` };
    await pushImage(target, 'app', 'amd64', { os: 'linux', architecture: 'amd64' });
    await pushImage(target, 'other', 'arm64', { os: 'linux', architecture: 'arm64', variant: 'v8' });
  });
  after(async () => {
    await reg?.stop();
    await issuer?.stop();
  });

  it('is on every registry request and every token request', async () => {
    const from = await reg.mark();
    const issued = issuer.requests.length;
    const run = await runAction({ sources: `${reg.host}/app:amd64\n${reg.host}/other:arm64`, tags: `${reg.host}/app:multi`, username: 'bot', password: 'pw' });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const upTo = await reg.mark();
    const lines = reg.requests().slice(from, upTo).filter((l) => !l.includes('/mark-'));
    assert.ok(lines.length >= 8, `${lines.length} requests: 401s, manifests, blobs copied, the index`);
    for (const l of lines) assert.ok(l.endsWith(`"${USER_AGENT}"`), l);
    const tokenRequests = issuer.requests.slice(issued);
    assert.ok(tokenRequests.length >= 1);
    for (const r of tokenRequests) assert.equal(r.userAgent, USER_AGENT);
  });
});
