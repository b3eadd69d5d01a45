/**
 * Files the inputs name (source-files, and OCI layouts): read as files, from where the job's own
 * files live, and bounded. Only a regular file is read (checked with lstat, and again on the open
 * descriptor: no symlink, FIFO, device or socket), whose real path lies under one of the allowed
 * roots (the workspace and the runner's temp folder: procfs, /etc and the home folder are out),
 * of at most MAX_FILE_BYTES and MAX_FILE_LINES. Errors name the file, never quote its content.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, realpathSync } from 'node:fs';
import { isAbsolute, relative, sep } from 'node:path';
import { ActionError } from './errors.ts';

/** The largest file read (a source list or build metadata JSON is a few KiB). */
export const MAX_FILE_BYTES = 1024 * 1024;
/** The most lines a file may have (a source list names tens of images). */
export const MAX_FILE_LINES = 1000;

/** Where files may be read from: real paths of folders (the workspace, RUNNER_TEMP). */
export interface FileRoots {
  roots: string[];
}

/** The allowed roots of a job: `workspace` and RUNNER_TEMP when set, as real paths (missing ones left out). */
export function jobRoots(workspace: string, env: NodeJS.ProcessEnv = process.env): FileRoots {
  const roots = new Set<string>();
  for (const dir of [workspace, env.RUNNER_TEMP]) {
    if (!dir) continue;
    try {
      roots.add(realpathSync(dir));
    } catch {
      // a root that does not exist holds no files
    }
  }
  return { roots: [...roots] };
}

/** True when `path` (a real path) is `root` or inside it. */
export function isUnder(path: string, root: string): boolean {
  const r = relative(root, path);
  return r === '' || (!r.startsWith(`..${sep}`) && r !== '..' && !isAbsolute(r));
}

function refused(shownAs: string, why: string, hint?: string): ActionError {
  return ActionError.input(`Invalid file '${shownAs}': ${why}`, { hint });
}

/**
 * Reads `path` as UTF-8 under the file rules, or fails naming it (`shownAs`). The checks are made
 * on the path (lstat, realpath) and again on the opened descriptor (same inode, regular file), so
 * that a path swapped for a symlink or FIFO between them is not followed or waited on.
 */
export function readBoundedFile(path: string, shownAs: string, allowed: FileRoots): string {
  const { fd, size } = openRegularFile(path, shownAs, allowed, MAX_FILE_BYTES);
  try {
    // One byte more than allowed tells a file that grew past the limit.
    const buf = Buffer.alloc(Math.min(MAX_FILE_BYTES + 1, Math.max(size, 0) + 1));
    let n = 0;
    for (let got = -1; got !== 0 && n < buf.length; n += got) got = readSync(fd, buf, n, buf.length - n, n);
    if (n > MAX_FILE_BYTES) throw refused(shownAs, `it has more than the ${MAX_FILE_BYTES} bytes read`);
    if (n === buf.length) throw refused(shownAs, 'it changed while being read');
    const text = buf.subarray(0, n).toString('utf8');
    let lines = 1;
    for (let i = text.indexOf('\n'); i !== -1 && i < text.length - 1; i = text.indexOf('\n', i + 1)) lines++;
    if (lines > MAX_FILE_LINES) throw refused(shownAs, `it has more than the ${MAX_FILE_LINES} lines read`);
    return text;
  } finally {
    closeSync(fd);
  }
}

/**
 * Opens `path` for reading under the file rules (a regular file, not a symlink, real path under
 * the allowed roots, at most `maxBytes`), checked on the path and again on the opened descriptor.
 * The caller closes the descriptor.
 */
export function openRegularFile(path: string, shownAs: string, allowed: FileRoots, maxBytes: number): { fd: number; size: number } {
  let st;
  try {
    st = lstatSync(path);
  } catch (e) {
    throw refused(shownAs, `it cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (st.isSymbolicLink()) throw refused(shownAs, 'it is a symbolic link; only regular files are read', 'Name the file itself');
  if (!st.isFile()) throw refused(shownAs, 'it is not a regular file (a FIFO, device, socket or folder)');
  const real = realpathSync(path);
  if (!allowed.roots.some((root) => isUnder(real, root))) {
    throw refused(shownAs, `it lies outside the workspace and the runner's temp folder (${allowed.roots.join(', ') || 'none set'})`, 'Download or write the file under GITHUB_WORKSPACE or RUNNER_TEMP');
  }
  if (st.size > maxBytes) throw refused(shownAs, `it has ${st.size} bytes, more than the ${maxBytes} read`);
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  const opened = fstatSync(fd);
  if (!opened.isFile() || opened.ino !== st.ino || opened.dev !== st.dev) {
    closeSync(fd);
    throw refused(shownAs, 'it changed while being read');
  }
  return { fd, size: opened.size };
}
