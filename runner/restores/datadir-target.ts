// What the target directory of `restore-datadir` holds, and what a restore may do with it. The
// decision is pure; only inspectTarget reads the disk. A data directory already there means
// "done" (a restarted init container must never restore twice); anything else that is not
// ours is the user's, and is only replaced when they said --overwrite.
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TargetNotEmptyError } from '../work-failures.js';

/** Entries whose presence shows a server's data directory (MariaDB or MySQL), prepared or in use. */
export const DATADIR_MARKERS: readonly string[] = ['ibdata1', 'mysql', 'aria_log_control', 'mysql.ibd', 'ib_logfile0'];

/** A filesystem's own directory: a fresh volume has it, and it is not data. */
const IGNORED = new Set(['lost+found']);

/** Staging directories of a restore; inside DIR, one left behind is a killed run's, never data. */
export const STAGING_PREFIX = '.lifeboat-restore-';
/** The old contents of DIR during an --overwrite, deleted only once the new ones are in place. */
export const OLD_PREFIX = '.lifeboat-old-';

export type TargetState =
  | { readonly kind: 'absent' }
  | { readonly kind: 'datadir'; readonly marker: string }
  | { readonly kind: 'empty'; readonly staleStaging: readonly string[] }
  | { readonly kind: 'occupied'; readonly entries: readonly string[]; readonly staleStaging: readonly string[] }
  | { readonly kind: 'interrupted-overwrite'; readonly oldDir: string };

export type TargetPlan =
  | { readonly action: 'nothing'; readonly marker: string }
  | { readonly action: 'create' }
  | { readonly action: 'fill'; readonly replace: readonly string[]; readonly staleStaging: readonly string[] };

/** Reads DIR's top level; a missing DIR is 'absent', any other read error is thrown as is. */
export async function inspectTarget(dir: string): Promise<TargetState> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'absent' };
    throw await unusableTarget(err, dir, 'read');
  }
  return classifyEntries(names);
}

const DENIED = new Set(['EACCES', 'EPERM']);

/**
 * A filesystem error on DIR (or the staging directory beside it) as what the user must change:
 * an init container whose runAsUser may not write its volume is the usual case. Other errors are
 * returned as they are.
 */
export async function unusableTarget(err: unknown, path: string, doing: 'read' | 'create'): Promise<unknown> {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const cannot = `${path} cannot be ${doing === 'read' ? 'read' : 'created'}`;
  if (code !== undefined && DENIED.has(code)) {
    const uid = process.getuid?.() ?? 'unknown';
    return new TargetNotEmptyError(
      `${cannot} (permission denied to uid ${uid}): give this user read and write access to it and its parent ` +
        "(in a pod: the container's runAsUser or the pod's fsGroup), or name another data directory with --to",
      { cause: err },
    );
  }
  if (code === 'EROFS') {
    return new TargetNotEmptyError(`${cannot}: the filesystem is read-only; name a writable data directory with --to`, {
      cause: err,
    });
  }
  if (code === 'ENOSPC') {
    return new TargetNotEmptyError(`${cannot}: no space left on its filesystem; free some, or use a larger volume`, {
      cause: err,
    });
  }
  if (code === 'ENOTDIR') {
    const itself = await stat(path).then(
      (st) => !st.isDirectory(),
      () => false,
    );
    const what = itself ? `${path} is a file` : `a part of ${path} is a file`;
    return new TargetNotEmptyError(`${what}, not a directory; name the data directory with --to`, { cause: err });
  }
  return err;
}

/** The state of a directory holding `names` at its top level. */
export function classifyEntries(names: readonly string[]): TargetState {
  const old = names.find((n) => n.startsWith(OLD_PREFIX));
  if (old !== undefined) return { kind: 'interrupted-overwrite', oldDir: old };
  const marker = DATADIR_MARKERS.find((m) => names.includes(m));
  if (marker !== undefined) return { kind: 'datadir', marker };
  const staleStaging = names.filter((n) => n.startsWith(STAGING_PREFIX));
  const entries = names.filter((n) => !IGNORED.has(n) && !n.startsWith(STAGING_PREFIX));
  return entries.length === 0 ? { kind: 'empty', staleStaging } : { kind: 'occupied', entries, staleStaging };
}

/**
 * What to do with DIR. Throws TargetNotEmptyError for entries that are not a data directory
 * without `overwrite`, and for the remains of an overwrite that was killed half-way (the old
 * contents are there, and only a person should decide about them).
 */
export function planTarget(dir: string, state: TargetState, overwrite: boolean): TargetPlan {
  switch (state.kind) {
    case 'absent':
      return { action: 'create' };
    case 'datadir':
      return { action: 'nothing', marker: state.marker };
    case 'empty':
      return { action: 'fill', replace: [], staleStaging: state.staleStaging };
    case 'interrupted-overwrite':
      throw new TargetNotEmptyError(
        `${dir} holds ${state.oldDir}, the old contents kept by an earlier --overwrite restore that was stopped before it finished; ` +
          `check ${join(dir, state.oldDir)}, move back or delete what you need, remove it, and run restore-datadir again`,
      );
    case 'occupied':
      if (overwrite) return { action: 'fill', replace: state.entries, staleStaging: state.staleStaging };
      throw new TargetNotEmptyError(
        `${dir} is not empty and holds no data directory (${describeEntries(state.entries)}); nothing was written to it: ` +
          'empty it, choose another --to, or pass --overwrite to replace its contents',
      );
  }
}

function describeEntries(entries: readonly string[]): string {
  const shown = entries.slice(0, 5).join(', ');
  return entries.length > 5 ? `${shown} and ${entries.length - 5} more` : shown;
}

/** Removes staging directories a killed run left inside DIR; they never hold verified data. */
export async function removeStaleStaging(dir: string, names: readonly string[]): Promise<void> {
  await Promise.all(names.map((n) => rm(join(dir, n), { recursive: true, force: true })));
}
