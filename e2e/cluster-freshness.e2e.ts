// A Cluster's backup freshness on the real stack: a whole runner started in-process (this
// worktree's code, watching the test's namespace only, its Lease there) keeps the Cluster's status,
// and its process executor takes real mariadb-dump backups of the stack's standalone server into
// MinIO. The stack's own runner is stopped meanwhile, so it neither claims these Backups nor writes
// the Cluster's status.
import assert from 'node:assert/strict';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { type RunningRunner } from '../runner/runner-main.js';
import { parseTables } from './support/asserts.js';
import { kube, kubectlOk, type KubeObject, type TestNamespace } from './support/kube.js';
import {
  backupOf,
  createStackSecrets,
  minioStore,
  namespaceAndPathPerTest,
  stackCluster,
  waitForPhase,
} from './support/stack-objects.js';
import { withoutStackRunner } from './support/stack.js';
import { eventually } from './support/eventually.js';
import { startNamespaceRunner } from './support/namespace-runner.js';

/** Short, so the test sees the Cluster turn stale twice; no policy sets a floor on rpo. */
const RPO = '20s';
const RPO_MS = 20_000;

type Json = Record<string, unknown>;

function conditionOf(cluster: KubeObject, type: string): Json | undefined {
  return (cluster.status?.['conditions'] as Json[] | undefined)?.find((c) => c['type'] === type);
}

/** The Cluster once its BackupStale condition has `reason`. */
async function staleReason(ns: TestNamespace, reason: string, timeoutMs = 30_000): Promise<KubeObject> {
  return eventually(
    `BackupStale ${reason}`,
    async () => {
      const cluster = await ns.get('clusters', 'db');
      return conditionOf(cluster, 'BackupStale')?.['reason'] === reason ? cluster : undefined;
    },
    timeoutMs,
  );
}

async function clusterEvents(ns: TestNamespace): Promise<{ type: string; reason: string; message: string }[]> {
  const fieldSelector = 'involvedObject.kind=Cluster,involvedObject.name=db';
  const list = await kube().core.listNamespacedEvent({ namespace: ns.name, fieldSelector });
  return list.items
    .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''))
    .map((e) => ({ type: e.type ?? '', reason: e.reason ?? '', message: e.message ?? '' }));
}

/** The Cluster's row of `kubectl get clusters`: the printer columns as a user sees them. */
function clusterRow(ns: TestNamespace): Record<string, string> {
  const [table] = parseTables(kubectlOk(['get', 'clusters', '-n', ns.name]));
  const row = table?.rows.find((r) => r['NAME'] === 'db');
  assert.ok(row, `no row for db in kubectl get clusters: ${JSON.stringify(table)}`);
  return row;
}

async function scrape(runner: RunningRunner): Promise<string> {
  return (await fetch(`http://127.0.0.1:${runner.port}/metrics`)).text();
}

describe('cluster freshness (in-process runner, real mariadb-dump Backups, real API server and MinIO)', function () {
  this.timeout(240_000);
  withoutStackRunner();
  let ns: TestNamespace;
  let path = '';
  let runner: RunningRunner | undefined;
  const saved = { ...process.env };
  // Registered before namespaceAndPathPerTest, so they run before the namespace goes: without
  // kube-controller-manager nothing else deletes Events and Leases.
  afterEach(async function () {
    await runner?.stop();
    runner = undefined;
    process.env = saved;
    await kube().core.deleteCollectionNamespacedEvent({ namespace: ns.name });
    await kube().config.makeApiClient(CoordinationV1Api).deleteCollectionNamespacedLease({ namespace: ns.name });
  });
  namespaceAndPathPerTest((created, its) => ((ns = created), (path = its)));

  beforeEach(async function () {
    await createStackSecrets(ns);
    runner = await startNamespaceRunner(ns, { identity: 'freshness-e2e' });
  });

  it('rpo 20s: stale with no backup (Warning Event), fresh after a real Backup (Normal Event, LAST BACKUP and READY filled), stale again by the requeue alone', async function () {
    const leader = runner as RunningRunner;
    const cluster = stackCluster('db', 'standalone', minioStore(path));
    (cluster.spec?.['backup'] as Json)['rpo'] = RPO;
    const created = await ns.create('clusters', cluster);
    const createdMs = Date.parse(String(created.metadata.creationTimestamp));

    const waiting = await staleReason(ns, 'AwaitingFirstBackup');
    assert.equal(conditionOf(waiting, 'Ready')?.['reason'], 'NoCompletedBackup');
    assert.equal(clusterRow(ns)['READY'], 'False');

    // Only the runner's own requeue can notice this: nothing changes in the API meanwhile.
    const stale = await staleReason(ns, 'NoBackupWithinRpo', RPO_MS + 20_000);
    assert.equal(conditionOf(stale, 'BackupStale')?.['status'], 'True');
    assert.ok(Date.now() >= createdMs + RPO_MS, 'turned stale before the rpo had passed');
    const warning = await eventually('the Warning Event', async () => (await clusterEvents(ns))[0]);
    assert.equal(warning.type, 'Warning');
    assert.equal(warning.reason, 'NoBackupWithinRpo');
    assert.match(warning.message, new RegExp(`stale since .*rpo of ${RPO}`));
    const labels = `{namespace="${ns.name}",cluster="db"}`;
    let metrics = await scrape(leader);
    assert.ok(metrics.includes(`lifeboat_cluster_backup_stale${labels} 1`), metrics);
    assert.equal(metrics.includes(`lifeboat_cluster_last_backup_age_seconds${labels}`), false);

    await ns.create('backups', backupOf('b1', 'db', { method: 'mariadb-dump' }));
    const b1 = (await waitForPhase(ns, 'b1', ['completed', 'failed'], 120_000)).status ?? {};
    assert.equal(b1['phase'], 'completed', JSON.stringify(b1));
    const fresh = await staleReason(ns, 'BackupWithinRpo', 10_000);
    assert.equal(fresh.status?.['lastSuccessfulBackup'], 'b1');
    assert.equal(fresh.status?.['lastSuccessfulBackupTime'], b1['stoppedAt']);
    assert.equal(fresh.status?.['firstRecoverabilityPoint'], b1['stoppedAt']);
    assert.equal(conditionOf(fresh, 'Ready')?.['status'], 'True');
    const row = clusterRow(ns);
    assert.equal(row['READY'], 'True');
    assert.match(row['LAST BACKUP'] ?? '', /^\d+s$/, `LAST BACKUP column: ${JSON.stringify(row)}`);
    const normal = await eventually('the Normal Event', async () => (await clusterEvents(ns))[1]);
    assert.deepEqual([normal.type, normal.reason], ['Normal', 'BackupWithinRpo']);
    metrics = await scrape(leader);
    assert.match(
      metrics,
      new RegExp(`lifeboat_cluster_last_backup_age_seconds\\{namespace="${ns.name}",cluster="db"\\} \\d`),
    );
    assert.ok(metrics.includes(`lifeboat_cluster_backup_stale${labels} 0`), metrics);

    // The schedule "silently stopped": no Backup comes, and the requeue alone turns it stale again.
    const again = await staleReason(ns, 'BackupOlderThanRpo', RPO_MS + 20_000);
    assert.equal(conditionOf(again, 'Ready')?.['reason'], 'BackupTooOld');
    assert.equal(clusterRow(ns)['READY'], 'False');
    const events = await eventually('the second Warning', async () => {
      const all = await clusterEvents(ns);
      return all.length >= 3 ? all : undefined;
    });
    assert.deepEqual(
      events.map((e) => [e.type, e.reason]),
      [
        ['Warning', 'NoBackupWithinRpo'],
        ['Normal', 'BackupWithinRpo'],
        ['Warning', 'BackupOlderThanRpo'],
      ],
    );

    await kube().custom.deleteNamespacedCustomObject({
      group: 'lifeboat.dev',
      version: 'v1alpha1',
      namespace: ns.name,
      plural: 'clusters',
      name: 'db',
    });
    const series = [`lifeboat_cluster_last_backup_age_seconds${labels}`, `lifeboat_cluster_backup_stale${labels}`];
    await eventually('the deleted Cluster to leave the freshness metrics', async () => {
      const text = await scrape(leader);
      return series.some((s) => text.includes(s)) ? undefined : true;
    });
  });
});
