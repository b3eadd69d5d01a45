/**
 * No import cycles in src/, type-only imports included: a cycle means two modules each need the
 * other, and the types that tie them belong in a third (as publish/result.ts and oci/descriptor.ts).
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const src = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'src');

/** Every module of src/ and the modules of src/ it imports or re-exports from (relative specifiers). */
function importGraph(root: string): Map<string, string[]> {
  const files = readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(root, f));
  const known = new Set(files);
  return new Map(
    files.map((f) => {
      const text = readFileSync(f, 'utf8');
      const specifiers = [...text.matchAll(/^(?:import|export)\s[^;]*?\sfrom\s+'(\.[^']+)'|^import\s+'(\.[^']+)'/gms)].map((m) => (m[1] ?? m[2]) as string);
      const deps = specifiers.map((s) => resolve(dirname(f), s));
      return [f, deps.filter((d) => known.has(d))];
    }),
  );
}

/** Each cycle once, as the modules on it (relative to `root`), starting from its first module in sorted order. */
function cycles(graph: Map<string, string[]>, root: string): string[][] {
  const found = new Map<string, string[]>();
  for (const start of graph.keys()) {
    const stack: Array<[string, string[]]> = [[start, [start]]];
    const seen = new Set<string>();
    while (stack.length) {
      const [node, path] = stack.pop() as [string, string[]];
      for (const next of graph.get(node) ?? []) {
        if (next === start) {
          const names = path.map((p) => relative(root, p));
          found.set([...names].sort().join(' '), names);
        } else if (!seen.has(next)) {
          seen.add(next);
          stack.push([next, [...path, next]]);
        }
      }
    }
  }
  return [...found.values()];
}

describe('import cycles', () => {
  it('finds a cycle through a type-only import (the check can fail)', () => {
    const g = new Map([
      ['/r/a.ts', ['/r/b.ts']],
      ['/r/b.ts', ['/r/c.ts']],
      ['/r/c.ts', ['/r/a.ts']],
      ['/r/d.ts', ['/r/a.ts']],
    ]);
    assert.deepEqual(cycles(g, '/r').map((c) => [...c].sort()), [['a.ts', 'b.ts', 'c.ts']]);
  });
  it('src/ has none', () => {
    const graph = importGraph(src);
    assert.ok(graph.size > 40, `read src/ (${graph.size} modules)`);
    assert.deepEqual(cycles(graph, src), []);
  });
});
