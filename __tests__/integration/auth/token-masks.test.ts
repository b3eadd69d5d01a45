/**
 * A token server does not choose what the job log masks (the attack review): a scripted token
 * service of a source registry hands out a short, common-word token.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runInProcess } from '../../helpers/in-process.ts';
import { type Answer, type ScriptedServer, startScriptedServer } from '../../helpers/hostile-servers.ts';

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
