// The runner's Prometheus metrics (docs/design.md, "Observability"), on a registry of its own so tests can read them.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BackupPhase } from '../crds/api-constants.js';
import type { Backup } from '../crds/kinds.js';

/** From a minute to a day: logical dumps of small databases up to physical copies of large ones. */
const DURATION_BUCKETS = [10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 86400];

// prom-client cannot read a gauge back synchronously; the newest stoppedAt per Cluster lives here.
const newestSeen = new WeakMap<RunnerMetrics, Map<string, number>>();

/** What the ClusterBackups reconciler last computed of a Cluster; ages are taken from it at scrape time. */
export interface FreshnessSample {
  /** When the newest completed backup finished (epoch ms); undefined: none. */
  readonly newestCompletedMs: number | undefined;
  /** With an rpo: the instant after which the Cluster is stale (epoch ms). */
  readonly staleAfterMs: number | undefined;
  /** When the newest failed Backup finished (epoch ms); undefined: none. */
  readonly newestFailedMs?: number | undefined;
}

const freshnessSamples = new WeakMap<RunnerMetrics, Map<string, FreshnessSample>>();

export interface RunnerMetrics {
  readonly registry: Registry;
  readonly duration: Histogram;
  readonly size: Gauge<'namespace' | 'cluster'>;
  readonly backups: Counter<'phase'>;
  readonly lastSuccess: Gauge<'namespace' | 'cluster'>;
  readonly restoreDuration: Histogram<'kind'>;
  readonly restores: Counter<'phase' | 'kind'>;
  readonly scheduled: Counter<'result'>;
  readonly tickDelay: Histogram;
  readonly backupAge: Gauge<'namespace' | 'cluster'>;
  readonly backupStale: Gauge<'namespace' | 'cluster'>;
  readonly lastBackupFailed: Gauge<'namespace' | 'cluster'>;
  readonly retentionRemoved: Counter<'action'>;
}

/** What a schedule's tick came to: a Backup created, found existing, or none (skipped, missed, failed). */
export type ScheduleResult = 'created' | 'existed' | 'skipped' | 'missed' | 'failed';

export function countScheduled(metrics: RunnerMetrics, result: ScheduleResult): void {
  metrics.scheduled.inc({ result });
}

export interface RunnerMetricsOptions {
  readonly processMetrics: boolean;
  /** The clock ages are measured with at scrape time; Date.now by default. */
  readonly now?: () => number;
}

type FreshnessGauge = Gauge<'namespace' | 'cluster'>;

/** Sets one series per sampled Cluster from `value`, dropping those of Clusters no longer sampled. */
function collectFreshness(
  gauge: FreshnessGauge,
  samples: ReadonlyMap<string, FreshnessSample>,
  value: (sample: FreshnessSample) => number | undefined,
): void {
  gauge.reset();
  for (const [key, sample] of samples) {
    const [namespace = '', cluster = ''] = key.split('/');
    const v = value(sample);
    if (v !== undefined) gauge.set({ namespace, cluster }, v);
  }
}

/** The freshness gauges, computed when scraped so an age is never older than the scrape. */
function freshnessGauges(
  registry: Registry,
  samples: ReadonlyMap<string, FreshnessSample>,
  now: () => number,
): { backupAge: FreshnessGauge; backupStale: FreshnessGauge; lastBackupFailed: FreshnessGauge } {
  return {
    backupAge: new Gauge({
      name: 'lifeboat_cluster_last_backup_age_seconds',
      help: 'Seconds since the newest completed Backup of each Cluster finished; no series while it has none.',
      labelNames: ['namespace', 'cluster'],
      registers: [registry],
      collect(this: FreshnessGauge) {
        const t = now();
        collectFreshness(this, samples, (s) =>
          s.newestCompletedMs === undefined ? undefined : (t - s.newestCompletedMs) / 1000,
        );
      },
    }),
    backupStale: new Gauge({
      name: 'lifeboat_cluster_backup_stale',
      help: '1 while a Cluster with spec.backup.rpo has no completed Backup newer than the rpo, else 0; no series without an rpo.',
      labelNames: ['namespace', 'cluster'],
      registers: [registry],
      collect(this: FreshnessGauge) {
        const t = now();
        collectFreshness(this, samples, (s) => (s.staleAfterMs === undefined ? undefined : t > s.staleAfterMs ? 1 : 0));
      },
    }),
    // The per-Cluster failure signal: lifeboat_backups_total has no Cluster labels, and an alert must
    // name the Cluster and stop when a later Backup completes, as the Cluster's Ready does.
    lastBackupFailed: new Gauge({
      name: 'lifeboat_cluster_last_backup_failed',
      help: '1 while the newest finished Backup of each Cluster failed (no later one completed), else 0.',
      labelNames: ['namespace', 'cluster'],
      registers: [registry],
      collect(this: FreshnessGauge) {
        collectFreshness(this, samples, (s) =>
          s.newestFailedMs !== undefined && s.newestFailedMs > (s.newestCompletedMs ?? -Infinity) ? 1 : 0,
        );
      },
    }),
  };
}

export function createRunnerMetrics(options: RunnerMetricsOptions = { processMetrics: true }): RunnerMetrics {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'lifeboat_runner_' });
  const samples = new Map<string, FreshnessSample>();
  const metrics: RunnerMetrics = {
    registry,
    ...freshnessGauges(registry, samples, options.now ?? Date.now),
    duration: new Histogram({
      name: 'lifeboat_backup_duration_seconds',
      help: 'Time from a Backup starting to its archive and metadata being in the object store.',
      buckets: DURATION_BUCKETS,
      registers: [registry],
    }),
    size: new Gauge({
      name: 'lifeboat_backup_size_bytes',
      help: 'Size of the archive of the newest completed Backup of each Cluster.',
      labelNames: ['namespace', 'cluster'],
      registers: [registry],
    }),
    backups: new Counter({
      name: 'lifeboat_backups_total',
      help: 'Backups that entered each phase (running, completed, failed) while this runner led.',
      labelNames: ['phase'],
      registers: [registry],
    }),
    lastSuccess: new Gauge({
      name: 'lifeboat_last_successful_backup_timestamp_seconds',
      help: 'When the newest completed Backup of each Cluster finished (Unix time); alert when too old.',
      labelNames: ['namespace', 'cluster'],
      registers: [registry],
    }),
    restoreDuration: new Histogram({
      name: 'lifeboat_restore_duration_seconds',
      help: 'Time from a restore (a Restore, or a Cluster bootstrap) starting to its outcome, verification included.',
      labelNames: ['kind'],
      buckets: DURATION_BUCKETS,
      registers: [registry],
    }),
    restores: new Counter({
      name: 'lifeboat_restores_total',
      help: 'Restores that ended in each phase (completed, failed) while this runner led; kind restore or bootstrap.',
      labelNames: ['phase', 'kind'],
      registers: [registry],
    }),
    scheduled: new Counter({
      name: 'lifeboat_scheduled_backups_total',
      help: 'Ticks of ScheduledBackups by what came of them: created, existed (created before), skipped (Forbid), missed (past startingDeadlineSeconds), failed (tried again).',
      labelNames: ['result'],
      registers: [registry],
    }),
    tickDelay: new Histogram({
      name: 'lifeboat_schedule_tick_delay_seconds',
      help: 'Time from a tick to its Backup being created in the API server.',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers: [registry],
    }),
    retentionRemoved: new Counter({
      name: 'lifeboat_retention_deleted_total',
      help: 'Backups whose objects retention deleted while this runner led; action delete (the Backup went too) or expire (a Backup from Git stays, Expired).',
      labelNames: ['action'],
      registers: [registry],
    }),
  };
  zeroKnownSeries(metrics);
  freshnessSamples.set(metrics, samples);
  return metrics;
}

/**
 * Starts the counters' known series at 0: a series born at 1 shows no increase() to Prometheus,
 * so the first failed Backup or Restore after a runner starts would raise no alert.
 */
function zeroKnownSeries(metrics: RunnerMetrics): void {
  for (const phase of ['running', 'completed', 'failed'] as const) metrics.backups.inc({ phase }, 0);
  for (const kind of ['restore', 'bootstrap'] as const) {
    for (const phase of ['completed', 'failed'] as const) metrics.restores.inc({ phase, kind }, 0);
  }
  for (const result of ['created', 'existed', 'skipped', 'missed', 'failed'] as const) {
    metrics.scheduled.inc({ result }, 0);
  }
  for (const action of ['delete', 'expire'] as const) metrics.retentionRemoved.inc({ action }, 0);
}

/** Records what the ClusterBackups reconciler computed of a Cluster; the gauges follow at the next scrape. */
export function noteFreshness(
  metrics: RunnerMetrics,
  namespace: string,
  cluster: string,
  sample: FreshnessSample,
): void {
  freshnessSamples.get(metrics)?.set(`${namespace}/${cluster}`, sample);
}

/** Drops a deleted Cluster's series, or every Cluster's (no cluster given) when this runner stops leading. */
export function forgetFreshness(metrics: RunnerMetrics, namespace?: string, cluster?: string): void {
  const samples = freshnessSamples.get(metrics);
  if (namespace === undefined || cluster === undefined) samples?.clear();
  else samples?.delete(`${namespace}/${cluster}`);
}

/** Counts a restore that ended, and how long a completed one took. */
export function observeRestore(
  metrics: RunnerMetrics,
  kind: 'restore' | 'bootstrap',
  record: { readonly startedAt?: string | undefined; readonly stoppedAt?: string | undefined },
  phase: 'completed' | 'failed',
): void {
  metrics.restores.inc({ phase, kind });
  const started = Date.parse(record.startedAt ?? '');
  const stopped = Date.parse(record.stoppedAt ?? '');
  if (phase === 'completed' && Number.isFinite(started) && Number.isFinite(stopped) && stopped >= started) {
    metrics.restoreDuration.observe({ kind }, (stopped - started) / 1000);
  }
}

function clusterLabels(backup: Backup): { namespace: string; cluster: string } {
  return { namespace: backup.metadata.namespace ?? 'default', cluster: backup.spec.cluster.name };
}

/** Counts a Backup entering a phase; for a completed one also its duration and size. */
export function observePhase(metrics: RunnerMetrics, backup: Backup, phase: BackupPhase): void {
  metrics.backups.inc({ phase });
  if (phase !== 'completed') return;
  const started = Date.parse(backup.status?.startedAt ?? '');
  const stopped = Date.parse(backup.status?.stoppedAt ?? '');
  if (Number.isFinite(started) && Number.isFinite(stopped) && stopped >= started) {
    metrics.duration.observe((stopped - started) / 1000);
  }
  noteCompleted(metrics, backup);
}

/**
 * Keeps the per-Cluster gauges at the newest completed Backup. Called for every completed Backup
 * seen, so a restarted runner reports the right values again once its informers have listed.
 */
export function noteCompleted(metrics: RunnerMetrics, backup: Backup): void {
  const stopped = Date.parse(backup.status?.stoppedAt ?? '');
  if (!Number.isFinite(stopped)) return;
  const labels = clusterLabels(backup);
  const key = `${labels.namespace}/${labels.cluster}`;
  const seen = newestSeen.get(metrics) ?? new Map<string, number>();
  newestSeen.set(metrics, seen);
  if (stopped < (seen.get(key) ?? -Infinity)) return;
  seen.set(key, stopped);
  metrics.lastSuccess.set(labels, stopped / 1000);
  if (backup.status?.size !== undefined) metrics.size.set(labels, backup.status.size);
}
