// The Backup reconciler: the run-once machinery (reconcile/run-once-reconciler.ts) with what is
// particular to Backups: the record is Backup.status, a dead worker's upload and Galera desync are
// cleaned up before its Backup is failed, outcomes are counted in the backup metrics, and a new
// Backup waits while its Cluster is being restored.
import type { Backup } from '../../crds/kinds.js';
import { backupWork, type StoredBackup } from '../executors/executor.js';
import { noteCompleted, observePhase, type RunnerMetrics } from '../runner-metrics.js';
import { REASONS } from '../status/conditions.js';
import {
  RunOnceReconciler,
  type Blocked,
  type Leftovers,
  type RunOnceDeps,
  type RunOnceKind,
  type RunRecord,
} from '../reconcile/run-once-reconciler.js';
import { outcomeCondition, outcomeEvent } from './backup-outcome.js';

export type { Leftovers };

/** Cleans up after a Backup's dead worker. Never throws: what could not be done is said. */
export type ReleaseLeftovers = (backup: StoredBackup) => Promise<Leftovers>;

export interface BackupReconcilerDeps extends RunOnceDeps {
  readonly metrics?: RunnerMetrics;
  /** Cleans up what a dead worker left in the object store, before its Backup is failed. */
  readonly releaseLeftovers?: ReleaseLeftovers;
  /** Why a new Backup of this Cluster must wait (a restore into it runs); undefined: go ahead. */
  readonly clusterBusy?: (namespace: string, cluster: string) => Promise<Blocked | undefined>;
}

export function backupKind(deps: BackupReconcilerDeps): RunOnceKind<StoredBackup> {
  const { metrics, releaseLeftovers, clusterBusy } = deps;
  return {
    objectKind: 'Backup',
    workKind: 'backup',
    tryAgain: 'apply a new Backup to try again',
    lostReason: 'DumpFailed',
    reasons: { running: REASONS.BackupRunning, completed: REASONS.BackupCompleted, failed: REASONS.BackupFailed },
    record: (backup) => (backup.status ?? {}) as RunRecord,
    writableRecord: (backup) => (backup.status ??= {}) as RunRecord,
    work: backupWork,
    clusterKey: (backup) => `${backup.metadata.namespace ?? 'default'}/${backup.spec.cluster.name}`,
    outcomeCondition: (backup) => outcomeCondition(backup as Backup),
    outcomeEvent: (backup) => outcomeEvent(backup as Backup),
    ...(clusterBusy
      ? {
          blockedBy: async (backup: StoredBackup) =>
            clusterBusy(backup.metadata.namespace ?? 'default', backup.spec.cluster.name),
        }
      : {}),
    ...(releaseLeftovers ? { leftovers: releaseLeftovers } : {}),
    onClaimed: (backup) => {
      if (metrics) observePhase(metrics, backup, 'running');
    },
    onEnded: (backup, phase, fresh) => {
      if (!metrics) return;
      if (fresh) observePhase(metrics, backup, phase);
      else if (phase === 'completed') noteCompleted(metrics, backup);
    },
  };
}

export class BackupReconciler extends RunOnceReconciler<StoredBackup> {
  constructor(deps: BackupReconcilerDeps) {
    super(backupKind(deps), deps);
  }
}
