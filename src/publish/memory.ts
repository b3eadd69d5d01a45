/**
 * Memory tuning for the copy engine (place.ts). Streamed blobs leave behind buffers that V8 frees
 * only when it next collects, so that a long copy's resident memory grows with its throughput. A
 * young-generation collection after every 32 MiB copied frees them and keeps it flat, for well
 * under a millisecond each time. gc is reached through V8's flag, as --expose-gc
 * would; where that is refused, nothing is collected early.
 */
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';

const COLLECT_EVERY_BYTES = 32 * 1024 * 1024;
let sinceCollect = 0;
let collect: (() => void) | undefined | null;

/** Counts bytes streamed; after every COLLECT_EVERY_BYTES, runs a young-generation collection. */
export function collectAfter(bytes: number): void {
  sinceCollect += bytes;
  if (sinceCollect < COLLECT_EVERY_BYTES) return;
  sinceCollect = 0;
  if (collect === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as (options?: { type: 'minor' | 'major' }) => void;
      collect = () => gc({ type: 'minor' });
    } catch {
      collect = null;
    }
  }
  collect?.();
}
