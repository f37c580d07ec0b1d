// The ClusterBackups reconciler: keeps a Cluster's backup bookkeeping (lastSuccessfulBackup,
// firstRecoverabilityPoint, the BackupStale and Ready conditions) in step with its Backups, tells
// of BackupStale turning with an Event, and wakes itself when the Cluster would turn stale, so a
// schedule that silently stopped is noticed although no object changes. Status.bootstrap belongs
// to the bootstrap reconciler and is never touched here. docs/runner.md, "Freshness".
import type { Backup, Cluster, LifeboatKind } from '../../crds/kinds.js';
import type { Logger } from '../../lib/logger.js';
import { systemClock, type Clock } from '../reconcile/clock.js';
import type { InformerEvent } from '../reconcile/informer-loop.js';
import type { KeyedReconciler, ObjectRef } from '../reconcile/keyed-reconciler.js';
import type { WorkResult } from '../reconcile/work-queue.js';
import { forgetFreshness, noteFreshness, type RunnerMetrics } from '../runner-metrics.js';
import { CONDITION_TYPES, getCondition, setCondition } from '../status/conditions.js';
import type { EventRecorder } from '../status/event-recorder.js';
import { updateStatus, type StatusClient, type Stored } from '../status/status-writer.js';
import { clusterFreshness, type Freshness, type FreshnessFields } from './cluster-freshness.js';

export const CLUSTER_BACKUPS = 'ClusterBackups';

/** Timers overflow past ~24.8 days; a Cluster with a long rpo is simply looked at again before then. */
export const MAX_REQUEUE_MS = 12 * 3600 * 1000;
/** Wake a moment after the Cluster turns stale, so the reconcile sees the instant passed. */
export const REQUEUE_SLACK_MS = 1000;

/** The informer cache (runner/reconcile/informer-loop.ts) as this reconciler reads it. */
export interface CacheReader {
  get(kind: LifeboatKind, namespace: string, name: string): unknown;
  list(kind: LifeboatKind): unknown[];
  /** Resolves once every kind was listed: before that, "no Backups" may only mean "not listed yet". */
  synced?(): Promise<void>;
}

export interface ClusterBackupsDeps {
  readonly client: StatusClient;
  readonly cache: CacheReader;
  readonly events: Pick<EventRecorder, 'record'>;
  readonly log: Logger;
  readonly metrics?: RunnerMetrics;
  readonly clock?: Pick<Clock, 'now'>;
}

const FIELDS: readonly (keyof FreshnessFields)[] = [
  'lastSuccessfulBackup',
  'lastSuccessfulBackupTime',
  'lastFailedBackup',
  'firstRecoverabilityPoint',
];

/** Writes the computed fields and conditions into the Cluster's status; nothing else of it. */
function applyFreshness(cluster: Cluster, freshness: Freshness, now: Date): void {
  const status = (cluster.status ??= {});
  for (const key of FIELDS) {
    const value = freshness.fields[key];
    if (value === undefined) delete status[key];
    else status[key] = value;
  }
  if (freshness.stale) setCondition(status, freshness.stale, now);
  else status.conditions = status.conditions?.filter((c) => c.type !== CONDITION_TYPES.BackupStale);
  setCondition(status, freshness.ready, now);
}

/** An Event when BackupStale turns True (Warning) or back False (Normal); none while it stays. */
async function announceTurn(
  deps: ClusterBackupsDeps,
  before: Stored<Cluster> | undefined,
  after: Stored<Cluster>,
  freshness: Freshness,
): Promise<void> {
  const was = getCondition(before?.status, CONDITION_TYPES.BackupStale)?.status;
  const stale = freshness.stale;
  if (!stale || stale.status === was || (stale.status === 'False' && was !== 'True')) return;
  const about = { kind: 'Cluster' as const, metadata: after.metadata };
  if (stale.status === 'True') {
    const since = new Date(freshness.staleAfterMs ?? 0).toISOString();
    const message = `backups are stale since ${since}: ${stale.message}; check the Cluster's ScheduledBackup and its Backups`;
    await deps.events.record(about, { type: 'Warning', reason: stale.reason, message });
  } else {
    await deps.events.record(about, {
      type: 'Normal',
      reason: stale.reason,
      message: `backups are fresh again: ${stale.message}`,
    });
  }
}

/** Requeue for the instant the Cluster turns stale; nothing once it is (only a Backup changes that). */
function requeueFor(freshness: Freshness, now: number): WorkResult {
  const at = freshness.staleAfterMs;
  if (at === undefined || at < now) return undefined;
  return { requeueAfterMs: Math.min(at - now + REQUEUE_SLACK_MS, MAX_REQUEUE_MS) };
}

export async function reconcileClusterBackups(
  deps: ClusterBackupsDeps,
  namespace: string,
  name: string,
): Promise<WorkResult> {
  await deps.cache.synced?.();
  const forget = (): void => {
    if (deps.metrics) forgetFreshness(deps.metrics, namespace, name);
  };
  if (deps.cache.get('Cluster', namespace, name) === undefined) return forget();
  const backups = deps.cache.list('Backup') as Backup[];
  const now = new Date((deps.clock ?? systemClock).now());
  let freshness: Freshness | undefined;
  // Computed from the Cluster as re-read for the write, so an rpo just changed is what counts.
  const update = await updateStatus<Cluster>(deps.client, 'Cluster', namespace, name, (cluster) => {
    freshness = clusterFreshness(cluster, backups, now);
    applyFreshness(cluster, freshness, now);
  });
  if (!update.after || !freshness) return forget();
  if (deps.metrics) noteFreshness(deps.metrics, namespace, name, freshness);
  if (update.changed) {
    deps.log.debug(
      { namespace, name, ready: freshness.ready.reason, stale: freshness.stale?.status },
      'backup freshness written',
    );
    await announceTurn(deps, update.before, update.after, freshness);
  }
  return requeueFor(freshness, now.getTime());
}

/** A Backup's events concern its Cluster, named in its spec, in its own namespace. */
function clusterOfBackup(event: InformerEvent): readonly ObjectRef[] {
  if (event.kind !== 'Backup') return [];
  const name = (event.object as Partial<Backup> | undefined)?.spec?.cluster?.name;
  return name ? [{ namespace: event.namespace, name }] : [];
}

export function clusterBackupsReconciler(deps: ClusterBackupsDeps): KeyedReconciler {
  return {
    name: CLUSTER_BACKUPS,
    watches: 'Cluster',
    reconcile: (namespace, name) => reconcileClusterBackups(deps, namespace, name),
    related: clusterOfBackup,
    onDeleted: (event) => {
      if (deps.metrics) forgetFreshness(deps.metrics, event.namespace, event.name);
    },
    // Only the leader keeps the Cluster status, so only the leader exports its freshness.
    onLeadership: (leading) => {
      if (!leading && deps.metrics) forgetFreshness(deps.metrics);
    },
  };
}
