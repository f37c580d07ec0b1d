// What a Backup gets when something is wrong, on the real stack: each ends `failed` with the reason
// of docs/design.md and a message that says what to fix, never `completed` and never stuck `running`,
// with no multipart upload left open and no Galera node left desynced.
import assert from 'node:assert/strict';
import type { S3Client } from '@aws-sdk/client-s3';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { kube, type KubeObject, type TestNamespace } from './support/kube.js';
import { assertAllSynced, galeraNodes, galeraState, standalone, withConnection } from './support/databases.js';
import type { DbInstance } from '../runner/engine/instance-list.js';
import {
  finishedBackup,
  namespaceAndPathPerTest,
  archiveKeyOf,
  backupOf,
  listKeys,
  createStackSecrets,
  minioStore,
  openUploads,
  S3_SECRET,
  stackCluster,
  waitForPhase,
} from './support/stack-objects.js';
import { REPO_ROOT, requireVar } from './support/stack.js';
import { KubeClient } from '../lib/kube-client.js';
import { heartbeatLeaseName } from '../runner/executors/process-executor.js';
import { TcpProxy } from './support/tcp-proxy.js';

type Status = Record<string, unknown>;
const BUCKET = (): string => requireVar('S3_BUCKET', 'MinIO');
const MiB = 1024 * 1024;

function galera(verb: 'stop-node' | 'start-node', node: number): void {
  const r = spawnSync('bash', [join(REPO_ROOT, 'hack', 'galera.sh'), verb, String(node)], { encoding: 'utf8' });
  assert.equal(r.status, 0, `hack/galera.sh ${verb} ${node}: ${r.stderr}`);
}

function assertFailed(status: Status, reason: string, message: RegExp): void {
  assert.equal(status['phase'], 'failed', JSON.stringify(status));
  assert.equal(status['reason'], reason, String(status['error']));
  assert.match(String(status['error']), message);
}

/** The worker's pid from status.jobName (`<host>/<pid>`), once the runner has recorded it. */
async function workerPid(ns: TestNamespace, name: string): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const pid = Number(
      String((await ns.get('backups', name)).status?.['jobName'] ?? '')
        .split('/')
        .pop(),
    );
    if (Number.isInteger(pid) && pid > 0) return pid;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Backup ${name}: no worker pid in status.jobName`);
}

describe('backup faults (real API server, MariaDB, Galera, MinIO)', function () {
  this.timeout(240_000);
  let ns: TestNamespace;
  let path = '';
  let client: S3Client;
  namespaceAndPathPerTest((created, its, s3) => ((ns = created), (path = its), (client = s3)));

  const run = (cluster: KubeObject, spec: Record<string, unknown> = {}, metadata = {}): Promise<Status> =>
    finishedBackup(ns, cluster, spec, metadata);

  it('no Cluster: ClusterNotFound', async function () {
    await createStackSecrets(ns);
    const objectStore = (stackCluster('db', 'standalone', minioStore(path)).spec as { backup: { objectStore: object } })
      .backup.objectStore;
    await ns.create('backups', backupOf('b1', 'db', { method: 'mariadb-dump', objectStore }));
    const status = (await waitForPhase(ns, 'b1', ['completed', 'failed'])).status ?? {};
    assertFailed(status, 'ClusterNotFound', /^Cluster db does not exist in namespace \S+; create it/);
  });

  it('a wrong database password: ConnectionFailed naming the Secret keys, without the password', async function () {
    await createStackSecrets(ns, 'not-the-password');
    const status = await run(stackCluster('db', 'standalone', minioStore(path)), { method: 'mariadb-dump' });
    assertFailed(status, 'ConnectionFailed', /access denied.*username\/password|password.*Secret/i);
    assert.ok(!String(status['error']).includes('not-the-password'));
  });

  it('the database down (nothing listens on its port): ConnectionFailed naming host and port', async function () {
    await createStackSecrets(ns);
    const cluster = stackCluster('db', 'standalone', minioStore(path));
    const spec = cluster.spec as { instances: { static: { port: number }[] } };
    spec.instances.static[0]!.port = 1;
    const status = await run(cluster, { method: 'mariadb-dump' });
    assertFailed(status, 'ConnectionFailed', /127\.0\.0\.1:1\b/);
  });

  it('a bucket that does not exist: UploadFailed before any dump starts', async function () {
    await createStackSecrets(ns);
    const store = { ...minioStore(path), bucket: 'no-such-bucket-e2e' };
    const status = await run(stackCluster('db', 'standalone', store), { method: 'mariadb-dump' });
    assertFailed(status, 'UploadFailed', /no-such-bucket-e2e.*(create it|spec\.objectStore\.bucket)/);
  });

  it('a wrong object-store secret key: UploadFailed saying to fix the credentials Secret, without the key', async function () {
    await createStackSecrets(ns);
    await kube().core.patchNamespacedSecret(
      { namespace: ns.name, name: S3_SECRET, body: { stringData: { secret: 'not-the-secret-key' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const status = await run(stackCluster('db', 'standalone', minioStore(path)), { method: 'mariadb-dump' });
    assertFailed(status, 'UploadFailed', /preflight.*fix the credentials \(spec\.objectStore\.credentials\)/);
    assert.ok(!String(status['error']).includes('not-the-secret-key'));
    assert.equal(status['instanceName'], undefined, 'no dump started');
  });

  it('the dump tool exiting non-zero (a view over a dropped table): DumpFailed with its error, nothing stored', async function () {
    await createStackSecrets(ns);
    const db = `e2e_broken_${Date.now()}`;
    await withConnection(standalone(), async (c) => {
      await c.query(`CREATE DATABASE ${db}`);
      await c.query(`CREATE TABLE ${db}.t (id INT)`);
      await c.query(`CREATE VIEW ${db}.v AS SELECT id FROM ${db}.t`);
      await c.query(`DROP TABLE ${db}.t`);
    });
    try {
      const status = await run(stackCluster('db', 'standalone', minioStore(path)), { method: 'mariadb-dump' });
      assertFailed(status, 'DumpFailed', /mariadb-dump exited|exit/);
      assert.deepEqual(await openUploads(client, BUCKET(), archiveKeyOf(status, 'sql')), []);
    } finally {
      await withConnection(standalone(), (c) => c.query(`DROP DATABASE ${db}`));
    }
  });

  describe('Galera with one node stopped', function () {
    before(() => galera('stop-node', 2));
    after(async function () {
      galera('start-node', 2);
      await assertAllSynced();
    });

    it('the Backup fails UnsafeCluster naming the node; with allowUnsafe and a reason it completes', async function () {
      await createStackSecrets(ns);
      const status = await run(stackCluster('db', 'galera', minioStore(path)), { method: 'mariabackup' });
      assertFailed(status, 'UnsafeCluster', /db-1/);
      await ns.create(
        'backups',
        backupOf(
          'b2',
          'db',
          { method: 'mariabackup', allowUnsafe: true },
          {
            annotations: { 'lifeboat.dev/unsafe-reason': 'node 2 is down for maintenance; a backup is needed now' },
          },
        ),
      );
      const unsafe = (await waitForPhase(ns, 'b2', ['completed', 'failed'])).status ?? {};
      assert.equal(unsafe['phase'], 'completed', JSON.stringify(unsafe));
      assert.equal(unsafe['instanceName'], 'db-2');
    });
  });

  describe('the object store in the middle of an upload', function () {
    let proxy: TcpProxy | undefined;
    afterEach(async () => proxy?.close());

    /** A Cluster whose object store is MinIO behind the test's relay. */
    async function relayed(
      options: { stallAfterBytes?: number; dropAfterBytes?: number; dropForMs?: number },
      topology: 'standalone' | 'galera' = 'standalone',
    ): Promise<KubeObject> {
      const target = new URL(requireVar('S3_ENDPOINT', 'MinIO'));
      proxy = await TcpProxy.start({ targetHost: target.hostname, targetPort: Number(target.port), ...options });
      await createStackSecrets(ns);
      return stackCluster('db', topology, { ...minioStore(path), endpoint: `http://127.0.0.1:${proxy.port}` });
    }

    it('the endpoint dropping every connection for 5 s: UploadFailed, and the upload aborted once it is back', async function () {
      const status = await run(await relayed({ dropAfterBytes: 10 * MiB, dropForMs: 5_000 }), {
        method: 'mariabackup',
      });
      assertFailed(status, 'UploadFailed', /127\.0\.0\.1/);
      assert.ok((proxy?.bytesSent ?? 0) >= 10 * MiB, 'the drop came mid-upload');
      assert.deepEqual(await openUploads(client, BUCKET(), archiveKeyOf(status, 'xbstream')), []);
    });

    /** Starts a mariabackup Backup through the relay and waits until its upload is stalled, open, mid-way. */
    async function stalledMidUpload(
      topology: 'standalone' | 'galera' = 'standalone',
    ): Promise<{ pid: number; key: string }> {
      await ns.create('clusters', await relayed({ stallAfterBytes: 10 * MiB }, topology));
      const target = topology === 'galera' ? { target: 'prefer-standby' } : {};
      await ns.create('backups', backupOf('b1', 'db', { method: 'mariabackup', ...target }));
      const pid = await workerPid(ns, 'b1');
      assert.equal(await proxy?.tripped, 'stalled');
      const key = archiveKeyOf((await ns.get('backups', 'b1')).status ?? {}, 'xbstream');
      assert.equal((await openUploads(client, BUCKET(), key)).length, 1, `one upload open for ${key}`);
      return { pid, key };
    }

    it('SIGTERM to the worker mid-upload: failed saying so, the multipart upload aborted', async function () {
      const { pid, key } = await stalledMidUpload();
      process.kill(pid, 'SIGTERM');
      const status = (await waitForPhase(ns, 'b1', ['completed', 'failed'])).status ?? {};
      assertFailed(status, 'DumpFailed', /stopped by SIGTERM/);
      assert.deepEqual(await openUploads(client, BUCKET(), key), []);
      assert.deepEqual(await listKeys(client, BUCKET(), `${path}/`), []);
    });

    it('SIGKILL to the worker mid-upload: the runner notices, aborts the upload the worker left open, and fails the Backup', async function () {
      const { pid, key } = await stalledMidUpload();
      process.kill(pid, 'SIGKILL');
      const status = (await waitForPhase(ns, 'b1', ['completed', 'failed'])).status ?? {};
      assertFailed(status, 'DumpFailed', /SIGKILL/);
      assert.match(String(status['error']), new RegExp(`its unfinished upload of s3://${BUCKET()}/${key} was aborted`));
      assert.deepEqual(await openUploads(client, BUCKET(), key), []);
      assert.deepEqual(await listKeys(client, BUCKET(), `${path}/`), []);
    });

    it('its heartbeat Lease deleted mid-upload (a runner gave it up): the worker stops, aborts its upload, says why', async function () {
      const { key } = await stalledMidUpload();
      // The stack's runner keeps its Leases, and its workers', in namespace default (hack/runner.sh).
      const uid = (await ns.get('backups', 'b1')).metadata.uid;
      const lease = heartbeatLeaseName({ kind: 'backup', namespace: ns.name, name: 'b1', uid });
      const leases = new KubeClient(kube().config);
      assert.ok(await leases.getLease('default', lease), 'the worker renews its heartbeat Lease');
      await leases.deleteLease('default', lease);
      const status = (await waitForPhase(ns, 'b1', ['completed', 'failed'])).status ?? {};
      assertFailed(
        status,
        'DumpFailed',
        new RegExp(
          `^the backup worker stopped: its heartbeat Lease default/${lease} was deleted: a runner gave this worker up`,
        ),
      );
      assert.deepEqual(await openUploads(client, BUCKET(), key), []);
      assert.deepEqual(await listKeys(client, BUCKET(), `${path}/`), []);
    });

    it('SIGKILL to a Galera worker mid-upload: the runner sets wsrep_desync back OFF on its member, and aborts the upload', async function () {
      const { pid, key } = await stalledMidUpload('galera');
      const member = galeraNodes()[2] as DbInstance;
      assert.equal((await galeraState(member)).desync, '1', 'the worker desynced db-2 (node 3)');
      process.kill(pid, 'SIGKILL');
      const status = (await waitForPhase(ns, 'b1', ['completed', 'failed'])).status ?? {};
      assertFailed(status, 'DumpFailed', /SIGKILL/);
      assert.equal(status['instanceName'], 'db-2');
      assert.match(String(status['error']), /wsrep_desync was set back OFF on db-2, which is Synced again/);
      assert.match(String(status['error']), /its unfinished upload of .* was aborted/);
      const conditions = (status['conditions'] ?? []) as { type: string; status: string; reason: string }[];
      const desynced = conditions.find((c) => c.type === 'SourceDesynced');
      assert.deepEqual([desynced?.status, desynced?.reason], ['False', 'DesyncRestored']);
      await assertAllSynced();
      assert.deepEqual(await openUploads(client, BUCKET(), key), []);
    });
  });
});
