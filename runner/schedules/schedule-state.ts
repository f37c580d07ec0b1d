// What a ScheduledBackup's status says, derived from the Backups it created: pure, so that a new
// leader, reading the same objects, continues exactly where the old one stopped.
import type { Backup, ScheduledBackup } from '../../crds/kinds.js';
import { REASONS } from '../status/conditions.js';
import type { Stored } from '../status/status-writer.js';

export type StoredSchedule = Stored<ScheduledBackup>;
export type StoredBackupOf = Stored<Backup>;

const ENDED = new Set(['completed', 'failed']);

/** The Backups this schedule created: those it owns (by uid, so a re-created schedule starts afresh). */
export function childrenOf(schedule: StoredSchedule, backups: readonly unknown[]): StoredBackupOf[] {
  const uid = schedule.metadata.uid;
  if (!uid) return [];
  return (backups as StoredBackupOf[]).filter(
    (b) =>
      b.metadata.namespace === schedule.metadata.namespace &&
      (b.metadata.ownerReferences ?? []).some((o) => o.uid === uid && o.kind === 'ScheduledBackup'),
  );
}

/** Children not yet completed or failed: what concurrencyPolicy is about. */
export function activeChildren(children: readonly StoredBackupOf[]): StoredBackupOf[] {
  // One being deleted is on its way out (its worker is stopping): it no longer counts as running.
  return children.filter((b) => !ENDED.has(b.status?.phase ?? '') && !b.metadata.deletionTimestamp);
}

function newestEnded(children: readonly StoredBackupOf[], phase: 'completed' | 'failed'): StoredBackupOf | undefined {
  let newest: StoredBackupOf | undefined;
  for (const b of children) {
    if (b.status?.phase !== phase) continue;
    if (!newest || endOf(b) > endOf(newest)) newest = b;
  }
  return newest;
}

function endOf(backup: StoredBackupOf): string {
  return backup.status?.stoppedAt ?? backup.metadata.creationTimestamp ?? '';
}

export interface ChildOutcomes {
  readonly lastSuccessfulBackup?: string | undefined;
  readonly lastFailedBackup?: string | undefined;
}

/** The newest completed and the newest failed child, by when they ended. */
export function childOutcomes(children: readonly StoredBackupOf[]): ChildOutcomes {
  return {
    lastSuccessfulBackup: newestEnded(children, 'completed')?.metadata.name,
    lastFailedBackup: newestEnded(children, 'failed')?.metadata.name,
  };
}

/**
 * Ticks after this have not been handled: the newest of the tick a Backup was created for, the
 * tick skipped last, and the schedule's creation (a new schedule does not catch up the past).
 */
export function handledUpTo(schedule: StoredSchedule): Date {
  const times = [
    schedule.status?.lastScheduleTime,
    schedule.status?.lastSkippedTime,
    schedule.metadata.creationTimestamp,
  ]
    .filter((t): t is string => typeof t === 'string')
    .map((t) => Date.parse(t))
    .filter((t) => Number.isFinite(t));
  return new Date(times.length > 0 ? Math.max(...times) : 0);
}

/**
 * Whether a missed tick may still be caught up at `now`: within startingDeadlineSeconds, or always
 * when that is absent (one catch-up however old, as a CronJob does); 0 never.
 */
export function mayCatchUp(schedule: StoredSchedule, tick: Date, now: Date): boolean {
  const deadline = schedule.spec.startingDeadlineSeconds;
  if (deadline === undefined) return true;
  return now.getTime() - tick.getTime() <= deadline * 1000;
}

const DAY_MS = 86_400_000;

/**
 * Where to look back to for the newest missed tick (exclusive), or undefined when none can have
 * been missed. status.nextScheduleTime, written whenever a timer is armed or fires, is the first
 * tick not yet handled: one due at or before now was missed. Without it (a status lost, a schedule
 * never armed) the look-back is startingDeadlineSeconds, at most a day. Ticks that came while the
 * schedule was suspended were not missed.
 */
export function lookBackFrom(schedule: StoredSchedule, after: Date, now: Date): Date | undefined {
  const ready = schedule.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.reason === REASONS.ScheduleSuspended) return undefined;
  const due = Date.parse(schedule.status?.nextScheduleTime ?? '');
  if (Number.isFinite(due)) return due > now.getTime() ? undefined : new Date(Math.max(after.getTime(), due - 1));
  const windowMs = Math.min((schedule.spec.startingDeadlineSeconds ?? Infinity) * 1000, DAY_MS);
  return new Date(Math.max(after.getTime(), now.getTime() - windowMs));
}
