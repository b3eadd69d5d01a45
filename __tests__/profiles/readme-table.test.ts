/** README.md's Registries table is the profiles' (registries.ts): a test fails when they disagree. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { projectRoot } from '../helpers/action.ts';
import { PROFILES } from './registries.ts';
import { registriesTable } from './registries-table.ts';

const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');

describe("README's Registries table", () => {
  it('is the one the profiles give (npm run docs rewrites it)', () => {
    const m = /<!-- registries:start -->\n([\s\S]*?)\n<!-- registries:end -->/.exec(readme);
    assert.ok(m, 'README.md has the registries markers');
    assert.equal(m[1], registriesTable());
  });
  it('names every profile once, and every profile cites its sources', () => {
    assert.equal(new Set(PROFILES.map((p) => p.id)).size, PROFILES.length);
    for (const p of PROFILES) {
      assert.ok(readme.includes(`| ${p.name} |`), p.name);
      const sources = JSON.stringify(p).match(/"source":"[^"]*"/g) ?? [];
      assert.ok(sources.length > 0, p.id);
      for (const s of sources) assert.match(s, /"source":"https:\/\/[^\s"]+"/, `${p.id}: ${s}`);
    }
  });
  it('a changed profile changes the table (the check is not vacuous)', () => {
    const changed = PROFILES.map((p) => (p.id === 'quay' ? { ...p, deleteByTag: { allowed: false, source: p.deleteByTag!.source } } : p));
    assert.notEqual(registriesTable(changed), registriesTable());
  });
});
