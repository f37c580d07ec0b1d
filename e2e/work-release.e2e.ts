// Deleting running work as users and their tools do, on the real stack: a Backup deleted together
// with its Cluster and Secrets (what a namespace deletion does), a Backup deleted while no runner
// runs, and many Backups under --max-workers 1. A runner of this tree runs the work (the stack's
// runner is stopped).
import assert from 'node:assert/strict';
import type { S3Client } from '@aws-sdk/client-s3';
import { assertAllSynced } from './support/databases.js';
import { eventually } from './support/eventually.js';
import { kube, type KubeObject, type TestNamespace } from './support/kube.js';
import { startNamespaceRunner, workerAlive, workerPid } from './support/namespace-runner.js';
import {
  backupOf,
  createStackSecrets,
  DB_SECRET,
  listKeys,
  minioStore,
  namespaceAndPathPerTest,
  S3_SECRET,
  stackCluster,
  waitForPhase,
} from './support/stack-objects.js';
import { requireVar, withoutStackRunner } from './support/stack.js';
import { TcpProxy } from './support/tcp-proxy.js';
import type { RunningRunner } from '../runner/runner-main.js';

const BUCKET = (): string => requireVar('S3_BUCKET', 'MinIO');
const MiB = 1024 * 1024;

describe('running work deleted as users delete it (real API server, MariaDB, MinIO)', function () {
  this.timeout(300_000);
  withoutStackRunner();
  let ns: TestNamespace;
  let path = '';
  let client: S3Client;
  let runner: RunningRunner | undefined;
  let proxy: TcpProxy | undefined;
  const relays: TcpProxy[] = [];
  namespaceAndPathPerTest((created, its, s3) => ((ns = created), (path = its), (client = s3)));
  afterEach(async function () {
    await proxy?.close();
    proxy = undefined;
    for (const relay of relays.splice(0)) await relay.close();
    await runner?.stop();
    runner = undefined;
  });

  /** The test's object store through a relay that stalls after 1 MiB, so a Backup stays running. */
  async function stallingStore(): Promise<{ relay: TcpProxy; objectStore: Record<string, unknown> }> {
    const target = new URL(requireVar('S3_ENDPOINT', 'MinIO'));
    const relay = await TcpProxy.start({
      targetHost: target.hostname,
      targetPort: Number(target.port),
      stallAfterBytes: MiB,
    });
    const endpoint = `http://127.0.0.1:${relay.port}`;
    const credentials = {
      accessKeyId: { name: S3_SECRET, key: 'id' },
      secretAccessKey: { name: S3_SECRET, key: 'secret' },
    };
    return { relay, objectStore: { ...minioStore(path), endpoint, credentials } };
  }

  /** A Backup of the standalone server that stalls mid-upload, so it stays running. */
  async function stalledBackup(name: string): Promise<{ object: KubeObject; pid: number }> {
    const stalling = await stallingStore();
    proxy = stalling.relay;
    const objectStore = stalling.objectStore;
    const object = await ns.create('backups', backupOf(name, 'db', { method: 'mariabackup', objectStore }));
    const pid = await workerPid(ns, 'backups', name);
    assert.equal(await proxy.tripped, 'stalled');
    return { object, pid };
  }

  it('a running Backup deleted together with its Cluster and Secrets (a namespace deletion) goes once its worker stopped', async function () {
    runner = await startNamespaceRunner(ns);
    await createStackSecrets(ns);
    await ns.create('clusters', stackCluster('db', 'standalone', minioStore(path)));
    const { pid } = await stalledBackup('b1');
    await Promise.all([
      ns.delete('clusters', 'db'),
      kube().core.deleteNamespacedSecret({ namespace: ns.name, name: S3_SECRET }),
      kube().core.deleteNamespacedSecret({ namespace: ns.name, name: DB_SECRET }),
      ns.delete('backups', 'b1'),
    ]);
    await eventually(
      'the Backup to go',
      async () => ((await ns.find('backups', 'b1')) === undefined ? true : undefined),
      60_000,
    );
    assert.ok(!workerAlive(pid), 'its worker had stopped');
  });

  it('a running Backup deleted while no runner runs: the next runner stops its worker and lets it go', async function () {
    runner = await startNamespaceRunner(ns, { identity: 'first' });
    await createStackSecrets(ns);
    await ns.create('clusters', stackCluster('db', 'standalone', minioStore(path)));
    const { pid } = await stalledBackup('b1');
    await runner.stop();
    runner = undefined;
    assert.ok(workerAlive(pid), 'the worker outlives its runner');
    await ns.delete('backups', 'b1');
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    assert.ok((await ns.find('backups', 'b1')) !== undefined, 'held while no runner runs');
    runner = await startNamespaceRunner(ns, { identity: 'second', leaseSeconds: 5 });
    await eventually(
      'the Backup to go',
      async () => ((await ns.find('backups', 'b1')) === undefined ? true : undefined),
      90_000,
    );
    assert.ok(!workerAlive(pid), 'its worker had stopped');
  });

  it('--max-workers 1: five Backups at once all complete, each run once', async function () {
    runner = await startNamespaceRunner(ns, { maxWorkers: 1 });
    await createStackSecrets(ns);
    await ns.create('clusters', stackCluster('db', 'standalone', minioStore(path)));
    const names = ['b1', 'b2', 'b3', 'b4', 'b5'];
    await Promise.all(names.map((n) => ns.create('backups', backupOf(n, 'db', { method: 'mariadb-dump' }))));
    for (const n of names) {
      const status = (await waitForPhase(ns, n, ['completed', 'failed'], 240_000)).status ?? {};
      assert.equal(status['phase'], 'completed', `${n}: ${JSON.stringify(status)}`);
      await eventually(`${n} released`, async () =>
        ((await ns.get('backups', n)).metadata.finalizers ?? []).length === 0 ? true : undefined,
      );
    }
    for (const n of names) {
      const keys = await listKeys(client, BUCKET(), `${path}/db/${n}/`);
      const ids = new Set(keys.map((k) => k.slice(`${path}/db/${n}/`.length).split('/')[0]));
      assert.equal(ids.size, 1, `${n} ran once: ${keys.join(', ')}`);
    }
  });

  it('three Backups of one Galera Cluster at once: the third waits for a standby, never reads the writer', async function () {
    runner = await startNamespaceRunner(ns);
    await createStackSecrets(ns);
    await ns.create('clusters', stackCluster('db', 'galera', minioStore(path)));
    const stores = await Promise.all([0, 1, 2].map(() => stallingStore()));
    relays.push(...stores.map((s) => s.relay));
    const member = async (name: string): Promise<string | undefined> => {
      const status = (await ns.get('backups', name)).status ?? {};
      if (status['phase'] === 'failed') throw new Error(`${name} failed: ${JSON.stringify(status)}`);
      return status['instanceName'] as string | undefined;
    };
    const spec = (i: number): Record<string, unknown> => ({
      method: 'mariabackup',
      target: 'prefer-standby',
      objectStore: stores[i]?.objectStore,
    });
    for (const i of [0, 1]) await ns.create('backups', backupOf(`b${i + 1}`, 'db', spec(i)));
    const first = await eventually(
      'b1 and b2 to hold a member each',
      async () => {
        const names = [await member('b1'), await member('b2')];
        return names.every((n) => n !== undefined) ? (names as string[]) : undefined;
      },
      120_000,
    );
    assert.deepEqual([...first].sort(), ['db-1', 'db-2'], 'the two standbys');
    await ns.create('backups', backupOf('b3', 'db', spec(2)));
    await waitForPhase(ns, 'b3', ['running']);
    await new Promise((resolve) => setTimeout(resolve, 15_000));
    assert.equal(await member('b3'), undefined, 'b3 waits while both standbys are busy');
    await ns.delete('backups', 'b1');
    const third = await eventually('b3 to hold the member b1 held', () => member('b3'), 120_000);
    assert.equal(third, first[0]);
    for (const b of ['b2', 'b3']) await ns.delete('backups', b);
    await eventually('the Backups to go', async () => {
      for (const b of ['b1', 'b2', 'b3']) if ((await ns.find('backups', b)) !== undefined) return undefined;
      return true;
    });
    await assertAllSynced();
  });

  it('a Galera member Lease left by a SIGKILLed worker is released with its leftovers: the next Backup of that member does not wait out its 60 s', async function () {
    runner = await startNamespaceRunner(ns);
    await createStackSecrets(ns);
    await ns.create('clusters', stackCluster('db', 'galera', minioStore(path)));
    const stalling = await stallingStore();
    relays.push(stalling.relay);
    const spec = { method: 'mariabackup', target: 'db-2', objectStore: stalling.objectStore };
    await ns.create('backups', backupOf('b1', 'db', spec));
    const pid = await workerPid(ns, 'backups', 'b1');
    await eventually('b1 to hold db-2', async () =>
      (await ns.get('backups', 'b1')).status?.['instanceName'] === 'db-2' ? true : undefined,
    );
    assert.equal(await stalling.relay.tripped, 'stalled');
    process.kill(pid, 'SIGKILL');
    const killedAt = Date.now();
    await ns.create('backups', backupOf('b2', 'db', { method: 'mariabackup', target: 'db-2' }));
    const status = (await waitForPhase(ns, 'b2', ['completed', 'failed'], 180_000)).status ?? {};
    const waited = Math.round((Date.now() - killedAt) / 1000);
    assert.equal(status['phase'], 'completed', JSON.stringify(status));
    // The runner saw the worker die at once; b2 need not wait out the Lease's 60 s.
    assert.ok(waited < 40, `b2 finished ${waited} s after b1's worker was killed`);
    assert.equal(status['instanceName'], 'db-2');
    const first = (await ns.get('backups', 'b1')).status ?? {};
    assert.equal(first['phase'], 'failed', JSON.stringify(first));
    await assertAllSynced();
  });
});
