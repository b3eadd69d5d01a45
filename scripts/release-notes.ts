/**
 * The release notes of one version: the body of CHANGELOG.md's `## X.Y.Z` section. The release
 * workflow runs `node scripts/release-notes.ts vX.Y.Z`; it fails when the tag is not X.Y.Z, when
 * package.json names another version, or when the section is missing, empty or still "unreleased".
 */
import { readFileSync } from 'node:fs';

const root = new URL('..', import.meta.url).pathname;

export function releaseNotes(changelog: string, tag: string, packageVersion: string): string {
  const m = /^v(\d+\.\d+\.\d+)$/.exec(tag);
  if (!m) throw new Error(`Invalid release tag '${tag}'. Expected vX.Y.Z, e.g. v1.2.3`);
  const version = m[1] as string;
  if (packageVersion !== version) throw new Error(`package.json's version is ${packageVersion}, the tag says ${version}: set "version": "${version}" first`);
  const lines = changelog.split('\n');
  const start = lines.findIndex((l) => new RegExp(`^## ${version.replace(/\./g, '\\.')}(\\s|$)`).test(l));
  if (start < 0) throw new Error(`CHANGELOG.md has no section '## ${version}'`);
  if (/unreleased/i.test(lines[start] as string)) throw new Error(`CHANGELOG.md's section '${lines[start]}' is marked unreleased: date it first`);
  const end = lines.findIndex((l, i) => i > start && /^## /.test(l));
  const body = lines.slice(start + 1, end < 0 ? undefined : end).join('\n').trim();
  if (!body) throw new Error(`CHANGELOG.md's section '## ${version}' is empty`);
  return `${body}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { version: string };
    process.stdout.write(releaseNotes(readFileSync(`${root}CHANGELOG.md`, 'utf8'), process.argv[2] ?? '', pkg.version));
  } catch (e) {
    process.stderr.write(`::error::${(e as Error).message}\n`);
    process.exitCode = 1;
  }
}
