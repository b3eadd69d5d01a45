/** Credentials as CI hands them to the action: a Basic header, a Docker config directory, credential helpers on PATH. */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
