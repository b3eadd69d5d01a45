/**
 * Starts a real CNCF distribution registry (Debian's docker-registry) on a free 127.0.0.1 port
 * with a temporary storage directory; variants with htpasswd, token auth and TLS.
 */
import { type ChildProcess, spawn, execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from 'node:net';
import bcrypt from 'bcryptjs';

export const REGISTRY_BIN = process.env.REGISTRY_BIN ?? '/usr/bin/docker-registry';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface RegistryOptions {
  /** distribution's application log level (the access log is always on); default info. */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  htpasswd?: { username: string; password: string };
  token?: { realm: string; service: string; issuer: string; rootCertBundle: string };
  tls?: { certificate: string; key: string };
  /** Extra environment for the registry process (Go runtime settings, for benchmarks). */
  env?: Record<string, string>;
}

export interface RunningRegistry {
  /** host:port as references name it. */
  host: string;
  port: number;
  url: string;
  dir: string;
  logFile: string;
  /** Access-log lines (one per request the registry served). */
  requests(): string[];
  /**
   * Waits until every request made so far is in the access log (the registry writes it
   * asynchronously) and returns the log's length: a position to compare later requests against.
   */
  mark(): Promise<number>;
  /**
   * Write requests (anything but GET and HEAD) the registry accepted or refused since position
   * `from` of the access log; requests refused with 401 (before credentials) do not count.
   */
  writesSince(from: number): Promise<string[]>;
  stop(): Promise<void>;
}

function htpasswdLine(username: string, password: string): string {
  // distribution accepts only bcrypt entries; cost 4 keeps the registry's check fast.
  return `${username}:${bcrypt.hashSync(password, 4)}`;
}

export async function startRegistry(options: RegistryOptions = {}): Promise<RunningRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'registry-'));
  const port = await freePort();
  const lines = [
    'version: 0.1',
    'log:',
    `  level: ${options.logLevel ?? 'info'}`,
    '  accesslog:',
    '    disabled: false',
    'storage:',
    // As distribution's own sample configuration: blob descriptors cached in memory.
    '  cache:',
    '    blobdescriptor: inmemory',
    '  filesystem:',
    `    rootdirectory: ${join(dir, 'data')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    `  secret: test-secret-${port}`,
  ];
  if (options.tls) {
    lines.push('  tls:', `    certificate: ${options.tls.certificate}`, `    key: ${options.tls.key}`);
  }
  if (options.htpasswd) {
    const file = join(dir, 'htpasswd');
    writeFileSync(file, `${htpasswdLine(options.htpasswd.username, options.htpasswd.password)}\n`);
    lines.push('auth:', '  htpasswd:', '    realm: basic-realm', `    path: ${file}`);
  } else if (options.token) {
    lines.push(
      'auth:',
      '  token:',
      `    realm: ${options.token.realm}`,
      `    service: ${options.token.service}`,
      `    issuer: ${options.token.issuer}`,
      `    rootcertbundle: ${options.token.rootCertBundle}`,
    );
  }
  const config = join(dir, 'config.yml');
  writeFileSync(config, `${lines.join('\n')}\n`);
  const logFile = join(dir, 'registry.log');
  // The registry writes its logs straight into the file (no pipe through this process: every
  // request's access-log line would cost a wake-up and two more system calls here).
  const out = openSync(logFile, 'a');
  const child: ChildProcess = spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', out, out], env: { ...process.env, ...options.env } });
  closeSync(out); // the child holds its own copy
  const scheme = options.tls ? 'https' : 'http';
  const url = `${scheme}://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`registry exited with ${child.exitCode}: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
    }
    try {
      await new Promise<void>((resolve, reject) => {
        const sock = connect(port, '127.0.0.1', () => {
          sock.destroy();
          resolve();
        });
        sock.on('error', reject);
      });
      break;
    } catch {
      if (Date.now() > deadline) throw new Error('registry did not start within 15 s');
      await sleep(50);
    }
  }
  const registry: RunningRegistry = {
    host: `127.0.0.1:${port}`,
    port,
    url,
    dir,
    logFile,
    requests: () =>
      readFileSync(logFile, 'utf8')
        .split('\n')
        .filter((l) => /"(GET|HEAD|PUT|POST|PATCH|DELETE) \/v2\//.test(l) && !l.includes('level=')),
    async mark() {
      const id = `mark-${Date.now()}-${Math.random().toString(36).slice(2)}`;
      await fetch(`${url}/v2/${id}/tags/list`).then((r) => r.arrayBuffer()).catch(() => undefined);
      const until = Date.now() + 5000;
      for (;;) {
        const lines = registry.requests();
        const at = lines.findIndex((l) => l.includes(id));
        if (at !== -1) return at + 1;
        if (Date.now() > until) throw new Error('access log did not show the marker request');
        await sleep(20);
      }
    },
    async writesSince(from) {
      const upTo = await registry.mark();
      return registry
        .requests()
        .slice(from, upTo)
        .filter((l) => !/"(GET|HEAD) /.test(l) && !/" 401 /.test(l));
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return registry;
}

export function haveRegistry(): boolean {
  try {
    execFileSync(REGISTRY_BIN, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
