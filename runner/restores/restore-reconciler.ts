// The Restore reconciler and the Cluster bootstrap reconciler: the run-once machinery
// (reconcile/run-once-reconciler.ts) with what is particular to restores: the record is a
// Restore's status or a Cluster's status.bootstrap, a restore waits while its Cluster is being
// backed up, and outcomes are counted in the restore metrics.
import type { Cluster, Restore } from '../../crds/kinds.js';
import { externalCluster } from '../../crds/object-store-funcs.js';
import type { WorkItem } from '../executors/executor.js';
import type { Blocked, RunOnceKind, RunRecord } from '../reconcile/run-once-reconciler.js';
import { observeRestore, type RunnerMetrics } from '../runner-metrics.js';
import { REASONS, type ConditionInput } from '../status/conditions.js';
import type { EventInput } from '../status/event-recorder.js';
import type { Stored } from '../status/status-writer.js';
import type { FailureReason } from '../../crds/failure-reasons.js';
import {
  asRunRecord,
  BOOTSTRAP_AGAIN,
  RESTORE_AGAIN,
  restoreRecord,
  writableRestoreRecord,
  type RestoreObject,
} from './restore-status.js';

export interface RestoreKindDeps {
  readonly metrics?: RunnerMetrics;
  /** Why a restore into this Cluster must wait (one of its Backups runs); undefined: go ahead. */
  readonly clusterBusy?: (namespace: string, cluster: string) => Promise<Blocked | undefined>;
}

function outcomeCondition(object: RestoreObject): ConditionInput {
  const record = restoreRecord(object) ?? {};
  if (record.phase === 'completed') {
    const ready = record.conditions?.find((c) => c.type === 'Ready');
    // The worker says whether it applied the backup or found it applied before.
    if (ready?.status === 'True' && ready.reason === REASONS.AlreadyApplied) {
      return { type: 'Ready', status: 'True', reason: REASONS.AlreadyApplied, message: ready.message };
    }
    const from = record.restoredFrom ? ` from ${record.restoredFrom}` : '';
    return {
      type: 'Ready',
      status: 'True',
      reason: REASONS.RestoreCompleted,
      message: `the restore is complete${from}`,
    };
  }
  return {
    type: 'Ready',
    status: 'False',
    reason: (record.reason as FailureReason | undefined) ?? REASONS.RestoreFailed,
    message: record.error ?? 'the restore failed',
  };
}

function outcomeEvent(object: RestoreObject): EventInput {
  const record = restoreRecord(object) ?? {};
  if (record.phase === 'completed') {
    const from = record.restoredFrom ? ` from ${record.restoredFrom}` : '';
    return { type: 'Normal', reason: REASONS.RestoreCompleted, message: `restore completed${from}` };
  }
  const why = record.error ?? 'no reason recorded';
  return {
    type: 'Warning',
    reason: REASONS.RestoreFailed,
    message: `restore failed (${record.reason ?? 'unknown'}): ${why}`,
  };
}

/** The object store a Job's credentials come from: the Backup's (lent by the Cluster) or the source's. */
function storeOf(recovery: { backup?: unknown; source?: string | undefined } | undefined, cluster: Cluster) {
  if (!recovery) return undefined;
  if (recovery.source !== undefined) return externalCluster(cluster, recovery.source)?.objectStore;
  return cluster.spec.backup?.objectStore;
}

/** The Cluster a restore goes into: a Restore's spec.cluster, or the bootstrapped Cluster itself. */
function targetOf(object: RestoreObject): { namespace: string; cluster: string } {
  const namespace = object.metadata.namespace ?? 'default';
  return { namespace, cluster: object.kind === 'Restore' ? object.spec.cluster.name : (object.metadata.name ?? '') };
}

function shared(deps: RestoreKindDeps, what: 'restore' | 'bootstrap') {
  const { clusterBusy } = deps;
  return {
    record: (object: RestoreObject) => asRunRecord(restoreRecord(object)),
    writableRecord: (object: RestoreObject) => writableRestoreRecord(object) as RunRecord,
    clusterKey: (object: RestoreObject) => {
      const { namespace, cluster } = targetOf(object);
      return `${namespace}/${cluster}`;
    },
    ...(clusterBusy
      ? {
          blockedBy: (object: RestoreObject) => {
            const { namespace, cluster } = targetOf(object);
            return clusterBusy(namespace, cluster);
          },
        }
      : {}),
    lostReason: 'ApplyFailed' as const,
    lostNote: 'the target may be partially restored (nothing was recorded as applied)',
    announcePending: true,
    reasons: { running: REASONS.RestoreRunning, completed: REASONS.RestoreCompleted, failed: REASONS.RestoreFailed },
    outcomeCondition,
    outcomeEvent,
    onEnded: (object: RestoreObject, phase: 'completed' | 'failed', fresh: boolean) => {
      if (fresh && deps.metrics) observeRestore(deps.metrics, what, restoreRecord(object) ?? {}, phase);
    },
  };
}

export function restoreKind(deps: RestoreKindDeps): RunOnceKind<Stored<Restore>> {
  return {
    ...shared(deps, 'restore'),
    objectKind: 'Restore',
    workKind: 'restore',
    tryAgain: RESTORE_AGAIN,
    work: (restore): WorkItem => {
      const recovery = restore.spec;
      return {
        kind: 'restore',
        namespace: restore.metadata.namespace ?? 'default',
        name: restore.metadata.name ?? '',
        uid: restore.metadata.uid,
        clusterName: restore.spec.cluster.name,
        objectStore: (cluster) => storeOf(recovery, cluster),
      };
    },
  };
}

export function bootstrapKind(deps: RestoreKindDeps): RunOnceKind<Stored<Cluster>> {
  return {
    ...shared(deps, 'bootstrap'),
    objectKind: 'Cluster',
    workKind: 'bootstrap',
    tryAgain: BOOTSTRAP_AGAIN,
    work: (cluster): WorkItem => ({
      kind: 'bootstrap',
      namespace: cluster.metadata.namespace ?? 'default',
      name: cluster.metadata.name ?? '',
      uid: cluster.metadata.uid,
      clusterName: cluster.metadata.name ?? '',
      objectStore: (c) => storeOf(c.spec.bootstrap?.recovery, c),
    }),
  };
}
