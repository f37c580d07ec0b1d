// The runner's Prometheus metrics (docs/design.md, "Observability"), on a registry of its own so tests can read them.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BackupPhase } from '../crds/api-constants.js';
import type { Backup } from '../crds/kinds.js';

/** From a minute to a day: logical dumps of small databases up to physical copies of large ones. */
const DURATION_BUCKETS = [10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 86400];

// prom-client cannot read a gauge back synchronously; the newest stoppedAt per Cluster lives here.
const newestSeen = new WeakMap<RunnerMetrics, Map<string, number>>();

export interface RunnerMetrics {
  readonly registry: Registry;
  readonly duration: Histogram;
  readonly size: Gauge<'namespace' | 'cluster'>;
  readonly backups: Counter<'phase'>;
  readonly lastSuccess: Gauge<'namespace' | 'cluster'>;
  readonly restoreDuration: Histogram<'kind'>;
  readonly restores: Counter<'phase' | 'kind'>;
  readonly retentionRemoved: Counter<'action'>;
}

export function createRunnerMetrics(options: { processMetrics: boolean } = { processMetrics: true }): RunnerMetrics {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'lifeboat_runner_' });
  return {
    registry,
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
    retentionRemoved: new Counter({
      name: 'lifeboat_retention_deleted_total',
      help: 'Backups whose objects retention deleted while this runner led; action delete (the Backup went too) or expire (a Backup from Git stays, Expired).',
      labelNames: ['action'],
      registers: [registry],
    }),
  };
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
