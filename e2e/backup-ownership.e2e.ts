// A worker writes only the object it was started for, on the real stack: a running Backup deleted
// and applied again under the same name is a new Backup, run by its own worker; the old worker is
// stopped (its upload aborted) before the old Backup disappears, and never writes the new one. The
// same for a Restore. A runner of this tree runs the work (the stack's runner is stopped).
import assert from 'node:assert/strict';
import type { S3Client } from '@aws-sdk/client-s3';
import { putBucketBackup } from './support/bucket-backups.js';
import { assertAllSynced, emptyRestoreTarget, restoreTarget, withConnection } from './support/databases.js';
import { eventually } from './support/eventually.js';
import { type KubeObject, type TestNamespace } from './support/kube.js';
import { startNamespaceRunner, workerAlive, workerPid } from './support/namespace-runner.js';
import {
  backupOf,
  createStackSecrets,
  minioStore,
  namespaceAndPathPerTest,
  objectSha256,
  openUploads,
  S3_SECRET,
  stackCluster,
  waitForPhase,
  waitForRecord,
} from './support/stack-objects.js';
import { requireVar, withoutStackRunner } from './support/stack.js';
import { TcpProxy } from './support/tcp-proxy.js';
import type { RunningRunner } from '../runner/runner-main.js';

type Status = Record<string, unknown>;
const BUCKET = (): string => requireVar('S3_BUCKET', 'MinIO');
const MiB = 1024 * 1024;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('a worker writes only its own work (real API server, MariaDB, MinIO)', function () {
  this.timeout(300_000);
  withoutStackRunner();
  let ns: TestNamespace;
  let path = '';
  let client: S3Client;
  let runner: RunningRunner | undefined;
  let proxy: TcpProxy | undefined;
  namespaceAndPathPerTest((created, its, s3) => ((ns = created), (path = its), (client = s3)));
  beforeEach(async function () {
    runner = await startNamespaceRunner(ns);
  });
  const extraProxies: TcpProxy[] = [];
  afterEach(async function () {
    for (const relay of extraProxies.splice(0)) await relay.close();
    await proxy?.close();
    await runner?.stop();
  });

  /** The Cluster's object store with its credentials, reached through `endpoint`. */
  function storeAt(endpoint: string): Record<string, unknown> {
    const credentials = {
      accessKeyId: { name: S3_SECRET, key: 'id' },
      secretAccessKey: { name: S3_SECRET, key: 'secret' },
    };
    return { ...minioStore(path), endpoint, credentials };
  }

  it('a running Backup deleted and applied again: the new one runs on its own, the old worker stopped and its upload aborted first', async function () {
    await createStackSecrets(ns);
    await ns.create('clusters', stackCluster('db', 'standalone', minioStore(path)));
    const target = new URL(requireVar('S3_ENDPOINT', 'MinIO'));
    proxy = await TcpProxy.start({
      targetHost: target.hostname,
      targetPort: Number(target.port),
      stallAfterBytes: 10 * MiB,
    });
    // The first Backup writes through a relay that stalls mid-upload; the second goes straight to MinIO.
    const slow = backupOf('b1', 'db', {
      method: 'mariabackup',
      objectStore: storeAt(`http://127.0.0.1:${proxy.port}`),
    });
    const first = await ns.create('backups', slow);
    const pid = await workerPid(ns, 'backups', 'b1');
    assert.equal(await proxy.tripped, 'stalled');
    const oldStatus = (await ns.get('backups', 'b1')).status ?? {};
    const oldKey = String((oldStatus['location'] as Status | undefined)?.['archiveKey']);
    assert.equal((await openUploads(client, BUCKET(), oldKey)).length, 1, `one upload open for ${oldKey}`);

    await ns.delete('backups', 'b1');
    const again = backupOf('b1', 'db', { method: 'mariadb-dump' });
    let created: KubeObject | undefined;
    for (let i = 0; i < 600 && !created; i++) {
      // Applied again at once, and again while the old one is still being deleted (409).
      created = await ns.create('backups', again).catch(() => undefined);
      if (!created) await sleep(100);
    }
    assert.ok(created, 'the Backup could be applied again once the old one was gone');
    assert.notEqual(created.metadata.uid, first.metadata.uid);
    const oldWorkerRan = workerAlive(pid);
    const oldUploads = await openUploads(client, BUCKET(), oldKey);

    const status = (await waitForPhase(ns, 'b1', ['completed', 'failed'], 120_000)).status ?? {};
    assert.equal(status['phase'], 'completed', JSON.stringify(status));
    const location = status['location'] as Status;
    assert.notEqual(location['archiveKey'], oldKey, 'its own archive');
    assert.equal(await objectSha256(client, BUCKET(), String(location['archiveKey'])), status['sha256']);
    assert.equal((await ns.get('backups', 'b1')).metadata.uid, created.metadata.uid);
    // The old worker, had it written anything, would have written a failure (it was stopped).
    await sleep(3_000);
    const later = (await ns.get('backups', 'b1')).status ?? {};
    assert.equal(later['phase'], 'completed', JSON.stringify(later));
    assert.equal(later['sha256'], status['sha256']);
    assert.deepEqual(await openUploads(client, BUCKET(), oldKey), []);
    assert.ok(!oldWorkerRan, 'the old worker had stopped before the old Backup disappeared');
    assert.deepEqual(oldUploads, [], 'the old upload was aborted before the old Backup disappeared');
  });

  it('two Backups of one Galera Cluster at the same time back up from different members', async function () {
    await createStackSecrets(ns);
    await ns.create('clusters', stackCluster('db', 'galera', minioStore(path)));
    const target = new URL(requireVar('S3_ENDPOINT', 'MinIO'));
    // Each writes through a relay of its own that stalls mid-upload, so both are running at once.
    const relays = await Promise.all(
      [0, 1].map(() =>
        TcpProxy.start({ targetHost: target.hostname, targetPort: Number(target.port), stallAfterBytes: 10 * MiB }),
      ),
    );
    extraProxies.push(...relays);
    await Promise.all(
      relays.map((relay, i) =>
        ns.create(
          'backups',
          backupOf(`b${i + 1}`, 'db', {
            method: 'mariabackup',
            target: 'prefer-standby',
            objectStore: storeAt(`http://127.0.0.1:${relay.port}`),
          }),
        ),
      ),
    );
    const members = await eventually(
      'both Backups to record their member',
      async () => {
        const statuses = await Promise.all(['b1', 'b2'].map(async (b) => (await ns.get('backups', b)).status ?? {}));
        const failed = statuses.find((st) => st['phase'] === 'failed');
        if (failed) throw new Error(`a Backup failed: ${JSON.stringify(failed)}`);
        const names = statuses.map((st) => st['instanceName'] as string | undefined);
        return names.every((n) => n !== undefined) ? names : undefined;
      },
      120_000,
    );
    assert.equal((await ns.get('backups', 'b1')).status?.['phase'], 'running');
    assert.equal((await ns.get('backups', 'b2')).status?.['phase'], 'running');
    assert.notEqual(members[0], members[1], `one member each: ${members.join(', ')}`);
    assert.deepEqual([...members].sort(), ['db-1', 'db-2'], 'two Synced standbys, not the writer');
    for (const b of ['b1', 'b2']) await ns.delete('backups', b);
    await eventually('both Backups to go', async () =>
      (await ns.find('backups', 'b1')) || (await ns.find('backups', 'b2')) ? undefined : true,
    );
    await assertAllSynced();
  });

  it('a running Restore deleted: its worker is stopped before the Restore disappears', async function () {
    await emptyRestoreTarget();
    await createStackSecrets(ns);
    const sleepSql = `DO SLEEP(30.${String(Date.now() % 1000).padStart(3, '0')})`;
    const sql = Buffer.from(
      ['CREATE DATABASE lb_owned;', `${sleepSql};`, '-- Dump completed on 2026-01-01  0:00:00', ''].join('\n'),
    );
    await putBucketBackup(client, { path, cluster: 'slow', backupName: 'b', backupId: '20260101T000000Z' }, sql);
    const cluster = stackCluster('to', 'restore-target', minioStore(path));
    const spec = cluster.spec as Record<string, unknown>;
    spec['externalClusters'] = [{ name: 'slow', objectStore: storeAt(requireVar('S3_ENDPOINT', 'MinIO')) }];
    await ns.create('clusters', cluster);
    const restore = { apiVersion: 'lifeboat.dev/v1alpha1', kind: 'Restore', metadata: { name: 'r1' } };
    await ns.create('restores', { ...restore, spec: { cluster: { name: 'to' }, source: 'slow', overwrite: true } });
    await waitForRecord(ns, 'restores', 'r1', ['running']);
    const pid = await workerPid(ns, 'restores', 'r1');
    await eventually('the restore to be applying', async () => {
      const rows = await withConnection(restoreTarget(), (c) =>
        c.query('SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO = ?', [sleepSql]),
      );
      return Number(rows[0]?.['n'] ?? 0) > 0 ? true : undefined;
    });

    const running = await ns.get('restores', 'r1');
    assert.ok(running.metadata.finalizers?.includes('lifeboat.dev/worker'), 'held by the runner while its worker runs');
    await ns.delete('restores', 'r1');
    await eventually('the Restore to disappear', async () => ((await ns.find('restores', 'r1')) ? undefined : true));
    assert.ok(!workerAlive(pid), 'the worker had stopped when the Restore disappeared');
    await emptyRestoreTarget();
  });
});
