/**
 * Security review (attack branch): registry data that reaches the pushed index unchecked.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseManifest } from '../../../src/oci/manifest.ts';

const digest = `sha256:${'a'.repeat(64)}` as const;

describe('attack: a manifest media type taken from Content-Type is checked like one in the body', () => {
  it('an image manifest without mediaType, served with a Content-Type that is not a media type, is refused', () => {
    // distribution-spec: mediaType is optional in an OCI manifest; the kind then comes from the
    // Content-Type header, which the registry chooses freely (any visible characters but ';').
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest, size: 2 }, layers: [] }));
    const contentType = 'x/<img src=x onerror=alert(1)> | ::error::owned';
    let parsed: ReturnType<typeof parseManifest> | undefined;
    try {
      parsed = parseManifest({ bytes, digest, mediaType: contentType }, 'evil.example/app:t');
    } catch {
      return; // refused: what a fix does
    }
    assert.fail(`accepted with mediaType ${JSON.stringify(parsed.mediaType)}: it becomes the descriptor's mediaType in the pushed index (resolve.ts:84)`);
  });
});
