/**
 * Reading the `append` base: what the first tag holds (a HEAD, read with the other tags), then the
 * index itself by digest. A registry may answer a tag, or its bytes, it has just written with a 404
 * for a moment (GHCR's read-after-push lag "usually resolves within seconds":
 * https://github.com/p2pool-starter-stack/pithead/issues/429), and a base taken as absent from one
 * such answer would drop every platform the tag already has. So a 404 is read again over a few
 * seconds: a tag still absent then is published to with a warning (only the sources' platforms);
 * a tag whose bytes are still absent fails the run, before any write.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ActionError } from '../errors.ts';
import { log } from '../log.ts';
import type { FetchedManifest } from '../oci/manifest.ts';
import type { Reference } from '../oci/reference.ts';
import type { Registries } from '../registry/registries.ts';
import { seconds } from '../registry/retry.ts';
import type { TagState } from './result.ts';
import { readTag } from './tag-read.ts';

/** The waits (ms) before each read again of a base that reads as absent: 3.5 s in all. Tests shorten them. */
export const appendSettle = { waitsMs: [500, 1000, 2000] };

export interface AppendRead {
  /** What the first tag holds, as last read. */
  state: TagState;
  /** The index it holds, undefined when it holds none. */
  fetched: FetchedManifest | undefined;
}

/**
 * Reads `read` again after each of appendSettle's waits until it gives something (or the waits
 * are spent). Returns the last answer, how many reads were made, and the time waited.
 */
async function settle<T>(first: T | undefined, read: () => Promise<T | undefined>): Promise<{ got: T | undefined; reads: number; waited: number }> {
  let got = first;
  let reads = 1;
  let waited = 0;
  for (const wait of appendSettle.waitsMs) {
    if (got !== undefined) break;
    await sleep(wait);
    waited += wait;
    got = await read();
    reads++;
  }
  return { got, reads, waited };
}

/** The base of an appending run at `tag`, first read as `first`. */
export async function readAppendBase(registries: Registries, tag: Reference, first: TagState): Promise<AppendRead> {
  if (!first.present) log.info(`append: ${tag} reads as absent; reading it again (a registry may answer 404 for a moment after a write)`);
  const tagRead = await settle(first.present ? first : undefined, async () => {
    const now = await readTag(registries, tag);
    return now.present ? now : undefined;
  });
  const state = tagRead.got;
  if (!state) {
    log.warning(`append: no index at ${tag} yet (absent in ${tagRead.reads} reads over ${seconds(tagRead.waited)}): publishing only the sources' platforms`);
    return { state: first, fetched: undefined };
  }
  if (tagRead.reads > 1) log.info(`append: ${tag} holds ${state.digest} (read ${tagRead.reads} times)`);

  // The bytes, by digest: a 404 here is read again too; any other failure stands.
  const what = `read the index at ${tag} (${state.digest}) to append to`;
  let missing: ActionError | undefined;
  const getBytes = async () => {
    try {
      return await registries.client(tag.domain).getManifest(tag.path, state.digest, what);
    } catch (e) {
      if (!(e instanceof ActionError) || e.status !== 404) throw e;
      missing = e;
      return undefined;
    }
  };
  const bytesRead = await settle(await getBytes(), getBytes);
  if (bytesRead.got) return { state, fetched: bytesRead.got };
  const quoted = missing?.diagnostics[0] ? `${missing.diagnostics[0].code}${missing.diagnostics[0].message ? `: ${missing.diagnostics[0].message}` : ''}` : 'HTTP 404';
  throw ActionError.registry(
    `append: ${tag} holds ${state.digest}, but the index itself could not be read (GET by digest answered ${quoted}, ${bytesRead.reads} times over ${seconds(bytesRead.waited)}); nothing was written`,
    { code: missing?.code, status: 404, detail: missing?.detail, hint: 'The registry has not caught up with a recent write of that tag: run again in a minute', cause: missing },
  );
}
