/** Credentials as CI hands them to the action: a Basic header, a Docker config directory, credential helpers on PATH. */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';

export const basic = (u: string, p: string): string => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

/** A DOCKER_CONFIG directory holding `config` as its config.json. */
export function dockerConfig(config: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'docker-config-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

/** A directory for PATH holding `docker-credential-<name>` scripts. */
export function helperBin(helpers: Record<string, string>): string {
  const bin = mkdtempSync(join(tmpdir(), 'helper-bin-'));
  for (const [name, script] of Object.entries(helpers)) {
    const file = join(bin, `docker-credential-${name}`);
    writeFileSync(file, `#!/bin/sh\n${script}\n`);
    chmodSync(file, 0o755);
  }
  return bin;
}

/**
 * For the tests of the enclosing `describe` (or file): no credentials from this machine's Docker
 * config (DOCKER_CONFIG points nowhere); the variable is put back after.
 */
export function withoutMachineCredentials(): void {
  const saved = process.env.DOCKER_CONFIG;
  before(() => {
    process.env.DOCKER_CONFIG = '/nonexistent';
  });
  after(() => {
    if (saved === undefined) delete process.env.DOCKER_CONFIG;
    else process.env.DOCKER_CONFIG = saved;
  });
}
