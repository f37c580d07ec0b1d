// Temporary directories a worker makes for a database tool (its option file, mariabackup's work
// folder). The worker removes each when the tool ends; a worker killed outright (SIGKILL, the OOM
// killer) cannot, so each name carries the worker's pid and the next worker removes those of
// workers no longer running, whatever they held.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** Whether a process of this pid runs (one of another user counts: it is not ours to judge). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the `prefix` directories under `parent` left by workers that were killed before they could. */
async function removeLeftovers(parent: string, prefix: string): Promise<void> {
  const owned = new RegExp(`^${prefix}(\\d+)-`);
  const names = await readdir(parent).catch(() => []);
  for (const name of names) {
    const pid = Number(owned.exec(name)?.[1] ?? Number.NaN);
    if (!Number.isInteger(pid) || pid === process.pid || running(pid)) continue;
    await rm(join(parent, name), { recursive: true, force: true }).catch(() => undefined);
  }
}

/** A new directory `<parent>/<prefix><pid>-XXXXXX` (mode 0700), after removing dead workers' ones. */
export async function makeWorkerDir(parent: string, prefix: string): Promise<string> {
  await removeLeftovers(parent, prefix);
  return mkdtemp(join(parent, `${prefix}${process.pid}-`));
}
