/** The parts of an image config (OCI image-spec config.md) that give the image's platform. */
import type { Platform } from './platform.ts';
import { InvalidField, invalidData, isRecord, optionalPlatformFields, present, token } from './validate.ts';

/** An image config as parsed JSON: untrusted until platformFromConfig has checked it. */
export interface ImageConfig {
  os?: unknown;
  architecture?: unknown;
  variant?: unknown;
  'os.version'?: unknown;
  'os.features'?: unknown;
}

/**
 * The platform an image config gives: os and architecture (absent ones are left out, for the
 * caller to report or override), variant, os.version and os.features. A field of the wrong type
 * or form fails the run with an error naming `where` and the field.
 */
export function platformFromConfig(config: unknown, where: string): Partial<Platform> {
  try {
    if (!isRecord(config)) throw new InvalidField('config', config, 'a JSON object');
    const p: Partial<Platform> = {};
    if (present(config.os)) p.os = token(config.os, 'os');
    if (present(config.architecture)) p.architecture = token(config.architecture, 'architecture');
    const rest = optionalPlatformFields(config, '', false);
    if (rest['os.features']?.length === 0) delete rest['os.features'];
    return { ...p, ...rest };
  } catch (e) {
    if (e instanceof InvalidField) throw invalidData(e, 'image config', where);
    throw e;
  }
}
