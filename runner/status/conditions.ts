// Conditions (metav1.Condition) the runner writes, and the reasons it gives for them and for Events.
// `Ready` sums a resource up; each other type is one concern. Failure reasons of docs/design.md
// (crds/failure-reasons.ts) also appear as the reason of a False Ready.
import type { Static } from '@sinclair/typebox';
import type { FailureReason } from '../../crds/failure-reasons.js';
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
   * On a Backup that came from Git: retention deleted its archive and metadata.json. The Backup
   * stays (a GitOps tool would re-create a deleted one, and it would run again) and is not restorable.
   */
  Expired: 'Expired',
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
  /** The worker process or Job has started. */
  WorkerStarted: 'WorkerStarted',
  /** The worker has ended (or was found gone). */
  WorkerEnded: 'WorkerEnded',
  /** wsrep_desync=ON on the source for the backup. */
  DesyncedForBackup: 'DesyncedForBackup',
  /** wsrep_desync is back OFF on the source (by the worker, or by the runner after a dead worker). */
  DesyncRestored: 'DesyncRestored',
  /** Retention deleted the backup's objects; the Backup came from Git, so it stays, Expired. */
  RetentionExpired: 'RetentionExpired',
  /** Retention deleted the backup's objects and its Backup, which a ScheduledBackup had created. */
  RetentionDeleted: 'RetentionDeleted',
  /** Retention could not remove every backup it should (object store down, object locked); it tries again later. */
  RetentionIncomplete: 'RetentionIncomplete',
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
