// Retention for each Cluster with spec.backup.retention (docs/design.md, "Retention"): after each of
// its Backups ends, and every few minutes besides, plan over what the API server holds now (fresh
// reads, not the informer cache: a Restore created a moment ago must protect its backup) and remove
// what the plan lets go. Events on the Cluster say what went and what is left; what is left is
// tried again soon. Keys are `Retention/<namespace>/<cluster>`; only the leader runs them.
import type { S3Client } from '@aws-sdk/client-s3';
import type { Cluster } from '../../crds/kinds.js';
import { effectiveObjectStore } from '../../crds/object-store-funcs.js';
import type { LifeboatList, StoredSecret } from '../../lib/kube-client.js';
import type { Logger } from '../../lib/logger.js';
import { createS3Client, resolveS3Access } from '../../lib/s3-client.js';
import type { InformerEvent } from '../reconcile/informer-loop.js';
import type { KeyedReconciler, ObjectRef } from '../reconcile/keyed-reconciler.js';
import type { WorkResult } from '../reconcile/work-queue.js';
import type { RunnerMetrics } from '../runner-metrics.js';
import { REASONS } from '../status/conditions.js';
import type { EventInput, InvolvedObject } from '../status/event-recorder.js';
import { secretKeyReader } from '../worker/worker-inputs.js';
import { backupUses, candidateOfBackup, type ClusterLike, type RestoreLike } from './retention-inputs.js';
import { describeRule, planRetention, removals, retentionRule, type RetentionRule } from './retention-plan.js';
import {
  runRemovals,
  type LeftBackup,
  type RemovableBackup,
  type RetentionKube,
  type RetentionOutcome,
} from './retention-run.js';

export interface RetentionReconcilerKube extends RetentionKube {
  /** Every namespace when `namespace` is undefined. */
  listLifeboat(kind: 'Backup' | 'Restore' | 'Cluster', namespace?: string): Promise<LifeboatList>;
  readSecret(namespace: string, name: string): Promise<StoredSecret | undefined>;
}

export interface RetentionReconcilerDeps {
  readonly kube: RetentionReconcilerKube;
  readonly events: { record(about: InvolvedObject, input: EventInput): Promise<void> };
  readonly log: Logger;
  readonly metrics?: RunnerMetrics;
  readonly now?: () => Date;
  /** How often a Cluster's retention runs with nothing else happening. Default 10 minutes. */
  readonly periodMs?: number;
  /** How soon a run that left backups behind is tried again. Default 1 minute. */
  readonly retryMs?: number;
  /**
   * Where the Restores and bootstraps that may read a Cluster's backups are looked for: the
   * runner's namespace, or every namespace when undefined. Not only the Cluster's own: a Restore
   * elsewhere reads the same bucket through its Cluster's externalClusters.
   */
  readonly usesNamespace?: string | undefined;
  /** The S3 client for a Backup's objects; default its effective object store with its Secrets. */
  readonly s3For?: (backup: RemovableBackup, cluster: Cluster) => Promise<S3Client>;
}

/** A Cluster's run: what was removed, what is left, and the backups kept only by Object Lock. */
interface RunResult extends RetentionOutcome {
  readonly locked: readonly Locked[];
}

interface Locked {
  readonly backup: RemovableBackup;
  readonly until: Date;
  /** Why the rules would remove it. */
  readonly reason: string;
}

const PERIOD_MS = 10 * 60_000;
const RETRY_MS = 60_000;
/** Backups named in one Event before "and N more": an Event message is capped at 1 KiB. */
const NAMED = 5;

type StoredCluster = Cluster & { metadata: Cluster['metadata'] & { uid?: string } };

function defaultS3For(kube: RetentionReconcilerKube): (backup: RemovableBackup, cluster: Cluster) => Promise<S3Client> {
  return async (backup, cluster) => {
    const store = effectiveObjectStore(backup, cluster);
    if (!store) throw new Error(`neither Backup ${backup.metadata.name ?? ''} nor its Cluster names an objectStore`);
    const namespace = backup.metadata.namespace ?? 'default';
    return createS3Client(store, await resolveS3Access(store, secretKeyReader(kube, namespace)));
  };
}

/** A Backup event whose Backup has ended concerns its Cluster's retention. */
export function retentionRelated(event: InformerEvent): readonly ObjectRef[] {
  if (event.kind !== 'Backup') return [];
  const backup = event.object as { spec?: { cluster?: { name?: string } }; status?: { phase?: string } } | undefined;
  const phase = backup?.status?.phase;
  const cluster = backup?.spec?.cluster?.name;
  if ((phase !== 'completed' && phase !== 'failed') || !cluster) return [];
  return [{ namespace: event.namespace, name: cluster }];
}

function names(items: readonly { name: string }[]): string {
  const shown = items.slice(0, NAMED).map((i) => i.name);
  return `${shown.join(', ')}${items.length > NAMED ? ` and ${items.length - NAMED} more` : ''}`;
}

/** The backups whose removal stopped at an object the store holds under Object Lock. */
function lockedInStore(left: readonly LeftBackup[], byName: ReadonlyMap<string, RemovableBackup>): Locked[] {
  return left.flatMap((l): Locked[] => {
    const backup = byName.get(l.name);
    return backup && l.retryAt ? [{ backup, until: l.retryAt, reason: l.reason ?? '' }] : [];
  });
}

export function retentionReconciler(deps: RetentionReconcilerDeps): KeyedReconciler {
  const now = deps.now ?? ((): Date => new Date());
  const periodMs = deps.periodMs ?? PERIOD_MS;
  const retryMs = deps.retryMs ?? RETRY_MS;
  const s3For = deps.s3For ?? defaultS3For(deps.kube);

  const ruleOf = async (cluster: StoredCluster): Promise<RetentionRule | undefined> => {
    try {
      return retentionRule(cluster.spec.backup?.retention);
    } catch (err) {
      const message = `${err instanceof Error ? err.message : String(err)}; retention is off until it is fixed`;
      await deps.events.record(
        { kind: 'Cluster', metadata: cluster.metadata },
        {
          type: 'Warning',
          reason: REASONS.RetentionRuleInvalid,
          message,
        },
      );
      return undefined;
    }
  };

  const report = async (cluster: StoredCluster, outcome: RunResult, rule: RetentionRule): Promise<void> => {
    const about: InvolvedObject = { kind: 'Cluster', metadata: cluster.metadata };
    for (const d of outcome.done) {
      deps.metrics?.retentionRemoved.inc({ action: d.action });
      const what =
        d.action === 'delete'
          ? 'its archive, metadata.json and Backup object were deleted'
          : 'its archive and metadata.json were deleted; the Backup came from Git and stays, Expired';
      await deps.events.record(about, {
        type: 'Normal',
        reason: d.action === 'delete' ? REASONS.RetentionDeleted : REASONS.RetentionExpired,
        message: `retention (${describeRule(rule)}) removed Backup ${d.name}: ${d.reason}; ${what}`,
      });
    }
    for (const l of outcome.locked) {
      await deps.events.record(
        {
          kind: 'Backup',
          metadata: {
            name: l.backup.metadata.name,
            namespace: l.backup.metadata.namespace,
            uid: l.backup.metadata.uid,
          },
        },
        {
          type: 'Normal',
          reason: REASONS.RetentionLocked,
          message: `retention (${describeRule(rule)}) would remove this backup (${l.reason}), but its objects are under Object Lock until ${l.until.toISOString()}; the Backup and its objects stay until then`,
        },
      );
    }
    const left = outcome.left.filter((l) => l.retryAt === undefined);
    if (left.length === 0) return;
    const first = left[0]?.why ?? '';
    await deps.events.record(about, {
      type: 'Warning',
      reason: REASONS.RetentionIncomplete,
      message: `retention left ${left.length} backup(s) to remove: ${names(left)}; first: ${first}; trying again in ${Math.round(retryMs / 1000)} s`,
    });
  };

  /** Soon when something failed, when the first lock ends, else after the period. */
  const nextRun = (outcome: RunResult): number => {
    const at = now().getTime();
    const waits = [
      periodMs,
      ...(outcome.left.some((l) => l.retryAt === undefined) ? [retryMs] : []),
      // A second past the lock's end: the store compares with its own clock.
      ...outcome.locked.map((l) => Math.max(1000, l.until.getTime() - at + 1000)),
    ];
    return Math.min(...waits);
  };

  const run = async (cluster: StoredCluster, rule: RetentionRule): Promise<RunResult> => {
    const namespace = cluster.metadata.namespace ?? 'default';
    const [backups, restores, clusters] = await Promise.all([
      deps.kube.listLifeboat('Backup', namespace),
      deps.kube.listLifeboat('Restore', deps.usesNamespace),
      deps.kube.listLifeboat('Cluster', deps.usesNamespace),
    ]);
    const own = (backups.items as RemovableBackup[]).filter((b) => b.spec.cluster.name === cluster.metadata.name);
    const plan = planRetention({
      rule,
      candidates: own.map(candidateOfBackup),
      uses: backupUses(restores.items as RestoreLike[], clusters.items as ClusterLike[]),
      now: now(),
    });
    const byName = new Map(own.map((b) => [b.metadata.name ?? '', b]));
    const todo = removals(plan).flatMap((decision) => {
      const backup = byName.get(decision.candidate.name);
      return backup ? [{ decision, backup }] : [];
    });
    const lockedInPlan = plan.decisions.flatMap((d): Locked[] => {
      const backup = byName.get(d.candidate.name);
      return backup && d.locked ? [{ backup, ...d.locked }] : [];
    });
    if (todo.length === 0) return { done: [], left: [], locked: lockedInPlan };
    const outcome = await remove(cluster, todo);
    return { ...outcome, locked: [...lockedInPlan, ...lockedInStore(outcome.left, byName)] };
  };

  const remove = async (cluster: StoredCluster, todo: Parameters<typeof runRemovals>[0]): Promise<RetentionOutcome> => {
    const clients = new Map<string, S3Client>();
    try {
      return await runRemovals(todo, {
        kube: deps.kube,
        now,
        log: deps.log,
        abort: { attempts: 1 },
        s3For: async (backup) => {
          const key = backup.metadata.name ?? '';
          const client = clients.get(key) ?? (await s3For(backup, cluster));
          clients.set(key, client);
          return client;
        },
      });
    } finally {
      for (const client of clients.values()) client.destroy();
    }
  };

  return {
    name: 'Retention',
    watches: 'Cluster',
    related: retentionRelated,
    reconcile: async (namespace: string, name: string): Promise<WorkResult> => {
      const cluster = (await deps.kube.getLifeboat('Cluster', namespace, name)) as StoredCluster | undefined;
      if (!cluster) return undefined;
      const rule = await ruleOf(cluster);
      // A Cluster without retention is queued again by its own change events when it gets one.
      if (!rule) return undefined;
      const outcome = await run(cluster, rule);
      await report(cluster, outcome, rule);
      return { requeueAfterMs: nextRun(outcome) };
    },
  };
}
