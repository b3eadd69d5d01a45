/** The real clients that check what the action pushed: skopeo and the docker CLI. */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export async function skopeo(args: string[], env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await exec('skopeo', args, { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

export async function skopeoInspect(ref: string, extra: string[] = []): Promise<any> {
  return JSON.parse(await skopeo(['inspect', '--tls-verify=false', ...extra, `docker://${ref}`]));
}

export async function dockerManifestInspect(ref: string, env: Record<string, string> = {}): Promise<any> {
  const { stdout } = await exec('docker', ['manifest', 'inspect', '--insecure', ref], {
    env: { ...process.env, DOCKER_CONFIG: mkdtempSync(join(tmpdir(), 'docker-cfg-')), ...env },
  });
  return JSON.parse(stdout);
}
