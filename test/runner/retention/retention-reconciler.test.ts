// The Retention reconciler with a fake API server and a fake S3: it plans from fresh reads, removes,
// writes Events on the Cluster, counts removals, requeues periodically, and retries soon when the
// store left backups behind. related(): a Backup that ends queues its Cluster.
import assert from 'node:assert/strict';
import { createRunnerMetrics } from '../../../runner/runner-metrics.js';
import { EventRecorder } from '../../../runner/status/event-recorder.js';
import { retentionReconciler, retentionRelated } from '../../../runner/retention/retention-reconciler.js';
import { FakeS3 } from '../data-path/fake-s3.js';
import { silentLog } from '../reconcile/fakes.js';
import { FakeRetentionApi, keysOf, logS3, NOW, putBackup, putCluster } from './retention-fixtures.js';

function setup(retention?: { keep?: number; maxAge?: string }) {
  const api = new FakeRetentionApi();
  const s3 = new FakeS3();
  const metrics = createRunnerMetrics({ processMetrics: false });
  putCluster(api, retention);
  const reconciler = retentionReconciler({
    kube: api,
    events: new EventRecorder(api, { log: silentLog }),
    log: silentLog,
    metrics,
    now: () => NOW,
    periodMs: 600_000,
    retryMs: 30_000,
    s3For: async () => s3.client(),
  });
  return { api, s3, metrics, reconciler };
}

describe('retention reconciler (fake API server, fake S3)', () => {
  it('removes what the plan lets go, says so on the Cluster, counts it, and comes back in 10 minutes', async () => {
    const { api, s3, metrics, reconciler } = setup({ keep: 2 });
    for (const [name, daysAgo] of [
      ['b1', 1],
      ['b2', 2],
      ['b3', 3],
    ] as const)
      putBackup(api, s3, { name, daysAgo });
    putBackup(api, s3, { name: 'g4', daysAgo: 4, origin: 'git' });
    assert.equal(reconciler.name, 'Retention');
    assert.equal(reconciler.watches, 'Cluster');
    const result = await reconciler.reconcile('shop', 'db');
    assert.deepEqual(result, { requeueAfterMs: 600_000 });
    assert.equal(api.get('Backup', 'shop', 'b3'), undefined);
    assert.ok(api.get('Backup', 'shop', 'g4'));
    assert.deepEqual(keysOf(s3, 'g4'), []);
    const events = api.events.map(
      (e) => `${e.involvedObject.kind}/${e.involvedObject.name} ${e.type} ${e.reason}: ${e.message}`,
    );
    assert.deepEqual(events, [
      'Cluster/db Normal RetentionExpired: retention (keep 2) removed Backup g4: beyond keep 2 (4th newest); its archive and metadata.json were deleted; the Backup came from Git and stays, Expired',
      'Cluster/db Normal RetentionDeleted: retention (keep 2) removed Backup b3: beyond keep 2 (3rd newest); its archive, metadata.json and Backup object were deleted',
    ]);
    const counted = await metrics.registry.getSingleMetricAsString('lifeboat_retention_deleted_total');
    assert.match(counted, /lifeboat_retention_deleted_total\{action="delete"\} 1/);
    assert.match(counted, /lifeboat_retention_deleted_total\{action="expire"\} 1/);
  });

  it('a backup a pending Restore names is kept', async () => {
    const { api, s3, reconciler } = setup({ keep: 1 });
    for (const [name, daysAgo] of [
      ['b1', 1],
      ['b2', 2],
    ] as const)
      putBackup(api, s3, { name, daysAgo });
    api.put('Restore', {
      metadata: { name: 'r1', namespace: 'shop' },
      spec: { cluster: { name: 'db' }, backup: { name: 'b2' } },
    });
    await reconciler.reconcile('shop', 'db');
    assert.ok(api.get('Backup', 'shop', 'b2'));
    assert.deepEqual(api.events, []);
  });

  it('a backup that a Restore in another namespace will read (source, backupID) is kept; not so when the runner watches one namespace', async () => {
    for (const usesNamespace of [undefined, 'shop']) {
      const { api, s3 } = setup({ keep: 1 });
      putBackup(api, s3, { name: 'b1', daysAgo: 1 });
      putBackup(api, s3, { name: 'b2', daysAgo: 2 });
      const b2Id = String((api.get('Backup', 'shop', 'b2')?.status as { backupId?: string } | undefined)?.backupId);
      api.put('Restore', {
        metadata: { name: 'elsewhere', namespace: 'staging' },
        spec: { cluster: { name: 'copy' }, source: 'db', backupID: b2Id },
        status: { phase: 'pending' },
      });
      const scoped = retentionReconciler({
        kube: api,
        events: new EventRecorder(api, { log: silentLog }),
        log: silentLog,
        now: () => NOW,
        s3For: async () => s3.client(),
        usesNamespace,
      });
      await scoped.reconcile('shop', 'db');
      const kept = api.get('Backup', 'shop', 'b2') !== undefined;
      assert.equal(kept, usesNamespace === undefined, `usesNamespace ${String(usesNamespace)}`);
    }
  });

  it('the store down: a Warning on the Cluster names what is left, and it retries soon', async () => {
    const { api, s3, reconciler } = setup({ keep: 1 });
    for (const [name, daysAgo] of [
      ['b1', 1],
      ['b2', 2],
      ['b3', 3],
    ] as const)
      putBackup(api, s3, { name, daysAgo });
    logS3(s3, [], () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    const result = await reconciler.reconcile('shop', 'db');
    assert.deepEqual(result, { requeueAfterMs: 30_000 });
    const [warning] = api.events;
    assert.equal(warning?.type, 'Warning');
    assert.equal(warning?.reason, 'RetentionIncomplete');
    assert.match(
      warning?.message ?? '',
      /^retention left 2 backup\(s\) to remove: b3, b2; first: checking s3:\/\/.*connection refused.*trying again in 30 s$/,
    );
    logS3(s3, []);
    assert.deepEqual(await reconciler.reconcile('shop', 'db'), { requeueAfterMs: 600_000 });
    assert.equal(api.get('Backup', 'shop', 'b2'), undefined);
  });

  it('a backup under Object Lock: an Event on the Backup says until when, the Backup stays, and it comes back when the lock ends', async () => {
    const { api, s3, reconciler } = setup({ keep: 1 });
    const until = new Date(NOW.getTime() + 120_000);
    putBackup(api, s3, { name: 'b1', daysAgo: 1 });
    putBackup(api, s3, { name: 'b2', daysAgo: 2, lockedUntil: until });
    putBackup(api, s3, { name: 'b3', daysAgo: 3, lockedUntil: until, lockUnrecorded: true });
    const result = await reconciler.reconcile('shop', 'db');
    assert.deepEqual(result, { requeueAfterMs: 121_000 });
    assert.ok(api.get('Backup', 'shop', 'b2'));
    assert.ok(api.get('Backup', 'shop', 'b3'));
    assert.equal(keysOf(s3, 'b3').length, 2);
    const onBackups = api.events
      .filter((e) => e.involvedObject.kind === 'Backup')
      .map((e) => `${e.involvedObject.name} ${e.type} ${e.reason}: ${e.message}`);
    assert.deepEqual(onBackups, [
      'b2 Normal RetentionLocked: retention (keep 1) would remove this backup (beyond keep 1 (2nd newest)), but its objects are under Object Lock until 2026-12-03T12:02:00.000Z; the Backup and its objects stay until then',
      'b3 Normal RetentionLocked: retention (keep 1) would remove this backup (beyond keep 1 (3rd newest)), but its objects are under Object Lock until 2026-12-03T12:02:00.000Z; the Backup and its objects stay until then',
    ]);
  });

  it('a Cluster without retention, or gone, is left alone and not requeued', async () => {
    const { api, s3, reconciler } = setup();
    for (const [name, daysAgo] of [
      ['b1', 1],
      ['b2', 2],
    ] as const)
      putBackup(api, s3, { name, daysAgo });
    assert.equal(await reconciler.reconcile('shop', 'db'), undefined);
    assert.equal(await reconciler.reconcile('shop', 'nope'), undefined);
    assert.ok(api.get('Backup', 'shop', 'b2'));
  });

  it('a retention the API should have refused (keep 0): a Warning on the Cluster, nothing removed, no requeue', async () => {
    const { api, s3, reconciler } = setup({ keep: 0 });
    for (const [name, daysAgo] of [
      ['b1', 1],
      ['b2', 2],
    ] as const)
      putBackup(api, s3, { name, daysAgo });
    assert.equal(await reconciler.reconcile('shop', 'db'), undefined);
    assert.ok(api.get('Backup', 'shop', 'b2'));
    assert.equal(api.events[0]?.reason, 'RetentionRuleInvalid');
    assert.match(api.events[0]?.message ?? '', /write keep: 1 or more; retention is off until it is fixed$/);
  });

  it('a retention the API should have refused (keep 0): a Warning on the Cluster, nothing removed, no requeue', async () => {
    const { api, s3, reconciler } = setup({ keep: 0 });
    for (const [name, daysAgo] of [
      ['b1', 1],
      ['b2', 2],
    ] as const)
      putBackup(api, s3, { name, daysAgo });
    assert.equal(await reconciler.reconcile('shop', 'db'), undefined);
    assert.ok(api.get('Backup', 'shop', 'b2'));
    assert.equal(api.events[0]?.reason, 'RetentionRuleInvalid');
    assert.match(api.events[0]?.message ?? '', /write keep: 1 or more; retention is off until it is fixed$/);
  });

  it("only its own Cluster's Backups count", async () => {
    const { api, s3, reconciler } = setup({ keep: 1 });
    putBackup(api, s3, { name: 'b1', daysAgo: 1 });
    api.put('Backup', {
      metadata: { name: 'other', namespace: 'shop' },
      spec: { cluster: { name: 'db2' } },
      status: { phase: 'completed', stoppedAt: '2026-01-01T00:00:00Z' },
    });
    await reconciler.reconcile('shop', 'db');
    assert.ok(api.get('Backup', 'shop', 'other'));
  });

  it('related: a Backup that completed or failed queues its Cluster; others queue nothing', () => {
    const event = (kind: 'Backup' | 'Restore', phase?: string) => ({
      type: 'update' as const,
      kind,
      namespace: 'shop',
      name: 'b1',
      object: { spec: { cluster: { name: 'db' } }, ...(phase ? { status: { phase } } : {}) },
    });
    assert.deepEqual(retentionRelated(event('Backup', 'completed')), [{ namespace: 'shop', name: 'db' }]);
    assert.deepEqual(retentionRelated(event('Backup', 'failed')), [{ namespace: 'shop', name: 'db' }]);
    assert.deepEqual(retentionRelated(event('Backup', 'running')), []);
    assert.deepEqual(retentionRelated(event('Backup')), []);
    assert.deepEqual(retentionRelated(event('Restore', 'completed')), []);
  });
});
