// The runner's metrics as Prometheus scrapes them.
import assert from 'node:assert/strict';
import type { Backup } from '../../crds/kinds.js';
import { createRunnerMetrics, noteCompleted, noteFreshness, observePhase } from '../../runner/runner-metrics.js';

function completed(name: string, stoppedAt: string, size: number): Backup {
  return {
    apiVersion: 'lifeboat.dev/v1alpha1',
    kind: 'Backup',
    metadata: { name, namespace: 'prod' },
    spec: { cluster: { name: 'shop' } },
    status: { phase: 'completed', startedAt: '2026-01-01T00:00:00Z', stoppedAt, size },
  };
}

describe('runner metrics', () => {
  it('counts phases and records duration, size and the newest success per cluster', async () => {
    const metrics = createRunnerMetrics({ processMetrics: false });
    const b = completed('b1', '2026-01-01T00:01:30Z', 4096);
    observePhase(metrics, b, 'running');
    observePhase(metrics, b, 'completed');
    observePhase(metrics, b, 'failed');
    const text = await metrics.registry.metrics();
    assert.match(text, /lifeboat_backups_total\{phase="running"\} 1/);
    assert.match(text, /lifeboat_backups_total\{phase="completed"\} 1/);
    assert.match(text, /lifeboat_backups_total\{phase="failed"\} 1/);
    assert.match(text, /lifeboat_backup_duration_seconds_sum 90/);
    assert.match(text, /lifeboat_backup_size_bytes\{namespace="prod",cluster="shop"\} 4096/);
    assert.match(
      text,
      /lifeboat_last_successful_backup_timestamp_seconds\{namespace="prod",cluster="shop"\} 1767225690/,
    );
  });

  it('keeps the newest success when older Backups are seen later (a restarted runner listing)', async () => {
    const metrics = createRunnerMetrics({ processMetrics: false });
    noteCompleted(metrics, completed('new', '2026-01-02T00:00:00Z', 2));
    noteCompleted(metrics, completed('old', '2026-01-01T00:00:00Z', 1));
    const text = await metrics.registry.metrics();
    assert.match(text, /lifeboat_backup_size_bytes\{namespace="prod",cluster="shop"\} 2/);
    assert.match(
      text,
      /lifeboat_last_successful_backup_timestamp_seconds\{namespace="prod",cluster="shop"\} 1767312000/,
    );
  });

  it('exports 1 per Cluster while its newest finished Backup failed, 0 once a later one completed', async () => {
    const metrics = createRunnerMetrics({ processMetrics: false });
    const ms = (iso: string): number => Date.parse(iso);
    noteFreshness(metrics, 'prod', 'shop', {
      newestCompletedMs: ms('2026-01-01T01:00:00Z'),
      newestFailedMs: ms('2026-01-01T02:00:00Z'),
      staleAfterMs: undefined,
    });
    noteFreshness(metrics, 'prod', 'cart', {
      newestCompletedMs: ms('2026-01-01T03:00:00Z'),
      newestFailedMs: ms('2026-01-01T02:00:00Z'),
      staleAfterMs: undefined,
    });
    noteFreshness(metrics, 'dev', 'none', {
      newestCompletedMs: undefined,
      newestFailedMs: ms('2026-01-01T02:00:00Z'),
      staleAfterMs: undefined,
    });
    noteFreshness(metrics, 'dev', 'new', { newestCompletedMs: undefined, staleAfterMs: undefined });
    const text = await metrics.registry.metrics();
    assert.match(text, /lifeboat_cluster_last_backup_failed\{namespace="prod",cluster="shop"\} 1\n/);
    assert.match(text, /lifeboat_cluster_last_backup_failed\{namespace="prod",cluster="cart"\} 0\n/);
    assert.match(text, /lifeboat_cluster_last_backup_failed\{namespace="dev",cluster="none"\} 1\n/);
    assert.match(text, /lifeboat_cluster_last_backup_failed\{namespace="dev",cluster="new"\} 0\n/);
  });

  it('starts every known counter series at 0, so the first failure shows as an increase', async () => {
    const metrics = createRunnerMetrics({ processMetrics: false });
    const text = await metrics.registry.metrics();
    assert.match(text, /lifeboat_backups_total\{phase="failed"\} 0\n/);
    assert.match(text, /lifeboat_restores_total\{phase="failed",kind="restore"\} 0\n/);
    assert.match(text, /lifeboat_restores_total\{phase="failed",kind="bootstrap"\} 0\n/);
    assert.match(text, /lifeboat_scheduled_backups_total\{result="missed"\} 0\n/);
    assert.match(text, /lifeboat_retention_deleted_total\{action="expire"\} 0\n/);
  });
});
