import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { releaseNotes } from '../../../scripts/release-notes.ts';

const changelog = `# Changelog

## 1.2.3 (2026-12-01)

- Fixed a thing.

## 1.2.2 (2026-11-01)

- Older.

## 2.0.0 (unreleased)

- Next.

## 1.0.0

`;

describe('release notes from CHANGELOG.md', () => {
  it('takes the body of the tag version section, up to the next section', () => {
    assert.equal(releaseNotes(changelog, 'v1.2.3', '1.2.3'), '- Fixed a thing.\n');
    assert.equal(releaseNotes(changelog, 'v1.2.2', '1.2.2'), '- Older.\n');
  });
  const refused: Array<[string, string, RegExp]> = [
    ['1.2.3', '1.2.3', /Invalid release tag '1\.2\.3'/],
    ['v1.2', '1.2.0', /Invalid release tag/],
    ['v1.2.3-rc.1', '1.2.3', /Invalid release tag/],
    ['v1.2.3', '1.2.4', /package\.json's version is 1\.2\.4/],
    ['v1.2.4', '1.2.4', /no section '## 1\.2\.4'/],
    ['v2.0.0', '2.0.0', /marked unreleased/],
    ['v1.0.0', '1.0.0', /is empty/],
  ];
  for (const [tag, version, error] of refused) {
    it(`refuses ${tag} with package.json at ${version}`, () => assert.throws(() => releaseNotes(changelog, tag, version), error));
  }
});
