/**
 * Platform matching and ordering, as containerd/platforms resolves which entry of an index a host
 * pulls (ported by its test vectors): `only` and its preference order. The action uses it to show,
 * for a platform, the entry a client would select (`inspect --platform`).
 */
import { type Platform, normalize } from './platform.ts';

interface Matcher {
  match(candidate: Platform): boolean;
}

export interface MatchComparer extends Matcher {
  /** True when `a` should be preferred over `b`. */
  less(a: Platform, b: Platform): boolean;
}

const features = (p: Platform) => (p['os.features'] ?? []).filter((f) => f !== '');

/**
 * The default matcher: the same normalized os, architecture and variant, and no OS feature the
 * matcher's platform lacks. os.version is not compared (that is the Windows matcher's job).
 */
function newMatcher(platform: Platform): Matcher {
  const m = normalize(platform);
  const allowed = new Set(features(m));
  return {
    match(candidate) {
      const c = normalize(candidate);
      return (
        c.os === m.os &&
        c.architecture === m.architecture &&
        (c.variant ?? '') === (m.variant ?? '') &&
        features(c).every((f) => allowed.has(f))
      );
    },
  };
}

const withVariant = (p: Platform, variant: string | undefined, architecture = p.architecture): Platform => {
  const out: Platform = { ...p, architecture };
  if (variant) out.variant = variant;
  else delete out.variant;
  return out;
};

/** The platforms a host of `platform` can also run, most preferred first (containerd's platformVector). */
function platformVector(platform: Platform): Platform[] {
  const vector: Platform[] = [platform];
  const version = (v: string | undefined) => Number.parseInt((v ?? '').replace(/^v/, ''), 10);
  switch (platform.architecture) {
    case 'amd64': {
      const v = version(platform.variant);
      if (Number.isInteger(v) && v > 1) for (let i = v - 1; i >= 1; i--) vector.push(withVariant(platform, `v${i}`));
      vector.push(withVariant(platform, undefined, '386'));
      break;
    }
    case 'arm': {
      const v = version(platform.variant);
      if (Number.isInteger(v) && v > 5) for (let i = v - 1; i >= 5; i--) vector.push(withVariant(platform, `v${i}`));
      break;
    }
    case 'arm64': {
      let variant = platform.variant || 'v8';
      const [majorText, minorText] = variant.split('.');
      let major = version(majorText);
      if (Number.isInteger(major) && major >= 8) {
        let minor = 0;
        if (variant.length === 4 && minorText !== undefined && /^\d+$/.test(minorText)) minor = Number(minorText);
        const push = (maj: number, from: number) => {
          for (let m = from; m >= 0; m--) vector.push(withVariant(platform, m === 0 ? `v${maj}` : `v${maj}.${m}`));
        };
        if (major === 9) {
          push(9, minor - 1);
          // v9.0 diverged from v8.5: v9.x runs v8.{x+5}, up to v8.9, the last Armv8 extension.
          minor = Math.min(minor + 5, 9);
          major = 8;
          vector.push(withVariant(platform, `v8.${minor}`));
        }
        push(major, minor - 1);
      }
      // Every arm64 runs 32-bit arm up to v8.
      if (variant.startsWith('v8.') || variant.startsWith('v9.')) variant = 'v8';
      vector.push(...platformVector(withVariant(platform, variant, 'arm')));
      break;
    }
  }
  return vector;
}

/** Matches any of the platforms, preferring them in the order given. */
function ordered(...platforms: Platform[]): MatchComparer {
  const matchers = platforms.map(newMatcher);
  const self: MatchComparer = {
    match: (p) => matchers.some((m) => m.match(p)),
    less(p1, p2) {
      for (const m of matchers) {
        const m1 = m.match(p1);
        const m2 = m.match(p2);
        if (m1 && !m2) return true;
        if (m1 || m2) return m1 && m2 && features(p1).length > features(p2).length;
      }
      // Neither matches: compare again without OS features.
      if (features(p1).length || features(p2).length) return self.less(withoutFeatures(p1), withoutFeatures(p2));
      return false;
    },
  };
  return self;
}

function withoutFeatures(p: Platform): Platform {
  const { 'os.features': _dropped, ...rest } = p;
  return rest;
}

/** The platform and everything it can run (amd64 runs 386, arm/v7 runs v6 and v5, …). */
export function only(platform: Platform): MatchComparer {
  return ordered(...platformVector(normalize(platform)));
}

/** A stable sort with a comparer's preference; `platformOf` reads the platform of an item. */
export function sortPlatforms<T>(items: T[], comparer: MatchComparer, platformOf: (item: T) => Platform = (i) => i as Platform): T[] {
  return [...items].sort((a, b) => {
    const pa = platformOf(a);
    const pb = platformOf(b);
    return comparer.less(pa, pb) ? -1 : comparer.less(pb, pa) ? 1 : 0;
  });
}

/**
 * A platform filter (the `platforms` input, an annotation's `[platform]`) selects an entry when
 * their normalized os, architecture and variant are equal (so `linux/arm64` selects
 * `linux/arm64/v8` and `linux/arm/v7` selects `linux/arm`, as containerd's matcher does), the
 * filter's os.version, if it names one, is the entry's or a prefix of it at a dot
 * (`windows(10.0.20348)` selects 10.0.20348.2655), and the entry has the filter's os.features.
 * Unlike a pull, nothing else is selected: `linux/amd64` does not select `linux/386`.
 */
export function matchesFilter(filter: Platform, entry: Platform): boolean {
  const f = normalize(filter);
  const e = normalize(entry);
  if (f.os !== e.os || f.architecture !== e.architecture || (f.variant ?? '') !== (e.variant ?? '')) return false;
  const version = f['os.version'];
  if (version) {
    const own = e['os.version'] ?? '';
    if (own !== version && !own.startsWith(`${version}.`)) return false;
  }
  const has = new Set(features(e));
  return features(f).every((x) => has.has(x));
}

/** True when the list selects the platform (an empty list selects every platform). */
export function selectedBy(filters: Platform[], entry: Platform): boolean {
  return filters.length === 0 || filters.some((f) => matchesFilter(f, entry));
}
