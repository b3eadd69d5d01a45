import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ActionError } from '../../../src/errors.ts';
import { type Logger, setLogger, actionsLogger } from '../../../src/log.ts';
import { MIN_MASKED_LENGTH, helperProgram, maskSecret, resolveCredentials } from '../../../src/registry/credentials.ts';

/** A logger that records what would be masked and warned. */
function recorder(): Logger & { secrets: string[]; warnings: string[] } {
  const secrets: string[] = [];
  const warnings: string[] = [];
  return {
    secrets,
    warnings,
    debug: () => undefined,
    info: () => undefined,
    warning: (m) => warnings.push(m),
    error: () => undefined,
    setSecret: (s) => secrets.push(s),
    group: (_n, fn) => fn(),
    isDebug: () => false,
  };
}

describe('credential helper names', () => {
  const valid = ['ecr-login', 'desktop', 'osxkeychain', 'gcloud', 'a.b_c-1', '..'];
  for (const name of valid) {
    it(`'${name}' runs docker-credential-${name}`, () => assert.equal(helperProgram(name, 'credsStore'), `docker-credential-${name}`));
  }
  const invalid: unknown[] = [
    'x/../../bin/sh -c "id"',
    '../../bin/sh',
    '/usr/bin/env',
    'ecr-login --debug',
    'a b',
    'a\tb',
    'a;id',
    'a$(id)',
    'a`id`',
    'a|b',
    'C:\\bin\\x',
    'x\n',
    '',
    'é',
    42,
    null,
    { name: 'x' },
  ];
  for (const value of invalid) {
    it(`${JSON.stringify(value)} is refused naming the config key`, () => {
      assert.throws(
        () => helperProgram(value, 'credHelpers["ghcr.io"]'),
        (e: unknown) => e instanceof ActionError && e.kind === 'credentials' && e.message.includes('credHelpers["ghcr.io"]') && !e.message.includes('\n'),
      );
    });
  }
});

describe('running a helper', () => {
  const bin = mkdtempSync(join(tmpdir(), 'helpers-'));
  const helper = (name: string, script: string) => {
    const file = join(bin, `docker-credential-${name}`);
    writeFileSync(file, `#!/bin/sh\n${script}\n`);
    chmodSync(file, 0o755);
  };
  helper('good', `read s; printf '{"Username":"user","Secret":"secret-%s"}' "$s"`);
  helper('token', `printf '{"Username":"<token>","Secret":"refresh-token-123"}'`);
  helper('notfound', 'echo "credentials not found in native keychain"; exit 1');
  helper('fails', 'echo "SECRET-on-stdout"; echo "SECRET-on-stderr" >&2; exit 7');
  helper('garbage', 'echo "SECRET not json"');
  helper('huge', 'head -c 2000000 /dev/zero | tr "\\0" a');
  writeFileSync(join(bin, 'docker-credential-noexec'), '#!/bin/sh\necho {}\n');
  const env = (config: unknown, path = bin) => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    return { DOCKER_CONFIG: dir, PATH: `${path}:/usr/bin:/bin` };
  };
  let log: ReturnType<typeof recorder>;
  beforeEach(() => {
    log = recorder();
    setLogger(log);
  });
  afterEach(() => setLogger(actionsLogger));

  it('gets credentials with `get` and the server URL on stdin; masks them', async () => {
    const c = await resolveCredentials('ghcr.io', { env: env({ credHelpers: { 'ghcr.io': 'good' } }) });
    assert.deepEqual([c.username, c.password, c.source], ['user', 'secret-ghcr.io', 'docker-credential-good']);
    assert.ok(log.secrets.includes('secret-ghcr.io'));
    const t = await resolveCredentials('ghcr.io', { env: env({ credsStore: 'token' }) });
    assert.equal(t.identityToken, 'refresh-token-123');
  });

  it('"credentials not found" means anonymous', async () => {
    assert.equal((await resolveCredentials('ghcr.io', { env: env({ credHelpers: { 'ghcr.io': 'notfound' } }) })).source, 'anonymous');
  });

  const failures: Array<[string, string, RegExp]> = [
    ['fails', 'a non-zero exit', /docker-credential-fails \(credHelpers\["ghcr\.io"\] in \/\S+\/config\.json\) failed with exit code 7 for ghcr\.io/],
    ['garbage', 'output that is not JSON', /docker-credential-garbage .* printed something that is not JSON/],
    ['huge', 'more than 1 MiB of output', /docker-credential-huge .* printed more than 1048576 bytes/],
    ['missing', 'a helper not on PATH', /docker-credential-missing .* is not on PATH/],
    ['noexec', 'a file that is not executable', /docker-credential-noexec .* is not on PATH/],
  ];
  for (const [name, what, message] of failures) {
    it(`${what}: names the helper, never shows its output`, async () => {
      await assert.rejects(resolveCredentials('ghcr.io', { env: env({ credHelpers: { 'ghcr.io': name } }) }), (e: unknown) => {
        assert.ok(e instanceof ActionError);
        assert.match(e.line, message);
        assert.ok(!e.line.includes('SECRET'), e.line);
        return true;
      });
    });
  }

  it('relative PATH entries are not searched', async () => {
    const cwd = process.cwd();
    process.chdir(bin);
    try {
      await assert.rejects(resolveCredentials('ghcr.io', { env: env({ credHelpers: { 'ghcr.io': 'good' } }, '.') }), /is not on PATH/);
    } finally {
      process.chdir(cwd);
    }
  });

  it('an invalid helper for another registry does not matter', async () => {
    const c = await resolveCredentials('quay.io', { env: env({ credHelpers: { 'ghcr.io': 'x/../sh' } }) });
    assert.equal(c.source, 'anonymous');
    assert.ok(existsSync(bin));
  });
});

describe('a Docker config of unexpected shapes', () => {
  const cfg = (config: unknown) => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    return { DOCKER_CONFIG: dir, PATH: '/usr/bin:/bin' };
  };
  const anonymous: unknown[] = [
    null,
    5,
    'text',
    [],
    { auths: null },
    { auths: 'ghcr.io' },
    { auths: { 'ghcr.io': null } },
    { auths: { 'ghcr.io': 'dXNlcjpwdw==' } },
    { auths: { 'ghcr.io': { auth: 42, identitytoken: {}, username: ['u'], password: true } } },
    { auths: { 'ghcr.io': { auth: '' } } },
    { credHelpers: null, credsStore: '' },
  ];
  for (const config of anonymous) {
    it(`${JSON.stringify(config)}: anonymous, no crash`, async () => {
      const c = await resolveCredentials('ghcr.io', { env: cfg(config) });
      assert.equal(c.source, 'anonymous');
    });
  }
  it('a credsStore that is not a name is refused naming credsStore', async () => {
    await assert.rejects(resolveCredentials('ghcr.io', { env: cfg({ credsStore: { name: 'x' } }) }), (e: unknown) => e instanceof ActionError && /credsStore in \S+ is \{"name":"x"\}/.test(e.message));
  });
});

describe('masking', () => {
  let log: ReturnType<typeof recorder>;
  beforeEach(() => {
    log = recorder();
    setLogger(log);
  });
  afterEach(() => setLogger(actionsLogger));

  // Each value once: a value met again is not masked or warned about twice.
  const cases: Array<[string | undefined, string[], number]> = [
    [undefined, [], 0],
    ['', [], 0],
    ['   ', [], 0], // the runner refuses whitespace-only masks with a warning of its own
    ['a', [], 1],
    ['pw7', [], 1],
    ['x'.repeat(MIN_MASKED_LENGTH), ['x'.repeat(MIN_MASKED_LENGTH)], 0],
    ['long-secret', ['long-secret'], 0],
    ['line-one\nline-two\nab', ['line-one\nline-two\nab', 'line-one', 'line-two'], 0],
  ];
  for (const [value, masked, warnings] of cases) {
    it(`${JSON.stringify(value)}: masks ${JSON.stringify(masked)}, ${warnings} warning(s)`, () => {
      maskSecret(value, 'the password for ghcr.io');
      assert.deepEqual(log.secrets, masked);
      assert.equal(log.warnings.length, warnings);
      for (const w of log.warnings) {
        assert.equal(w, "the password for ghcr.io is shorter than 4 characters, too short to mask: the runner would mask every occurrence of it in the job's log. It is not masked; this action never prints it");
      }
    });
  }

  it('short credentials are used, their Basic value masked', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { 'ghcr.io': { auth: Buffer.from('u:qz1').toString('base64') } } }));
    const c = await resolveCredentials('ghcr.io', { env: { DOCKER_CONFIG: dir } });
    assert.equal(c.password, 'qz1');
    assert.deepEqual(log.secrets, [Buffer.from('u:qz1').toString('base64')]);
    assert.equal(log.warnings.length, 1);
    await resolveCredentials('ghcr.io', { env: { DOCKER_CONFIG: dir } });
    assert.equal(log.warnings.length, 1, 'met again: no second warning');
  });
});
