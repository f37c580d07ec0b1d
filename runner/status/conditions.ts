// Conditions (metav1.Condition) the runner writes, and the reasons it gives for them and for Events.
// `Ready` sums a resource up; each other type is one concern. Failure reasons of docs/design.md
// (crds/failure-reasons.ts) also appear as the reason of a False Ready.
import type { Static } from '@sinclair/typebox';
import type { FailureReason } from '../../crds/failure-reasons.js';
import { EXPIRED_CONDITION } from '../../crds/api-constants.js';
import type { Condition as ConditionSchema } from '../../crds/schema-helpers.js';

export type Condition = Static<typeof ConditionSchema>;

export const CONDITION_TYPES = {
  /** The resource has reached what it was asked for: a Backup or Restore is completed. */
  Ready: 'Ready',
  /** A worker is running the Backup (a process of the runner, or a Job). */
  WorkerRunning: 'WorkerRunning',
  /** The worker set wsrep_desync=ON on its Galera source; False once it is back OFF. */
  SourceDesynced: 'SourceDesynced',
  /**
   * A Cluster with spec.backup.rpo has no completed backup newer than the rpo. Absent when the
   * Cluster sets no rpo: without an objective there is nothing to be stale against.
   */
  BackupStale: 'BackupStale',
  /**
   * On a Backup that came from Git: retention deleted its archive and metadata.json. The Backup
   * stays (a GitOps tool would re-create a deleted one, and it would run again) and is not restorable.
   */
  Expired: EXPIRED_CONDITION,
} as const;

export type ConditionType = (typeof CONDITION_TYPES)[keyof typeof CONDITION_TYPES];

/** Reasons of conditions and Events, CamelCase. A test checks each is unique and equals its key. */
export const REASONS = {
  /** A runner claimed the Backup and started its worker. */
  BackupRunning: 'BackupRunning',
  /** The worker uploaded the archive and its metadata. */
  BackupCompleted: 'BackupCompleted',
  /** The Backup failed; status.reason says why. */
  BackupFailed: 'BackupFailed',
  /** A runner claimed the Restore (or a Cluster's bootstrap) and started its worker, or it waits for one. */
  RestoreRunning: 'RestoreRunning',
  /** The backup was verified and applied to the target. */
  RestoreCompleted: 'RestoreCompleted',
  /** The restore failed; status.reason says why. */
  RestoreFailed: 'RestoreFailed',
  /** The target records that this restore was applied before: nothing was applied again. */
  AlreadyApplied: 'AlreadyApplied',
  /** An Event: reading the archive broke off and went on from the byte where it stopped. */
  ReadResumed: 'ReadResumed',
  /** An Event: another restore applies to the same database server (another Cluster names it); this one waits. */
  TargetBusy: 'TargetBusy',
  /** The worker process or Job has started. */
  WorkerStarted: 'WorkerStarted',
  /** The worker has ended (or was found gone). */
  WorkerEnded: 'WorkerEnded',
  /** The runner already runs as many workers as `--max-workers` allows; the work starts when one ends. */
  WaitingForWorkerSlot: 'WaitingForWorkerSlot',
  /**
   * A Restore names a Cluster that does not exist (yet: a GitOps tool may apply it a moment later);
   * it waits, pending, with a Warning Event, instead of failing.
   */
  WaitingForCluster: 'WaitingForCluster',
  /** wsrep_desync=ON on the source for the backup. */
  DesyncedForBackup: 'DesyncedForBackup',
  /** wsrep_desync is back OFF on the source (by the worker, or by the runner after a dead worker). */
  DesyncRestored: 'DesyncRestored',
  /** The schedule's timer runs; the message says when the next Backup is due. */
  ScheduleActive: 'ScheduleActive',
  /** spec.suspend is true: the schedule creates no Backups. */
  ScheduleSuspended: 'ScheduleSuspended',
  /** spec.schedule or spec.timeZone does not parse (applied while the webhook was not checking). */
  InvalidSchedule: 'InvalidSchedule',
  /** The expression parses but names no time that comes (such as 29 February in node-cron's horizon). */
  NeverFires: 'NeverFires',
  /** A tick created its Backup (or found it created already). */
  BackupScheduled: 'BackupScheduled',
  /** A tick came while a Backup of the schedule still ran, and concurrencyPolicy is Forbid. */
  TickSkipped: 'TickSkipped',
  /** A tick was missed (runner down, lead changing hands) and is past startingDeadlineSeconds. */
  TickMissed: 'TickMissed',
  /** A tick's Backup could not be created (API server, admission); it is tried again. */
  TickFailed: 'TickFailed',
  /** A Backup still running was deleted for the tick's new one (concurrencyPolicy Replace). */
  BackupReplaced: 'BackupReplaced',
  /** A Backup the schedule created failed; the schedule keeps running. */
  ScheduledBackupFailed: 'ScheduledBackupFailed',
  /** BackupStale False: the newest completed backup is within the Cluster's rpo. */
  BackupWithinRpo: 'BackupWithinRpo',
  /** BackupStale False: no completed backup yet, but the Cluster is younger than its rpo. */
  AwaitingFirstBackup: 'AwaitingFirstBackup',
  /** BackupStale True: the newest completed backup is older than the Cluster's rpo. */
  BackupOlderThanRpo: 'BackupOlderThanRpo',
  /** BackupStale True: no completed backup at all, and the Cluster is older than its rpo. */
  NoBackupWithinRpo: 'NoBackupWithinRpo',
  /** A Cluster's Ready True: it has a completed backup, within its rpo, and its newest Backup did not fail. */
  ClusterProtected: 'ClusterProtected',
  /** A Cluster's Ready False: no completed backup to restore from (none yet, or all expired). */
  NoCompletedBackup: 'NoCompletedBackup',
  /** A Cluster's Ready False: its newest completed backup is older than its rpo. */
  BackupTooOld: 'BackupTooOld',
  /** A Cluster's Ready False: its newest finished Backup failed; an older completed one still exists. */
  LastBackupFailed: 'LastBackupFailed',
  /** Retention deleted the backup's objects; the Backup came from Git, so it stays, Expired. */
  RetentionExpired: 'RetentionExpired',
  /** Retention deleted the backup's objects and its Backup, which a ScheduledBackup had created. */
  RetentionDeleted: 'RetentionDeleted',
  /** Retention could not remove every backup it should (object store down, object locked); it tries again later. */
  RetentionIncomplete: 'RetentionIncomplete',
  /** An Event on a Backup retention would remove: its objects are under Object Lock, so it stays until the lock ends. */
  RetentionLocked: 'RetentionLocked',
  /** spec.backup.retention cannot be applied (keep below 1, maxAge not a duration): retention is off until it is fixed. */
  RetentionRuleInvalid: 'RetentionRuleInvalid',
} as const;

export type Reason = (typeof REASONS)[keyof typeof REASONS];

export interface ConditionInput {
  readonly type: ConditionType;
  readonly status: Condition['status'];
  readonly reason: Reason | FailureReason;
  readonly message: string;
}

export interface HasConditions {
  conditions?: Condition[];
}

export function getCondition(holder: HasConditions | undefined, type: ConditionType): Condition | undefined {
  return holder?.conditions?.find((c) => c.type === type);
}

/**
 * Sets a condition, keeping lastTransitionTime unless the status flips. observedGeneration is
 * stamped by the status writer, which knows the generation the change was made against.
 */
export function setCondition(holder: HasConditions, input: ConditionInput, now: Date): void {
  const conditions = holder.conditions ?? [];
  const existing = conditions.find((c) => c.type === input.type);
  const lastTransitionTime =
    existing && existing.status === input.status ? existing.lastTransitionTime : now.toISOString();
  const next: Condition = { ...existing, ...input, lastTransitionTime };
  holder.conditions = existing ? conditions.map((c) => (c === existing ? next : c)) : [...conditions, next];
}
