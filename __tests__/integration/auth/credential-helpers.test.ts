/**
 * Docker credential helpers (issue 12 and the attack review): a helper value from the Docker config
 * is a name, never a path or a command; a valid one runs `docker-credential-<name> get` from PATH;
 * a failing one is named with its exit code, never its output; a password too short to mask is not
 * given to add-mask; and a helper cannot hold the run past its 60 s limit (a background child
 * keeping its stdout open). The action runs in process against a real registry that wants htpasswd
 * credentials; the helpers are shell scripts on PATH.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { basic, dockerConfig, helperBin } from '../../helpers/docker-config.ts';
import { pushImage } from '../../helpers/images.ts';
import { runInProcess } from '../../helpers/in-process.ts';
import { type RunningRegistry, startRegistry } from '../../helpers/registry.ts';
import { errorLines, escapeRe, visible } from '../../helpers/runner-text.ts';

const USER = 'ci-bot';
const PASSWORD = 'hostile-Pa55word-42';

describe('Docker credential helpers', () => {
  let registry: RunningRegistry;
  let shortRegistry: RunningRegistry;
  const SHORT = 'pw7';
  before(async () => {
    registry = await startRegistry({ htpasswd: { username: USER, password: PASSWORD } });
    shortRegistry = await startRegistry({ htpasswd: { username: 'u', password: SHORT } });
    await pushImage({ url: registry.url, authorization: basic(USER, PASSWORD) }, 'app', 'amd64', { os: 'linux', architecture: 'amd64' });
    await pushImage({ url: shortRegistry.url, authorization: basic('u', SHORT) }, 'app', 'amd64', { os: 'linux', architecture: 'amd64' });
  });
  after(async () => {
    await registry?.stop();
    await shortRegistry?.stop();
  });
  const inputs = (tag: string) => ({ sources: `${registry.host}/app:amd64`, tags: `${registry.host}/app:${tag}` });

  it('a helper value with a path and arguments runs nothing and is refused naming the config key', async () => {
    const work = mkdtempSync(join(tmpdir(), 'helper-injection-'));
    const marker = join(work, 'pwned');
    const invoked = join(work, 'invoked');
    // The attacker's value: a path out of any directory, to /bin/sh, with a command.
    const value = `x/${'../'.repeat(16)}bin/sh -c "touch ${marker}"`;
    // A real helper named `x` is on PATH too: it must not be run with the attacker's arguments.
    const bin = helperBin({ x: `echo "$@" >> ${invoked}; exit 1` });
    const before = await registry.mark();
    const run = await runInProcess(inputs('injection'), { DOCKER_CONFIG: dockerConfig({ credHelpers: { [registry.host]: value } }), PATH: `${bin}:${process.env.PATH}` });
    assert.equal(existsSync(marker), false, 'the command in the helper value did not run');
    assert.equal(existsSync(invoked), false, 'no helper ran at all');
    assert.notEqual(run.code, 0);
    const line = errorLines(run).join('\n');
    assert.match(line, new RegExp(`credHelpers.*${escapeRe(registry.host)}`), 'the error names the config key');
    assert.deepEqual(await registry.writesSince(before), []);
  });

  it('a valid helper name runs docker-credential-<name> from PATH with `get` and the server on stdin', async () => {
    const work = mkdtempSync(join(tmpdir(), 'helper-ok-'));
    const record = join(work, 'record');
    const bin = helperBin({ 'ok.helper_1-x': `read server; echo "$# $1 $server" > ${record}; printf '{"Username":"${USER}","Secret":"${PASSWORD}"}'` });
    const run = await runInProcess(inputs('helper-ok'), { DOCKER_CONFIG: dockerConfig({ credHelpers: { [registry.host]: 'ok.helper_1-x' } }), PATH: `${bin}:${process.env.PATH}` });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.equal(readFileSync(record, 'utf8').trim(), `1 get ${registry.host}`);
    assert.ok(!visible(run.stdout + run.stderr).includes(PASSWORD));
  });

  it("a failing helper's error names the helper and its exit code, never its output", async () => {
    const leak = 'LEAKED-helper-output-6f1c2e';
    const bin = helperBin({ leaky: `echo '{"Secret":"${leak}"}'; echo "${leak} on stderr" >&2; exit 3` });
    const run = await runInProcess(inputs('leaky'), { DOCKER_CONFIG: dockerConfig({ credHelpers: { [registry.host]: 'leaky' } }), PATH: `${bin}:${process.env.PATH}` });
    assert.notEqual(run.code, 0);
    assert.ok(!visible(run.stdout + run.stderr).includes('LEAKED'), `the helper's output was printed: ${run.stdout}`);
    const line = errorLines(run).join('\n');
    assert.match(line, /docker-credential-leaky/);
    assert.match(line, /exit code 3/);
  });

  it('a password too short to mask is not passed to add-mask; the run says so and still works', async () => {
    // The runner masks any value it is given, with no minimum length (actions/runner
    // SecretMasker.AddValue), so `::add-mask::pw7` would turn every "pw7" in the job's log into
    // *** — and show where the secret occurs. The Basic header's base64 is long enough to mask.
    const auth = Buffer.from(`u:${SHORT}`).toString('base64');
    const run = await runInProcess(
      { sources: `${shortRegistry.host}/app:amd64`, tags: `${shortRegistry.host}/app:short` },
      { DOCKER_CONFIG: dockerConfig({ auths: { [shortRegistry.host]: { auth } } }) },
    );
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.ok(!run.stdout.split('\n').includes(`::add-mask::${SHORT}`), 'the short password was not sent to add-mask');
    assert.ok(run.stdout.split('\n').includes(`::add-mask::${auth}`), 'the Basic value is masked');
    assert.match(run.stdout, /::warning[^\n]*too short to mask/, 'a warning says why');
  });
});

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
