// What retention plans over, read from what the API server or the bucket holds: Backup objects and
// bucket listings become candidates, Restores and Cluster bootstraps that have not ended become
// uses. Pure: the reconciler and the CLI do the reading.
import { BACKUP_METHODS, backupKind, type BackupKind } from '../../crds/api-constants.js';
import { archiveExtensionOf } from '../../crds/object-keys.js';
import type { ObjectStoreSpec } from '../../crds/object-store-types.js';
import { CONDITION_TYPES } from '../status/conditions.js';
import type { ListedBackup } from '../restores/backup-listing.js';
import type { BackupUse, CandidatePhase, RetentionCandidate } from './retention-plan.js';

/** The parts of a stored Backup retention reads; structural, so a Backup of any age is read. */
export interface BackupLike {
  readonly metadata: {
    readonly name?: string | undefined;
    readonly namespace?: string | undefined;
    readonly uid?: string | undefined;
    readonly creationTimestamp?: string | Date | undefined;
    readonly ownerReferences?: readonly { readonly kind?: string }[] | undefined;
  };
  readonly spec: { readonly cluster: { readonly name: string }; readonly objectStore?: ObjectStoreSpec | undefined };
  readonly status?:
    | {
        readonly phase?: string | undefined;
        readonly backupId?: string | undefined;
        readonly method?: string | undefined;
        readonly startedAt?: string | undefined;
        readonly stoppedAt?: string | undefined;
        readonly conditions?: readonly { readonly type: string; readonly status: string }[] | undefined;
        readonly location?:
          | {
              readonly archiveKey?: string | undefined;
              readonly objectLock?: { readonly retainUntil: string } | undefined;
            }
          | undefined;
      }
    | undefined;
}

interface RecoveryLike {
  readonly backup?: { readonly name?: string } | undefined;
  readonly source?: string | undefined;
  readonly backupID?: string | undefined;
}

/** What a restore records once it has chosen its backup (crds/restore-types.ts). */
interface RestoreRecordLike {
  readonly phase?: string | undefined;
  readonly backupId?: string | undefined;
  readonly backupName?: string | undefined;
}

export interface RestoreLike {
  readonly metadata: { readonly name?: string | undefined; readonly namespace?: string | undefined };
  readonly spec?: RecoveryLike | undefined;
  readonly status?: RestoreRecordLike | undefined;
}

export interface ClusterLike {
  readonly metadata: {
    readonly name?: string | undefined;
    readonly namespace?: string | undefined;
    readonly creationTimestamp?: string | Date | undefined;
  };
  readonly spec?: { readonly bootstrap?: { readonly recovery?: RecoveryLike | undefined } | undefined } | undefined;
  readonly status?: { readonly bootstrap?: RestoreRecordLike | undefined } | undefined;
}

const PHASES: readonly CandidatePhase[] = ['pending', 'running', 'completed', 'failed'];

/** A Backup that a ScheduledBackup created: its ownerReference says so, whatever its labels say. */
export function isScheduled(backup: BackupLike): boolean {
  return (backup.metadata.ownerReferences ?? []).some((o) => o.kind === 'ScheduledBackup');
}

/** Retention already removed the objects of this Git Backup: condition Expired True. */
export function isExpired(backup: BackupLike): boolean {
  return (backup.status?.conditions ?? []).some((c) => c.type === CONDITION_TYPES.Expired && c.status === 'True');
}

function date(text: string | Date | undefined): Date | undefined {
  if (text === undefined) return undefined;
  const d = new Date(text);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/**
 * The kind of a recorded method; for none, or one this build does not know, the kind its archive's
 * name says (`backup.xbstream…` or `backup.sql…`); undefined when neither tells.
 */
function kindOf(method: string | undefined, archiveKey?: string): BackupKind | undefined {
  const known = BACKUP_METHODS.find((m) => m === method);
  if (known !== undefined) return backupKind(known);
  const extension = archiveKey === undefined ? undefined : archiveExtensionOf(archiveKey);
  return extension === 'xbstream' ? 'physical' : extension === 'sql' ? 'logical' : undefined;
}

export function candidateOfBackup(backup: BackupLike): RetentionCandidate {
  const status = backup.status ?? {};
  const phase = PHASES.find((p) => p === status.phase) ?? 'pending';
  const lockedUntil = date(status.location?.objectLock?.retainUntil);
  const kind = kindOf(status.method, status.location?.archiveKey);
  return {
    ...(lockedUntil ? { lockedUntil } : {}),
    ...(kind ? { kind } : {}),
    name: backup.metadata.name ?? '',
    backupId: status.backupId,
    phase,
    endedAt: date(status.stoppedAt) ?? date(status.startedAt) ?? date(backup.metadata.creationTimestamp),
    origin: isScheduled(backup) ? 'schedule' : 'git',
    expired: isExpired(backup),
  };
}

/**
 * A backup folder in the bucket: complete ones count as completed, the others as failed.
 * `lockedUntil`: what the store says of its metadata.json's Object Lock.
 */
export function candidateOfListed(listed: ListedBackup, lockedUntil?: Date): RetentionCandidate {
  const kind = kindOf(listed.metadata?.method);
  return {
    ...(lockedUntil ? { lockedUntil } : {}),
    ...(kind ? { kind } : {}),
    name: listed.backupName,
    backupId: listed.backupId,
    phase: listed.problems.length === 0 ? 'completed' : 'failed',
    endedAt: date(listed.metadata?.stoppedAt),
    origin: 'bucket',
  };
}

const ENDED = new Set(['completed', 'failed']);

function useOf(
  recovery: RecoveryLike | undefined,
  record: RestoreRecordLike | undefined,
  by: string,
  createdAt?: Date,
): BackupUse[] {
  if (!recovery) return [];
  // The backup it resolved and reads now, recorded in its status: a restore from `source` without
  // backupID took the newest complete one, which a backup completing since has made older.
  const resolved =
    record?.backupId !== undefined ? [{ backupName: record.backupName, backupId: record.backupId, by }] : [];
  if (recovery.backup?.name === undefined && recovery.backupID === undefined) {
    // Not resolved yet, from `source` without backupID. A Restore will take the newest complete
    // backup of its kind, kept anyway; a bootstrap the newest complete when its Cluster was created,
    // which newer backups may have pushed beyond the rules before its worker records the choice.
    if (resolved.length === 0 && createdAt) return [{ completedBy: createdAt, by }];
    return resolved;
  }
  return [{ backupName: recovery.backup?.name, backupId: recovery.backupID, by }, ...resolved];
}

/**
 * The backups that Restores and Cluster bootstraps will still read: those not yet completed or
 * failed, in any namespace the caller listed (a Restore elsewhere reads the bucket through its own
 * Cluster's externalClusters). A backupID, or a Backup name, is matched whatever `source` or
 * namespace it comes through: keeping a backup a moment longer costs little, deleting one a
 * restore is about to read costs the restore.
 */
export function backupUses(restores: readonly RestoreLike[], clusters: readonly ClusterLike[]): BackupUse[] {
  const where = (m: { name?: string | undefined; namespace?: string | undefined }): string =>
    `${m.namespace ?? ''}/${m.name ?? ''}`;
  return [
    ...restores
      .filter((r) => !ENDED.has(r.status?.phase ?? ''))
      .flatMap((r) => useOf(r.spec, r.status, `Restore ${where(r.metadata)}`)),
    ...clusters
      .filter((c) => !ENDED.has(c.status?.bootstrap?.phase ?? ''))
      .flatMap((c) =>
        useOf(
          c.spec?.bootstrap?.recovery,
          c.status?.bootstrap,
          `the bootstrap of Cluster ${where(c.metadata)}`,
          date(c.metadata.creationTimestamp),
        ),
      ),
  ];
}
