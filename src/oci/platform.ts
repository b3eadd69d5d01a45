/**
 * Platforms, ported from containerd/platforms by its test vectors: specifier parsing
 * (`os[(version+features)][/arch[/variant]]`), formatting, and normalization.
 */
import { ActionError } from '../errors.ts';

export interface Platform {
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  features?: string[];
}

const KNOWN_OS = new Set(
  'aix android darwin dragonfly freebsd hurd illumos ios js linux nacl netbsd openbsd plan9 solaris wasip1 windows zos'.split(
    ' ',
  ),
);
const KNOWN_ARCH = new Set(
  '386 amd64 amd64p32 arm armbe arm64 arm64be loong64 mips mipsle mips64 mips64le mips64p32 mips64p32le ppc ppc64 ppc64le riscv riscv64 s390 s390x sparc sparc64 wasm'.split(
    ' ',
  ),
);

export function isKnownOS(os: string): boolean {
  return KNOWN_OS.has(os);
}
export function isKnownArch(arch: string): boolean {
  return KNOWN_ARCH.has(arch);
}

export function normalizeOS(os: string): string {
  if (!os) return os;
  const lower = os.toLowerCase();
  return lower === 'macos' ? 'darwin' : lower;
}

/** containerd's normalizeArch: canonical GOARCH names and variants. */
export function normalizeArch(arch: string, variant: string): [string, string] {
  arch = arch.toLowerCase();
  variant = variant.toLowerCase();
  switch (arch) {
    case 'i386':
      return ['386', ''];
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      return ['amd64', variant === 'v1' ? '' : variant];
    case 'aarch64':
    case 'arm64':
      if (variant === '8' || variant === 'v8' || variant === 'v8.0') return ['arm64', ''];
      if (variant === '9' || variant === '9.0' || variant === 'v9.0') return ['arm64', 'v9'];
      return ['arm64', variant];
    case 'armhf':
      return ['arm', 'v7'];
    case 'armel':
      return ['arm', 'v6'];
    case 'arm':
      if (variant === '' || variant === '7') return ['arm', 'v7'];
      if (variant === '5' || variant === '6' || variant === '8') return ['arm', `v${variant}`];
      return ['arm', variant];
    default:
      return [arch, variant];
  }
}

/** A platform with os and architecture normalized (os.version/os.features kept). */
export function normalize(p: Platform): Platform {
  const [architecture, variant] = normalizeArch(p.architecture, p.variant ?? '');
  return compact({ ...p, os: normalizeOS(p.os), architecture, variant });
}

/** Drops empty optional fields so that equal platforms compare equal. */
export function compact(p: Platform): Platform {
  const out: Platform = { architecture: p.architecture, os: p.os };
  if (p['os.version']) out['os.version'] = p['os.version'];
  const osFeatures = (p['os.features'] ?? []).filter((f) => f !== '');
  if (osFeatures.length) out['os.features'] = osFeatures;
  if (p.variant) out.variant = p.variant;
  if (p.features?.length) out.features = p.features;
  return out;
}

/** The host's platform in GOOS/GOARCH terms (used for one-part specifiers, as containerd does). */
export function hostPlatform(): { os: string; architecture: string; variant: string } {
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  const archMap: Record<string, string> = { x64: 'amd64', ia32: '386', ppc64: 'ppc64le', arm: 'arm', arm64: 'arm64' };
  const architecture = archMap[process.arch] ?? process.arch;
  let variant = '';
  if (architecture === 'arm') {
    const v = Number((process.config.variables as Record<string, unknown>).arm_version ?? 7);
    variant = v === 7 ? '' : `v${v}`;
  }
  return { os, architecture, variant };
}

const SPECIFIER_PART = /^[A-Za-z0-9_.-]+$/;
const ENCODE = /[%+()/]/g;

function platformError(specifier: string, why: string): ActionError {
  return ActionError.platform(`invalid platform '${specifier}': ${why}`, {
    hint: 'Expected os/arch[/variant], e.g. linux/amd64, linux/arm64/v8, linux/arm/v7, windows/amd64',
  });
}

/** containerd platforms.Parse. */
export function parsePlatform(specifier: string): Platform {
  if (specifier.includes('*')) throw platformError(specifier, 'wildcards are not supported');
  const m = /^([^()/]*)(?:\(([^()]*)\))?(\/.*)?$/.exec(specifier);
  if (!m) throw platformError(specifier, 'malformed');
  const osPart = m[1] as string;
  const options = m[2];
  const parts = [osPart, ...(m[3] !== undefined ? m[3].slice(1).split('/') : [])];
  for (const part of parts) {
    if (!SPECIFIER_PART.test(part)) throw platformError(specifier, `'${part}' is not a valid component`);
  }
  let osVersion = '';
  let osFeatures: string[] = [];
  if (options !== undefined && options !== '') {
    const [version, ...features] = options.split('+');
    try {
      osVersion = decodeURIComponent(version ?? '');
      osFeatures = features.map((f) => decodeURIComponent(f)).filter((f) => f !== '');
    } catch {
      throw platformError(specifier, 'bad percent-encoding in os options');
    }
  }
  const withOsOptions = (p: Platform): Platform => compact({ ...p, 'os.version': osVersion, 'os.features': osFeatures });
  switch (parts.length) {
    case 1: {
      const os = normalizeOS(parts[0] as string);
      if (isKnownOS(os)) {
        const host = hostPlatform();
        return withOsOptions({ os, architecture: host.architecture, variant: host.variant });
      }
      if (options !== undefined) throw platformError(specifier, `unknown operating system '${parts[0]}'`);
      const [architecture, normalized] = normalizeArch(parts[0] as string, '');
      const variant = architecture === 'arm' && normalized === 'v7' ? '' : normalized;
      if (isKnownArch(architecture)) return compact({ os: hostPlatform().os, architecture, variant });
      throw platformError(specifier, 'unknown operating system or architecture');
    }
    case 2: {
      const [architecture, normalized] = normalizeArch(parts[1] as string, '');
      const variant = architecture === 'arm' && normalized === 'v7' ? '' : normalized;
      return withOsOptions({ os: normalizeOS(parts[0] as string), architecture, variant });
    }
    case 3: {
      const [architecture, normalized] = normalizeArch(parts[1] as string, parts[2] as string);
      const variant = architecture === 'arm64' && normalized === '' ? 'v8' : normalized;
      return withOsOptions({ os: normalizeOS(parts[0] as string), architecture, variant });
    }
    default:
      throw platformError(specifier, 'too many components');
  }
}

/** os/arch[/variant]. */
export function formatPlatform(p: Platform): string {
  return [p.os || 'unknown', p.architecture || 'unknown', p.variant].filter(Boolean).join('/');
}

const encodeOption = (s: string) => s.replace(ENCODE, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** os[(version+features)]/arch[/variant], as containerd FormatAll. */
export function formatPlatformAll(p: Platform): string {
  const features = [...(p['os.features'] ?? [])].filter((f) => f !== '').sort();
  let os = p.os || 'unknown';
  if (p['os.version'] || features.length) {
    os += `(${encodeOption(p['os.version'] ?? '')}${features.map((f) => `+${encodeOption(f)}`).join('')})`;
  }
  return [os, p.architecture || 'unknown', p.variant].filter(Boolean).join('/');
}

/** Two platforms are the same target when os, architecture, variant and os.version agree. */
export function platformKey(p: Platform): string {
  return `${p.os}/${p.architecture}/${p.variant ?? ''}/${p['os.version'] ?? ''}`;
}
