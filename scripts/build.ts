/**
 * Builds dist/: tsc (src → lib, .ts imports rewritten to .js) then ncc (lib → one file per entry).
 * `--check` builds into a temporary folder and fails when dist/ differs: dist/ must be rebuilt and
 * committed with every change to src/.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const check = process.argv.includes('--check');
const bin = (name: string) => join(root, 'node_modules', '.bin', name);
const entries = [
  { entry: 'lib/index.js', out: '' },
  { entry: 'lib/cli.js', out: 'cli' },
];

function run(cmd: string, args: string[]) {
  execFileSync(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
}

function build(outDir: string) {
  rmSync(join(root, 'lib'), { recursive: true, force: true });
  run(bin('tsc'), ['-p', 'tsconfig.build.json']);
  // The version is inlined: the bundle never reads package.json (src/version.ts says so).
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  writeFileSync(join(root, 'lib', 'version.js'), `export const VERSION = ${JSON.stringify(version)};\n`);
  rmSync(outDir, { recursive: true, force: true });
  for (const { entry, out } of entries) {
    if (!existsSync(join(root, entry))) continue;
    const tmp = mkdtempSync(join(tmpdir(), 'ncc-'));
    run(bin('ncc'), ['build', entry, '-o', tmp, '--minify', '--no-source-map-register', '--quiet', '--license', 'licenses.txt']);
    // ncc minifies the entry file only; chunks split off at dynamic imports are minified here.
    for (const chunk of readdirSync(tmp).filter((f) => /^\d+\.index\.js$/.test(f))) {
      run(bin('terser'), [join(tmp, chunk), '--module', '--compress', '--mangle', '--output', join(tmp, chunk)]);
    }
    cpSync(tmp, join(outDir, out), { recursive: true });
    rmSync(tmp, { recursive: true, force: true });
  }
  writeFileSync(join(outDir, 'package.json'), `${JSON.stringify({ type: 'module' }, null, 2)}\n`);
}

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => statSync(join(dir, f)).isFile())
    .sort();
}

if (check) {
  const tmp = mkdtempSync(join(tmpdir(), 'dist-check-'));
  build(tmp);
  const want = files(tmp);
  const have = files(join(root, 'dist'));
  const differing = [...new Set([...want, ...have])].filter(
    (f) => !want.includes(f) || !have.includes(f) || !readFileSync(join(tmp, f)).equals(readFileSync(join(root, 'dist', f))),
  );
  rmSync(tmp, { recursive: true, force: true });
  if (differing.length) {
    console.error(`dist/ is out of date with src/ (${differing.join(', ')}): run npm run build and commit dist/`);
    process.exit(1);
  }
  console.log(`dist/ is up to date (${want.length} files)`);
} else {
  build(join(root, 'dist'));
  for (const f of files(join(root, 'dist'))) {
    console.log(`${relative(root, join(root, 'dist', f))}  ${statSync(join(root, 'dist', f)).size} bytes`);
  }
}
