// A restored data directory is on disk before it is given its name (docs/design.md, "Physical
// restore"). Extraction and prepare leave gigabytes in the page cache; were the node to lose power
// after the move into DIR but before the kernel wrote them back, the next start would find a data
// directory (restore-datadir does nothing then) with files torn or empty, and the server would run
// on it. So every file and directory of the staging tree is fsynced before the move, and the
// directories whose entries the move changed are fsynced after it.
import type { Dirent } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Flushes one file or directory to disk; the real one opens it read-only and fsyncs. */
export type SyncOne = (path: string) => Promise<void>;

/** Files synced at once: enough to keep a disk queue busy, few enough for any fd limit. */
const PARALLEL = 16;

export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
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

/**
 * The same flush, begun while prepare still runs: the disk writes back the extracted files while
 * prepare works on the CPU, so the strict syncTree after it finds little left to write. Best effort
 * and never fails: prepare may remove or replace files under it (what it changes, it dirties again
 * for the strict pass), and a directory removed while it is listed ends the pass. `stop` ends it
 * before the next file. Returns how many paths it flushed.
 */
export async function syncTreeEarly(root: string, syncOne: SyncOne = fsyncPath, stop?: AbortSignal): Promise<number> {
  const files: string[] = [];
  try {
    await walk(root, files, []);
  } catch {
    return 0;
  }
  let synced = 0;
  await inParallel(files, async (path) => {
    if (stop?.aborted) return;
    await Promise.resolve()
      .then(() => syncOne(path))
      .then(
        () => void (synced += 1),
        () => undefined,
      );
  });
  return synced;
}

async function walk(dir: string, files: string[], dirs: string[]): Promise<void> {
  dirs.push(dir);
  const entries: Dirent[] = await readdir(dir, { withFileTypes: true });
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await walk(path, files, dirs);
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
