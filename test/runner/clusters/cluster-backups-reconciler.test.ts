// The ClusterBackups reconciler against a fake API server in memory and a fake informer cache:
// what it writes, that it writes nothing when nothing changed, Events only when BackupStale
// turns, the requeue for the stale instant, and the freshness metrics.
import assert from 'node:assert/strict';
import type { LifeboatKind } from '../../../crds/kinds.js';
import {
  CLUSTER_BACKUPS,
  clusterBackupsReconciler,
  MAX_REQUEUE_MS,
  REQUEUE_SLACK_MS,
  type CacheReader,
} from '../../../runner/clusters/cluster-backups-reconciler.js';
import { createRunnerMetrics, type RunnerMetrics } from '../../../runner/runner-metrics.js';
import { EventRecorder } from '../../../runner/status/event-recorder.js';
import type { KeyedReconciler } from '../../../runner/reconcile/keyed-reconciler.js';
import { FakeClock, FakeLifeboatApi, silentLog } from '../reconcile/fakes.js';
import { backup, cluster, CREATED, HOUR } from './cluster-fixtures.js';

type Json = Record<string, unknown>;

/** The informer cache as the fake API holds it: always listed, always current. */
function cacheOf(api: FakeLifeboatApi): CacheReader {
  return {
    get: (kind: LifeboatKind, namespace: string, name: string) => api.get(kind, namespace, name),
    list: (kind: LifeboatKind) => [...api.objects.values()].filter((o) => o.kind === kind),
    synced: async () => {},
  };
}

interface World {
  readonly api: FakeLifeboatApi;
  readonly clock: FakeClock;
  readonly metrics: RunnerMetrics;
  readonly reconciler: KeyedReconciler;
  status(): Json;
  condition(type: string): Json | undefined;
  events(): { type: string; reason: string; message: string }[];
  addBackup(name: string, phase: 'completed' | 'failed', stoppedAt: string): void;
  reconcile(): Promise<number | undefined>;
}

function world(rpo: string | undefined, status?: Json): World {
  const api = new FakeLifeboatApi();
  const stored = cluster(rpo, 'shop', 'prod');
  api.put('Cluster', { ...stored, ...(status ? { status } : {}) } as unknown as Json);
  const clock = new FakeClock(Date.parse(CREATED));
  const metrics = createRunnerMetrics({ processMetrics: false, now: () => clock.now() });
  const events = new EventRecorder(api, { log: silentLog, clock });
  const reconciler = clusterBackupsReconciler({
    client: api,
    cache: cacheOf(api),
    events,
    log: silentLog,
    metrics,
    clock,
  });
  const status_ = (): Json => api.get('Cluster', 'prod', 'shop')?.status ?? {};
  return {
    api,
    clock,
    metrics,
    reconciler,
    status: status_,
    condition: (type) => (status_()['conditions'] as Json[] | undefined)?.find((c) => c['type'] === type),
    events: () => api.events.map((e) => ({ type: e.type ?? '', reason: e.reason ?? '', message: e.message ?? '' })),
    addBackup: (name, phase, stoppedAt) =>
      api.put('Backup', backup(name, phase, stoppedAt) as unknown as Json) && undefined,
    reconcile: async () => {
      const result = await reconciler.reconcile('prod', 'shop');
      return result?.requeueAfterMs;
    },
  };
}

describe('ClusterBackups reconciler (fake API, fake cache)', () => {
  it('is keyed ClusterBackups and watches Clusters', () => {
    const w = world('1h');
    assert.equal(w.reconciler.name, CLUSTER_BACKUPS);
    assert.equal(w.reconciler.watches, 'Cluster');
  });

  it('writes the fields and conditions once; a second reconcile with nothing changed writes nothing', async () => {
    const w = world('2h');
    w.addBackup('b1', 'completed', '2026-01-01T00:10:00Z');
    w.addBackup('b0', 'failed', '2026-01-01T00:05:00Z');
    await w.clock.advance(20 * 60_000);
    await w.reconcile();
    const s = w.status();
    assert.equal(s['lastSuccessfulBackup'], 'b1');
    assert.equal(s['lastSuccessfulBackupTime'], '2026-01-01T00:10:00Z');
    assert.equal(s['lastFailedBackup'], 'b0');
    assert.equal(s['firstRecoverabilityPoint'], '2026-01-01T00:10:00Z');
    assert.equal(w.condition('BackupStale')?.['status'], 'False');
    assert.equal(w.condition('Ready')?.['status'], 'True');
    assert.equal(w.condition('Ready')?.['observedGeneration'], 1);
    assert.equal(w.api.patches.length, 1);
    await w.clock.advance(10 * 60_000);
    await w.reconcile();
    assert.equal(w.api.patches.length, 1, 'an unchanged situation wrote again');
    assert.deepEqual(w.events(), [], 'BackupStale never turned True, so no Event');
  });

  it('never touches status.bootstrap, which belongs to the bootstrap reconciler', async () => {
    const bootstrap = { phase: 'completed', stoppedAt: '2026-01-01T00:00:30Z' };
    const w = world('1h', { bootstrap });
    w.addBackup('b1', 'completed', '2026-01-01T00:10:00Z');
    await w.reconcile();
    assert.deepEqual(w.status()['bootstrap'], bootstrap);
    for (const { patch } of w.api.patches) assert.equal('bootstrap' in (patch.status as Json), false);
  });

  it('an Event only when BackupStale turns: Warning to True (since when, the rpo), Normal back to False', async () => {
    const w = world('1h');
    w.addBackup('b1', 'completed', '2026-01-01T00:10:00Z');
    assert.equal(await w.reconcile(), 70 * 60_000 + REQUEUE_SLACK_MS);
    await w.clock.advance(70 * 60_000 + REQUEUE_SLACK_MS);
    assert.equal(await w.reconcile(), undefined, 'a stale Cluster waits for a Backup, not a timer');
    assert.equal(w.condition('BackupStale')?.['status'], 'True');
    assert.equal(w.condition('Ready')?.['reason'], 'BackupTooOld');
    await w.clock.advance(HOUR);
    await w.reconcile();
    assert.equal(w.events().length, 1, 'staying stale recorded another Event');
    const [stale] = w.events();
    assert.equal(stale?.type, 'Warning');
    assert.equal(stale?.reason, 'BackupOlderThanRpo');
    assert.match(stale?.message ?? '', /stale since 2026-01-01T01:10:00.000Z.*rpo of 1h/);
    w.addBackup('b2', 'completed', '2026-01-01T02:00:00Z');
    await w.reconcile();
    assert.equal(w.condition('BackupStale')?.['status'], 'False');
    assert.deepEqual(
      w.events().map((e) => [e.type, e.reason]),
      [
        ['Warning', 'BackupOlderThanRpo'],
        ['Normal', 'BackupWithinRpo'],
      ],
    );
    assert.equal(w.status()['lastSuccessfulBackup'], 'b2');
  });

  it('no completed Backup: requeues for the Cluster age reaching the rpo, then turns stale with a Warning', async () => {
    const w = world('30m');
    assert.equal(await w.reconcile(), 30 * 60_000 + REQUEUE_SLACK_MS);
    assert.equal(w.condition('BackupStale')?.['reason'], 'AwaitingFirstBackup');
    await w.clock.advance(30 * 60_000 + REQUEUE_SLACK_MS);
    await w.reconcile();
    assert.equal(w.condition('BackupStale')?.['reason'], 'NoBackupWithinRpo');
    assert.deepEqual(
      w.events().map((e) => [e.type, e.reason]),
      [['Warning', 'NoBackupWithinRpo']],
    );
  });

  it('a long rpo requeues no later than MAX_REQUEUE_MS (timers overflow past ~24.8 days)', async () => {
    const w = world('30d');
    assert.equal(await w.reconcile(), MAX_REQUEUE_MS);
  });

  it('no rpo: no BackupStale, no requeue; removing the rpo removes the condition without an Event', async () => {
    const w = world(undefined);
    w.addBackup('b1', 'completed', '2026-01-01T00:10:00Z');
    assert.equal(await w.reconcile(), undefined);
    assert.equal(w.condition('BackupStale'), undefined);
    assert.equal(w.condition('Ready')?.['reason'], 'ClusterProtected');

    const v = world('1m');
    await v.clock.advance(HOUR);
    await v.reconcile();
    assert.equal(v.condition('BackupStale')?.['status'], 'True');
    const stored = v.api.get('Cluster', 'prod', 'shop');
    if (stored?.spec) stored.spec['backup'] = {};
    await v.reconcile();
    assert.equal(v.condition('BackupStale'), undefined);
    assert.equal(v.events().length, 1);
  });

  it('all Backups gone: the fields are removed again', async () => {
    const w = world(undefined);
    w.addBackup('b1', 'completed', '2026-01-01T00:10:00Z');
    await w.reconcile();
    w.api.objects.delete('Backup/prod/b1');
    await w.reconcile();
    assert.equal(w.status()['lastSuccessfulBackup'], undefined);
    assert.equal(w.status()['firstRecoverabilityPoint'], undefined);
    assert.equal(w.condition('Ready')?.['reason'], 'NoCompletedBackup');
  });

  it('related: a Backup event queues its Cluster in its namespace; other kinds queue nothing', () => {
    const w = world('1h');
    const object = backup('b1', 'completed', '2026-01-01T00:10:00Z');
    const related = w.reconciler.related?.bind(w.reconciler);
    assert.deepEqual(related?.({ type: 'update', kind: 'Backup', namespace: 'prod', name: 'b1', object }), [
      { namespace: 'prod', name: 'shop' },
    ]);
    assert.deepEqual(related?.({ type: 'delete', kind: 'Backup', namespace: 'prod', name: 'b1', object }), [
      { namespace: 'prod', name: 'shop' },
    ]);
    assert.deepEqual(related?.({ type: 'add', kind: 'Restore', namespace: 'prod', name: 'r', object: {} }), []);
    assert.deepEqual(related?.({ type: 'add', kind: 'Backup', namespace: 'prod', name: 'x', object: {} }), []);
  });

  it('metrics: the age is taken at scrape time; a deleted Cluster and a lost lead drop the series', async () => {
    const w = world('1h');
    w.addBackup('b1', 'completed', '2026-01-01T00:10:00Z');
    await w.clock.advance(20 * 60_000);
    await w.reconcile();
    const labels = '{namespace="prod",cluster="shop"}';
    let text = await w.metrics.registry.metrics();
    assert.ok(text.includes(`lifeboat_cluster_last_backup_age_seconds${labels} 600`), text);
    assert.ok(text.includes(`lifeboat_cluster_backup_stale${labels} 0`), text);
    await w.clock.advance(HOUR);
    text = await w.metrics.registry.metrics();
    assert.ok(text.includes(`lifeboat_cluster_last_backup_age_seconds${labels} 4200`), text);
    assert.ok(text.includes(`lifeboat_cluster_backup_stale${labels} 1`), 'stale before any reconcile ran');

    w.api.objects.delete('Cluster/prod/shop');
    await w.reconcile();
    text = await w.metrics.registry.metrics();
    assert.equal(text.includes(labels), false, 'a deleted Cluster kept its series');

    const v = world('1h');
    await v.reconcile();
    assert.ok((await v.metrics.registry.metrics()).includes(`lifeboat_cluster_backup_stale${labels} 0`));
    assert.equal((await v.metrics.registry.metrics()).includes('lifeboat_cluster_last_backup_age_seconds{'), false);
    v.reconciler.onLeadership?.(false);
    assert.equal((await v.metrics.registry.metrics()).includes(labels), false);
  });
});
