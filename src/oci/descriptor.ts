/**
 * The content descriptor (OCI image-spec descriptor.md): what every manifest, index entry, layer
 * and subject points with. Its own file so that the wire types (manifest.ts) and their checks
 * (validate.ts) both depend on it, and not on each other.
 */
import type { Digest } from './digest.ts';
import type { Platform } from './platform.ts';

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
}
