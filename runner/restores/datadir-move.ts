// The last step of restore-datadir: a prepared staging directory becomes DIR. Every move is a
// rename on one filesystem, so a file is either in the staging directory or in DIR, never half
// copied. The data directory's marker files (DATADIR_MARKERS) go in last and come out first:
// if the process dies half-way, DIR never looks like a finished data directory.
import { mkdir, readdir, rename, rm, rmdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from '../../lib/logger.js';
import { PrepareFailedError } from '../work-failures.js';
import { DATADIR_MARKERS, OLD_PREFIX } from './datadir-target.js';

/**
 * mariabackup's own files that a server does not read once the backup is prepared (its
 * --copy-back skips them too). The binlog-position and Galera files stay: they say which
 * position the data is at, and a Galera node bootstraps a new cluster from xtrabackup_galera_info.
 */
export const BACKUP_LEFTOVERS: readonly string[] = [
  'backup-my.cnf',
  'xtrabackup_binary',
  'xtrabackup_checkpoints',
  'mariadb_backup_checkpoints',
  'xtrabackup_logfile',
];

/** Deletes the leftovers from a prepared backup; returns the names it removed. */
export async function removeBackupLeftovers(dir: string): Promise<string[]> {
  const present = new Set(await readdir(dir));
  const removed = BACKUP_LEFTOVERS.filter((n) => present.has(n));
  await Promise.all(removed.map((n) => rm(join(dir, n), { force: true })));
  return removed;
}

/** Markers last, so that a half-made DIR is never taken for a data directory. */
export function moveOrder(names: readonly string[]): string[] {
  const isMarker = (n: string): boolean => DATADIR_MARKERS.includes(n);
  return [...names.filter((n) => !isMarker(n)), ...names.filter(isMarker)];
}

async function moveEach(names: readonly string[], from: string, to: string, moved: string[]): Promise<void> {
  for (const name of names) {
    await rename(join(from, name), join(to, name));
    moved.push(name);
  }
}

/**
 * Moves the entries of `staging` (inside DIR) up into DIR. `replace`: DIR's current entries,
 * first moved aside into DIR/.lifeboat-old-*, deleted only once every new entry is in place; on
 * a failure before that, what moved is moved back, so DIR holds its old contents again.
 */
export async function fillTarget(
  dir: string,
  staging: string,
  replace: readonly string[],
  logger: Logger,
): Promise<void> {
  const incoming = moveOrder(await readdir(staging));
  const oldDir = join(dir, `${OLD_PREFIX}${randomBytes(4).toString('hex')}`);
  const movedOut: string[] = [];
  const movedIn: string[] = [];
  try {
    if (replace.length > 0) {
      await mkdir(oldDir, { mode: 0o700 });
      await moveEach([...moveOrder(replace)].reverse(), dir, oldDir, movedOut);
    }
    await moveEach(incoming, staging, dir, movedIn);
  } catch (err) {
    await rollBack({ dir, staging, oldDir, movedIn, movedOut }, logger);
    throw new PrepareFailedError(
      `moving the prepared data directory into ${dir} failed (${(err as Error).message}); ${dir} holds what it held before`,
      { cause: err },
    );
  }
  await rmdir(staging);
  if (replace.length > 0) {
    logger.info({ dir, replaced: replace.length }, 'deleting the old contents of the target directory');
    await rm(oldDir, { recursive: true, force: true });
  }
}

async function rollBack(
  m: { dir: string; staging: string; oldDir: string; movedIn: string[]; movedOut: string[] },
  logger: Logger,
): Promise<void> {
  try {
    await moveEach([...m.movedIn].reverse(), m.dir, m.staging, []);
    await moveEach([...m.movedOut].reverse(), m.oldDir, m.dir, []);
    if (m.movedOut.length > 0) await rmdir(m.oldDir);
  } catch (err) {
    // Nothing is deleted here: the user's old files are still in oldDir, and the message says so.
    logger.error(
      { dir: m.dir, oldDir: m.oldDir, err: (err as Error).message },
      'could not move the old contents back; they are in the directory named here',
    );
  }
}
