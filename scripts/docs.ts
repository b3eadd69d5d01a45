/**
 * The README's input and output tables, generated from action.yml. `node scripts/docs.ts` rewrites
 * them; the test suite fails when they differ from action.yml.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';
import { renderRegistries } from '../__tests__/profiles/registries-table.ts';

const root = new URL('..', import.meta.url).pathname;

interface ActionYml {
  inputs: Record<string, { description: string; required?: boolean; default?: string }>;
  outputs: Record<string, { description: string }>;
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\s+/g, ' ').trim();

export function readActionYml(): ActionYml {
  return parse(readFileSync(`${root}action.yml`, 'utf8')) as ActionYml;
}

export function inputsTable(a: ActionYml): string {
  const rows = Object.entries(a.inputs).map(
    ([name, i]) => `| \`${name}\` | ${i.required ? 'yes' : 'no'} | ${i.default ? `\`${i.default}\`` : ''} | ${cell(i.description)} |`,
  );
  return ['| Name | Required | Default | Description |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

export function outputsTable(a: ActionYml): string {
  const rows = Object.entries(a.outputs).map(([name, o]) => `| \`${name}\` | ${cell(o.description)} |`);
  return ['| Name | Description |', '| --- | --- |', ...rows].join('\n');
}

export function section(readme: string, name: string): string | undefined {
  const m = new RegExp(`<!-- ${name}:start -->\\n([\\s\\S]*?)\\n<!-- ${name}:end -->`).exec(readme);
  return m?.[1];
}

export function render(readme: string, a: ActionYml): string {
  return readme
    .replace(/<!-- inputs:start -->\n[\s\S]*?\n<!-- inputs:end -->/, `<!-- inputs:start -->\n${inputsTable(a)}\n<!-- inputs:end -->`)
    .replace(/<!-- outputs:start -->\n[\s\S]*?\n<!-- outputs:end -->/, `<!-- outputs:start -->\n${outputsTable(a)}\n<!-- outputs:end -->`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const path = `${root}README.md`;
  writeFileSync(path, renderRegistries(render(readFileSync(path, 'utf8'), readActionYml())));
  console.log('README.md tables rewritten from action.yml and the registry profiles (__tests__/profiles/registries.ts)');
}
