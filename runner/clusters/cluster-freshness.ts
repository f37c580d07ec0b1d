// How fresh a Cluster's backups are: a pure function of the Cluster, its Backups and the time,
// giving the Cluster's status fields, its BackupStale and Ready conditions, and the moment it
// turns stale (so the reconciler can requeue itself then, and a schedule that silently stopped is
// noticed without any event). docs/runner.md, "Freshness".
import type { Backup, Cluster } from '../../crds/kinds.js';
import { parseDuration } from '../../crds/durations.js';
import { CONDITION_TYPES, REASONS, type ConditionInput, type Reason } from '../status/conditions.js';

/** The Cluster status fields this computes; absent ones are removed from the status. */
export interface FreshnessFields {
  readonly lastSuccessfulBackup?: string;
  readonly lastSuccessfulBackupTime?: string;
  readonly lastFailedBackup?: string;
  readonly firstRecoverabilityPoint?: string;
}

/** A condition whose reason is one of the runner's own, so it can be an Event's reason too. */
export interface FreshnessCondition extends ConditionInput {
  readonly reason: Reason;
}

export interface Freshness {
  readonly fields: FreshnessFields;
  /** BackupStale; undefined when the Cluster sets no rpo (the condition is then removed). */
  readonly stale: FreshnessCondition | undefined;
  readonly ready: FreshnessCondition;
  /** With an rpo: the instant after which the Cluster is stale (maybe past). Epoch ms. */
  readonly staleAfterMs: number | undefined;
  /** When the newest completed backup finished, for the age metric. Epoch ms. */
  readonly newestCompletedMs: number | undefined;
  /** When the newest failed backup finished, for the last-backup-failed metric. Epoch ms. */
  readonly newestFailedMs: number | undefined;
}

interface Finished {
  readonly name: string;
  readonly stoppedAt: string;
  readonly stoppedMs: number;
}

function isExpired(backup: Backup): boolean {
  return (backup.status?.conditions ?? []).some((c) => c.type === CONDITION_TYPES.Expired && c.status === 'True');
}

/** The Cluster's finished, unexpired Backups of one phase, newest first; ties go by name. */
function finished(cluster: Cluster, backups: readonly Backup[], phase: 'completed' | 'failed'): Finished[] {
  const namespace = cluster.metadata.namespace ?? 'default';
  const out: Finished[] = [];
  for (const backup of backups) {
    if ((backup.metadata.namespace ?? 'default') !== namespace) continue;
    if (backup.spec.cluster.name !== cluster.metadata.name || backup.status?.phase !== phase) continue;
    const stoppedAt = backup.status.stoppedAt ?? '';
    const stoppedMs = Date.parse(stoppedAt);
    // A finished Backup always has stoppedAt; one without cannot be placed in time.
    if (!Number.isFinite(stoppedMs) || isExpired(backup)) continue;
    out.push({ name: backup.metadata.name ?? '', stoppedAt, stoppedMs });
  }
  return out.sort((a, b) => b.stoppedMs - a.stoppedMs || b.name.localeCompare(a.name));
}

function fieldsOf(completed: readonly Finished[], failed: readonly Finished[]): FreshnessFields {
  const newest = completed[0];
  const oldest = completed[completed.length - 1];
  return {
    ...(newest ? { lastSuccessfulBackup: newest.name, lastSuccessfulBackupTime: newest.stoppedAt } : {}),
    ...(failed[0] ? { lastFailedBackup: failed[0].name } : {}),
    ...(oldest ? { firstRecoverabilityPoint: oldest.stoppedAt } : {}),
  };
}

/** The Cluster's rpo in ms; undefined when it sets none (or one the schema would not admit). */
export function rpoMs(cluster: Cluster): number | undefined {
  const text = cluster.spec.backup?.rpo;
  const seconds = text === undefined ? undefined : parseDuration(text);
  return seconds === undefined ? undefined : seconds * 1000;
}

/** The API server sets creationTimestamp; the manifest types do not carry it. */
function createdMs(cluster: Cluster): number {
  return Date.parse((cluster.metadata as { creationTimestamp?: string }).creationTimestamp ?? '');
}

/**
 * BackupStale. Stale means strictly older than the rpo: a backup exactly rpo old is still fresh.
 * Messages carry no relative times, so an unchanged situation writes nothing.
 */
function staleCondition(
  cluster: Cluster,
  newest: Finished | undefined,
  staleAfterMs: number,
  now: number,
): FreshnessCondition {
  const rpo = cluster.spec.backup?.rpo ?? '';
  const type = CONDITION_TYPES.BackupStale;
  const stale = now > staleAfterMs;
  if (newest) {
    const what = `the newest completed backup, ${newest.name}, finished at ${newest.stoppedAt}`;
    return stale
      ? { type, status: 'True', reason: REASONS.BackupOlderThanRpo, message: `${what}: older than the rpo of ${rpo}` }
      : { type, status: 'False', reason: REASONS.BackupWithinRpo, message: `${what}: within the rpo of ${rpo}` };
  }
  const since = new Date(staleAfterMs).toISOString();
  return stale
    ? {
        type,
        status: 'True',
        reason: REASONS.NoBackupWithinRpo,
        message: `no completed backup, and the Cluster is older than the rpo of ${rpo} since ${since}`,
      }
    : {
        type,
        status: 'False',
        reason: REASONS.AwaitingFirstBackup,
        message: `no completed backup yet; stale after ${since} (rpo ${rpo})`,
      };
}

/** Ready sums up whether the Cluster can be restored from a backup the user would accept. */
function readyCondition(
  completed: readonly Finished[],
  failed: readonly Finished[],
  stale: FreshnessCondition | undefined,
): FreshnessCondition {
  const type = CONDITION_TYPES.Ready;
  const newest = completed[0];
  const failedLast = failed[0] && (!newest || failed[0].stoppedMs > newest.stoppedMs) ? failed[0] : undefined;
  const failure = failedLast ? `; the newest Backup, ${failedLast.name}, failed` : '';
  if (!newest) {
    const message = `no completed backup to restore from${failure}; apply a Backup or a ScheduledBackup`;
    return { type, status: 'False', reason: REASONS.NoCompletedBackup, message };
  }
  if (stale?.status === 'True') {
    const message = `${stale.message}${failure}; check the Cluster's ScheduledBackup and its Backups`;
    return { type, status: 'False', reason: REASONS.BackupTooOld, message };
  }
  if (failedLast) {
    const message = `the newest Backup, ${failedLast.name}, failed (see its status.error); ${newest.name} is the newest completed backup`;
    return { type, status: 'False', reason: REASONS.LastBackupFailed, message };
  }
  const message = `the newest completed backup is ${newest.name}, finished at ${newest.stoppedAt}`;
  return { type, status: 'True', reason: REASONS.ClusterProtected, message };
}

/**
 * The freshness of `cluster` at `now` from `backups` (any list: those of other Clusters and
 * namespaces are skipped). Backups that retention expired count as gone.
 */
export function clusterFreshness(cluster: Cluster, backups: readonly Backup[], now: Date): Freshness {
  const completed = finished(cluster, backups, 'completed');
  const failed = finished(cluster, backups, 'failed');
  const newest = completed[0];
  const rpo = rpoMs(cluster);
  const since = newest?.stoppedMs ?? createdMs(cluster);
  const staleAfterMs = rpo === undefined || !Number.isFinite(since) ? undefined : since + rpo;
  const stale = staleAfterMs === undefined ? undefined : staleCondition(cluster, newest, staleAfterMs, now.getTime());
  return {
    fields: fieldsOf(completed, failed),
    stale,
    ready: readyCondition(completed, failed, stale),
    staleAfterMs,
    newestCompletedMs: newest?.stoppedMs,
    newestFailedMs: failed[0]?.stoppedMs,
  };
}
