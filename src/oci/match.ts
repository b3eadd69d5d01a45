/**
 * Platform matching and ordering, as containerd/platforms resolves which entry of an index a host
 * pulls (ported by its test vectors). The action uses it to show, for a platform, the entry a
 * client would select (`inspect --platform`).
 */
import { type Platform, normalize } from './platform.ts';

export interface Matcher {
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
export function newMatcher(platform: Platform): Matcher {
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
export function platformVector(platform: Platform): Platform[] {
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
export function ordered(...platforms: Platform[]): MatchComparer {
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

/** Matches any of the platforms with no preference among them. */
export function any(...platforms: Platform[]): MatchComparer {
  const matchers = platforms.map(newMatcher);
  const self: MatchComparer = {
    match: (p) => matchers.some((m) => m.match(p)),
    less(p1, p2) {
      const m1 = matchers.some((m) => m.match(p1));
      const m2 = matchers.some((m) => m.match(p2));
      if (m1 && m2) return features(p1).length > features(p2).length;
      if (!m1 && !m2 && (features(p1).length || features(p2).length)) return self.less(withoutFeatures(p1), withoutFeatures(p2));
      return m1 && !m2;
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

/** Exactly the platform (in its normalized form). */
export function onlyStrict(platform: Platform): MatchComparer {
  return ordered(normalize(platform));
}

/**
 * Any platform of the same OS (and no OS feature beyond the platform's); the exact platform first,
 * then the rest of its OS.
 */
export function onlyOS(platform: Platform): MatchComparer {
  const p = normalize(platform);
  const allowed = new Set(features(p));
  const strict = newMatcher(p);
  const sameOS = (c: Platform) => normalize(c).os === p.os && features(c).every((f) => allowed.has(f));
  const rank = (c: Platform) => (strict.match(c) ? 0 : sameOS(c) ? 1 : 2);
  return { match: sameOS, less: (a, b) => rank(a) < rank(b) };
}

/** A stable sort with a comparer's preference; `platformOf` reads the platform of an item. */
export function sortPlatforms<T>(items: T[], comparer: MatchComparer, platformOf: (item: T) => Platform = (i) => i as Platform): T[] {
  return [...items].sort((a, b) => {
    const pa = platformOf(a);
    const pb = platformOf(b);
    return comparer.less(pa, pb) ? -1 : comparer.less(pb, pa) ? 1 : 0;
  });
}

// Windows: which container builds a host build runs (containerd platform_windows_compat.go).

interface WindowsVersion {
  major: number;
  minor: number;
  build: number;
}

/** Windows Server 2022: from this build on, hosts run containers of any build from it to their own. */
const V21H2_SERVER = 20348;
const COMPAT_LTSC_RELEASES = [V21H2_SERVER];

export function parseWindowsVersion(osVersion: string): WindowsVersion | undefined {
  const parts = osVersion.split('.');
  if (parts.length < 3) return undefined;
  const [major, minor, build] = parts.map((x) => (/^\d+$/.test(x) ? Number(x) : Number.NaN));
  if (!(major! <= 255 && minor! <= 255 && build! <= 65535)) return undefined;
  return { major: major as number, minor: minor as number, build: build as number };
}

export function windowsHostRunsContainer(host: WindowsVersion, ctr: WindowsVersion): boolean {
  if (host.major !== ctr.major || host.minor !== ctr.minor) return false;
  if (host.build < V21H2_SERVER) return host.build === ctr.build;
  const supported = [...COMPAT_LTSC_RELEASES].reverse().find((r) => host.build >= r) ?? 0;
  return ctr.build >= supported && ctr.build <= host.build;
}

/**
 * The matcher of a Windows host: the default match, and an os.version the host's build runs
 * (a candidate without os.version always passes). Prefers the highest os.version.
 */
export function windowsHostMatcher(host: Platform): MatchComparer {
  const base = newMatcher(host);
  const hostVersion = host['os.version'] ? parseWindowsVersion(host['os.version']) : undefined;
  const versionOk = (v: string | undefined) => {
    if (!hostVersion || !v) return true;
    const ctr = parseWindowsVersion(v);
    return ctr !== undefined && windowsHostRunsContainer(hostVersion, ctr);
  };
  const match = (p: Platform) => base.match(p) && (normalize(host).os !== 'windows' || versionOk(p['os.version']));
  return {
    match,
    less(p1, p2) {
      const m1 = match(p1);
      const m2 = match(p2);
      if (m1 && m2) return (p1['os.version'] ?? '') > (p2['os.version'] ?? '');
      return m1 && !m2;
    },
  };
}
