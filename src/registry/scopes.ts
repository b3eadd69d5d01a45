/** Token scopes (`repository:<name>:<actions>`, distribution's token scope grammar). Pure code. */

/** repository:<name>:<actions> scopes, merged per repository. */
export class ScopeSet {
  private readonly byRepo = new Map<string, Set<string>>();

  add(repository: string, ...actions: string[]): boolean {
    let set = this.byRepo.get(repository);
    if (!set) {
      set = new Set();
      this.byRepo.set(repository, set);
    }
    const before = set.size;
    for (const a of actions) set.add(a);
    return set.size !== before;
  }

  /** Adds the scopes a challenge asks for (space-separated `type:name:actions`). */
  addFromChallenge(scope: string | undefined): boolean {
    let changed = false;
    for (const s of (scope ?? '').split(' ')) {
      const parsed = parseScope(s);
      if (parsed && parsed.type === 'repository') changed = this.add(parsed.name, ...parsed.actions) || changed;
    }
    return changed;
  }

  /** Stable order: repositories sorted, actions in pull,push order. */
  toScopes(): string[] {
    const order = ['pull', 'push'];
    return [...this.byRepo.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([repo, actions]) => {
        const sorted = [...actions].sort((a, b) => {
          const ia = order.indexOf(a);
          const ib = order.indexOf(b);
          return (ia === -1 ? 99 : ia) - (ib === -1 ? 99 : ib) || (a < b ? -1 : 1);
        });
        return `repository:${repo}:${sorted.join(',')}`;
      });
  }
}

/**
 * Parses `type[(class)]:name:actions`. The name may hold a registry `host:port`, so the actions
 * are what follows the last ':' and the type what precedes the first.
 */
export function parseScope(scope: string): { type: string; name: string; actions: string[] } | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first) return undefined;
  const type = scope.slice(0, first).replace(/\(.*\)$/, '');
  const name = scope.slice(first + 1, last);
  const actions = scope
    .slice(last + 1)
    .split(',')
    .filter((a) => a !== '');
  if (!name) return undefined;
  return { type, name, actions };
}
