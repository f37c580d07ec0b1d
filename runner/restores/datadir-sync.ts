// A restored data directory is on disk before it is given its name (docs/design.md, "Physical
// restore"). Extraction and prepare leave gigabytes in the page cache; were the node to lose power
// after the move into DIR but before the kernel wrote them back, the next start would find a data
// directory (restore-datadir does nothing then) with files torn or empty, and the server would run
// on it. So every file and directory of the staging tree is fsynced before the move, and the
// directories whose entries the move changed are fsynced after it.
import { constants, type Dirent } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Flushes one file or directory to disk; the real one opens it read-only and fsyncs. */
export type SyncOne = (path: string) => Promise<void>;

/** Files synced at once: enough to keep a disk queue busy, few enough for any fd limit. */
const PARALLEL = 16;

export async function fsyncPath(path: string): Promise<void> {
  // Non-blocking: were a listed file replaced by a FIFO before it is opened, a plain open would wait
  // for a writer forever, holding a libuv thread the process cannot exit without. The fsync then
  // fails instead (EINVAL); regular files and directories open as before.
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Fsyncs every regular file and directory under `root`, and `root` itself, children before their
 * directory. Returns how many were synced. Symbolic links are not followed (a data directory may
 * hold links to elsewhere; what they point at is not part of this restore).
 */
export async function syncTree(root: string, syncOne: SyncOne = fsyncPath): Promise<number> {
  const files: string[] = [];
  const dirs: string[] = [];
  await walk(root, files, dirs);
  await inParallel(files, syncOne);
  // Deepest first, so that a directory is synced after the entries made in it.
  for (const dir of dirs.reverse()) await syncOne(dir);
  return files.length + dirs.length;
}

/** The least pause between two early passes; a pass that took longer makes the pause twice its length. */
export const EARLY_PAUSE_MS = 250;

/**
 * The same flush, begun as soon as the extractor writes and repeated until `stop`: the disk writes
 * back the extracted files while the archive still streams in and while prepare runs, instead of
 * all at once after prepare. Best effort and never fails: the extractor and prepare still write,
 * remove or replace files under it (what they change, they dirty again for the strict syncTree
 * after prepare), and a directory removed while it is listed ends that pass. Each pass flushes only
 * the files whose size or modification time changed since they were last flushed: on ext4 a
 * flush of an unchanged file can still cost the disk a cache flush. Passes are paced by their own
 * length, so that a tree of many tables spends at most a third of the time in them.
 */
export async function syncTreeWhileWritten(
  root: string,
  stop: AbortSignal,
  syncOne: SyncOne = fsyncPath,
  pauseMs = EARLY_PAUSE_MS,
): Promise<void> {
  const flushed = new Map<string, string>();
  while (!stop.aborted) {
    const started = Date.now();
    await earlyPass(root, flushed, syncOne, stop);
    await pause(Math.max(pauseMs, 2 * (Date.now() - started)), stop);
  }
}

/** One early pass: flushes the files changed since `flushed` last saw them, and records them. */
async function earlyPass(
  root: string,
  flushed: Map<string, string>,
  syncOne: SyncOne,
  stop: AbortSignal,
): Promise<void> {
  const files: string[] = [];
  try {
    await walk(root, files, [], stop);
  } catch {
    return;
  }
  await inParallel(files, async (path) => {
    if (stop.aborted) return;
    // Read before the flush: a write between the two makes the next pass flush the file again.
    const seen = await signature(path);
    if (seen === undefined || flushed.get(path) === seen) return;
    await Promise.resolve()
      .then(() => syncOne(path))
      .then(
        () => void flushed.set(path, seen),
        () => undefined,
      );
  });
}

async function signature(path: string): Promise<string | undefined> {
  try {
    const s = await stat(path, { bigint: true });
    return `${s.size}:${s.mtimeNs}:${s.ino}`;
  } catch {
    return undefined;
  }
}

function pause(ms: number, stop: AbortSignal): Promise<void> {
  if (stop.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      stop.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    stop.addEventListener('abort', done, { once: true });
  });
}

/** Lists the tree; once `stop` fires, an early pass's listing ends at the next directory. */
async function walk(dir: string, files: string[], dirs: string[], stop?: AbortSignal): Promise<void> {
  if (stop?.aborted) return;
  dirs.push(dir);
  const entries: Dirent[] = await readdir(dir, { withFileTypes: true });
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await walk(path, files, dirs, stop);
    else if (entry.isFile()) files.push(path);
  }
}

async function inParallel(paths: readonly string[], syncOne: SyncOne): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < paths.length) {
      const path = paths[next++];
      if (path !== undefined) await syncOne(path);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, paths.length) }, lane));
}
