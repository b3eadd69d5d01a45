/** The parts of an image config (OCI image-spec config.md) that give the image's platform. */
import type { Platform } from './platform.ts';

export interface ImageConfig {
  os?: unknown;
  architecture?: unknown;
  variant?: unknown;
  'os.version'?: unknown;
  'os.features'?: unknown;
}

/** Platform from an image config blob. */
export function platformFromConfig(config: ImageConfig): Partial<Platform> {
  const p: Partial<Platform> = {};
  if (typeof config.os === 'string') p.os = config.os;
  if (typeof config.architecture === 'string') p.architecture = config.architecture;
  if (typeof config.variant === 'string' && config.variant) p.variant = config.variant;
  if (typeof config['os.version'] === 'string' && config['os.version']) p['os.version'] = config['os.version'];
  if (Array.isArray(config['os.features']) && config['os.features'].length) {
    p['os.features'] = config['os.features'].filter((f): f is string => typeof f === 'string');
  }
  return p;
}
