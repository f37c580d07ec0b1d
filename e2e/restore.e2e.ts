// Logical restores as a user makes them: a Restore (or a Cluster's bootstrap.recovery) applied to
// the real API server, claimed by the stack's runner, run by `lifeboat worker restore|bootstrap`
// from the real MinIO into the stack's empty restore-target MariaDB. Every table's CHECKSUM TABLE
// EXTENDED, and the routines, triggers, views and events, are compared with the source; also when the
// store drops the download mid-way.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { assertRefused, parseTables } from './support/asserts.js';
import { workerPid } from './support/namespace-runner.js';
import { requireVar } from './support/stack.js';
import { TcpProxy } from './support/tcp-proxy.js';
import { objectBytes, putBucketBackup, putObject } from './support/bucket-backups.js';
import { createNamespace, kube, kubectlOk, type KubeObject, type TestNamespace } from './support/kube.js';
import {
  createRestoreFixture,
  dropSchema,
  emptyRestoreTarget,
  galeraNodes,
  restoreTarget,
  serverFingerprint,
  standalone,
  withConnection,
} from './support/databases.js';
import {
  backupOf,
  createStackSecrets,
  minioStore,
  namespaceAndPathPerTest,
  removePrefix,
  S3_SECRET,
  stackCluster,
  type StackTopology,
  waitForPhase,
  waitForRecord,
} from './support/stack-objects.js';

type Status = Record<string, unknown>;

function restoreOf(name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'lifeboat.dev/v1alpha1', kind: 'Restore', metadata: { name }, spec };
}

/** A completed mariadb-dump Backup `name` of Cluster `cluster` (created by the caller). */
async function completedBackup(ns: TestNamespace, cluster: string, name: string, spec = {}): Promise<Status> {
  await ns.create('backups', backupOf(name, cluster, { method: 'mariadb-dump', ...spec }));
  const status = (await waitForPhase(ns, name, ['completed', 'failed'], 120_000)).status ?? {};
  assert.equal(status['phase'], 'completed', JSON.stringify(status));
  return status;
}

async function finishedRestore(ns: TestNamespace, name: string, spec: Record<string, unknown>): Promise<Status> {
  await ns.create('restores', restoreOf(name, spec));
  return (await waitForRecord(ns, 'restores', name, ['completed', 'failed'], 120_000)).status ?? {};
}

async function deleteRestore(ns: TestNamespace, name: string): Promise<void> {
  const req = { group: 'lifeboat.dev', version: 'v1alpha1', namespace: ns.name, plural: 'restores', name };
  await kube().custom.deleteNamespacedCustomObject(req);
}

async function waitUntilGone(ns: TestNamespace, plural: 'backups' | 'restores', name: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (
    await ns.get(plural, name).then(
      () => true,
      () => false,
    )
  ) {
    if (Date.now() > deadline) throw new Error(`${plural} ${ns.name}/${name} still there after 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function readyOf(status: Status): Record<string, unknown> | undefined {
  return (status['conditions'] as Record<string, unknown>[] | undefined)?.find((c) => c['type'] === 'Ready');
}

/** The reasons of the object's Events so far. */
async function reasonsNow(ns: TestNamespace, name: string): Promise<string[]> {
  const events = await kube().core.listNamespacedEvent({ namespace: ns.name });
  return events.items.filter((e) => e.involvedObject.name === name).map((e) => e.reason ?? '');
}

async function eventReasons(ns: TestNamespace, name: string): Promise<string[]> {
  for (let i = 0; i < 50; i++) {
    const reasons = await reasonsNow(ns, name);
    if (reasons.some((r) => r === 'RestoreCompleted' || r === 'RestoreFailed' || r === 'AlreadyApplied'))
      return reasons;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return [];
}

/** Whether the restore target runs `statement` now (a DO SLEEP a test waits on). */
async function targetRuns(statement: string): Promise<boolean> {
  const rows = await withConnection(restoreTarget(), (c) =>
    c.query('SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO = ?', [statement]),
  );
  return Number(rows[0]?.['n'] ?? 0) > 0;
}

async function untilTargetRuns(statement: string): Promise<void> {
  for (let i = 0; i < 300 && !(await targetRuns(statement)); i++) await new Promise((r) => setTimeout(r, 100));
}

const schemaName = (): string => `lb_restore_${randomBytes(4).toString('hex')}`;

describe('restores through the runner (real API server, MariaDB, Galera, MinIO)', function () {
  this.timeout(300_000);
  let ns: TestNamespace;
  let path = '';
  let schema = '';
  let client: S3Client;
  namespaceAndPathPerTest((created, its, s3) => ((ns = created), (path = its), (client = s3)));

  beforeEach(async function () {
    schema = schemaName();
    await emptyRestoreTarget();
    await createStackSecrets(ns);
  });

  afterEach(async function () {
    await dropSchema(standalone(), schema);
    await dropSchema(galeraNodes()[0] ?? standalone(), schema);
    await emptyRestoreTarget();
  });

  it('standalone → an empty server: every checksum, routine, trigger, view and event equal; a re-applied Restore is not run again', async function () {
    await createRestoreFixture(standalone(), schema);
    await ns.create('clusters', stackCluster('src', 'standalone', minioStore(path)));
    await ns.create('clusters', stackCluster('dst', 'restore-target', minioStore(path)));
    const backup = await completedBackup(ns, 'src', 'b1');
    const expected = await serverFingerprint(standalone());

    const status = await finishedRestore(ns, 'r1', { cluster: { name: 'dst' }, backup: { name: 'b1' } });
    assert.equal(status['phase'], 'completed', JSON.stringify(status));
    assert.equal(status['sha256Verified'], true);
    assert.equal(status['backupId'], backup['backupId']);
    assert.equal(status['restoredFrom'], backup['destinationPath']);
    assert.equal(status['instanceName'], 'dst-0');
    assert.equal(readyOf(status)?.['reason'], 'RestoreCompleted');
    assert.deepEqual(await serverFingerprint(restoreTarget()), expected);
    assert.ok((await eventReasons(ns, 'r1')).includes('RestoreCompleted'));

    // Written after the restore; a GitOps tool re-creates the same Restore (even with overwrite).
    await withConnection(restoreTarget(), (c) =>
      c.query(`INSERT INTO \`${schema}\`.items VALUES (99999, 'since', NULL, 1)`),
    );
    const since = await serverFingerprint(restoreTarget());
    await deleteRestore(ns, 'r1');
    const again = await finishedRestore(ns, 'r1', {
      cluster: { name: 'dst' },
      backup: { name: 'b1' },
      overwrite: true,
    });
    assert.equal(again['phase'], 'completed', JSON.stringify(again));
    assert.equal(readyOf(again)?.['reason'], 'AlreadyApplied');
    assert.match(String(readyOf(again)?.['message']), /already applied .*nothing was applied again/);
    assert.deepEqual(await serverFingerprint(restoreTarget()), since, 'the row written since survives');
    assert.equal(again['backupId'], backup['backupId'], 'the status names the backup applied then');

    // The manifest edited in Git to name another backup: a name runs once, and says so.
    const other = await completedBackup(ns, 'src', 'b2');
    await deleteRestore(ns, 'r1');
    const edited = await finishedRestore(ns, 'r1', {
      cluster: { name: 'dst' },
      backup: { name: 'b2' },
      overwrite: true,
    });
    assert.equal(edited['phase'], 'failed', JSON.stringify(edited));
    assert.equal(edited['reason'], 'TargetNotEmpty');
    assert.match(
      String(edited['error']),
      new RegExp(
        `with backup ${String(backup['backupId'])}.*now names backup ${String(other['backupId'])}; a restore runs once`,
      ),
    );
    assert.deepEqual(await serverFingerprint(restoreTarget()), since, 'nothing applied');
  });

  it('a Galera backup → an empty server: equal to the member it was taken from', async function () {
    const [node1] = galeraNodes();
    assert.ok(node1);
    await createRestoreFixture(node1, schema, 2000, false);
    await ns.create('clusters', stackCluster('galera', 'galera', minioStore(path)));
    await ns.create('clusters', stackCluster('dst', 'restore-target', minioStore(path)));
    const backup = await completedBackup(ns, 'galera', 'b1', { target: 'prefer-standby' });
    const member = galeraNodes()[Number(String(backup['instanceName']).replace('galera-', ''))];
    assert.ok(member, `member ${String(backup['instanceName'])}`);
    const expected = await serverFingerprint(member);
    const status = await finishedRestore(ns, 'r1', { cluster: { name: 'dst' }, backup: { name: 'b1' } });
    assert.equal(status['phase'], 'completed', JSON.stringify(status));
    assert.deepEqual(await serverFingerprint(restoreTarget()), expected);
    assert.ok(Object.keys(expected).includes(schema));
  });

  it('a download the object store drops mid-way, while verifying and while applying, is resumed where it stopped: the target equal to the source', async function () {
    await createRestoreFixture(standalone(), schema, 60_000);
    await ns.create('clusters', stackCluster('src', 'standalone', minioStore(path)));
    const backup = await completedBackup(ns, 'src', 'b1');
    const expected = await serverFingerprint(standalone());
    const size = Number(backup['size']);
    // Past the first 1 MiB batch of a socket read, so the rest is asked for with a range.
    assert.ok(size > 3 * 1024 * 1024, `the dump is ${size} bytes`);
    const minio = new URL(minioStore().endpoint ?? '');
    const proxy = await TcpProxy.start({
      targetHost: minio.hostname,
      targetPort: Number(minio.port),
      cutReplyAfterBytes: Math.floor(size / 2),
      cutReplies: 2,
    });
    try {
      const dst = stackCluster('dst', 'restore-target', minioStore(path));
      const spec = dst.spec as Record<string, unknown>;
      const store = (spec['backup'] as { objectStore: object }).objectStore;
      spec['externalClusters'] = [
        { name: 'src', objectStore: { ...store, endpoint: `http://127.0.0.1:${proxy.port}` } },
      ];
      await ns.create('clusters', dst);
      const status = await finishedRestore(ns, 'r1', { cluster: { name: 'dst' }, source: 'src' });
      assert.equal(status['phase'], 'completed', JSON.stringify(status));
      assert.equal(status['backupId'], backup['backupId']);
      assert.equal(proxy.repliesCut, 2, 'the verifying read and the applying read were each cut once');
      const resumed = (await eventReasons(ns, 'r1')).filter((r) => r === 'ReadResumed');
      // One Event per resumption, up to three. The proxy counts the bytes of a connection, so the
      // reply to a resumed read can pass the cut point too and be cut near its end: a CI run saw
      // the verifying read go on twice. Each of the two reads went on at least once.
      assert.ok(
        resumed.length >= 2 && resumed.length <= 3,
        `a Warning Event for each resumption (at most 3): ${resumed.length}`,
      );
      assert.deepEqual(await serverFingerprint(restoreTarget()), expected);
    } finally {
      await proxy.close();
    }
  });

  it('a running restore says how far it is: status.progress and the Progress column while applying, gone once completed', async function () {
    // A pause near the start, longer than the 10 s between progress writes, then 40 MiB more than
    // the read can have buffered ahead while the client sleeps: the applying step shows mid-way.
    const sleep = `DO SLEEP(14.${String(Date.now() % 1000).padStart(3, '0')})`;
    const row = (id: number): string => `(${id},'${randomBytes(256).toString('hex')}')`;
    const inserts = Array.from({ length: 40 * 2 }, (_, i) => {
      const rows = Array.from({ length: 1000 }, (_, j) => row(i * 1000 + j)).join(',');
      return `INSERT INTO lb_progress.t VALUES ${rows};`;
    });
    const dump = Buffer.from(
      [
        'CREATE DATABASE lb_progress;',
        'CREATE TABLE lb_progress.t (id INT PRIMARY KEY, v VARCHAR(512));',
        `${sleep};`,
        ...inserts,
        '-- Dump completed on 2026-01-01  0:00:00',
        '',
      ].join('\n'),
    );
    await putBucketBackup(client, { path, cluster: 'big', backupName: 'b', backupId: '20260101T000000Z' }, dump);
    const dst = stackCluster('dst', 'restore-target', minioStore(path));
    const spec = dst.spec as Record<string, unknown>;
    spec['externalClusters'] = [{ name: 'big', objectStore: (spec['backup'] as { objectStore: object }).objectStore }];
    await ns.create('clusters', dst);
    await ns.create('restores', restoreOf('r1', { cluster: { name: 'dst' }, source: 'big' }));

    let seen: Record<string, unknown> | undefined;
    for (let i = 0; i < 600 && seen === undefined; i++) {
      const status = (await ns.get('restores', 'r1')).status ?? {};
      const progress = status['progress'] as Record<string, unknown> | undefined;
      if (progress?.['step'] === 'applying' && Number(progress['bytesRead']) > 0) seen = { ...status };
      else await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(seen, 'status.progress showed the applying step with bytes read');
    const progress = seen['progress'] as Record<string, unknown>;
    const bytesRead = Number(progress['bytesRead']);
    assert.equal(seen['phase'], 'running');
    assert.equal(seen['sha256Verified'], true, 'applying comes after the verification');
    assert.equal(progress['size'], dump.length);
    assert.ok(bytesRead < dump.length, `mid-way: ${bytesRead} of ${dump.length}`);
    assert.equal(progress['percent'], Math.floor((bytesRead * 100) / dump.length));
    assert.ok(Date.parse(String(progress['updatedAt'])) > Date.now() - 60_000);
    const table = parseTables(kubectlOk(['-n', ns.name, 'get', 'restore', 'r1']))[0];
    const column = table?.rows[0]?.['PROGRESS'];
    assert.ok(column !== undefined && /^\d{1,3}$/.test(column), `kubectl get restore: ${JSON.stringify(table)}`);
    assert.ok(Number(column) >= Number(progress['percent']), 'the Progress column shows the percent');

    const status = (await waitForRecord(ns, 'restores', 'r1', ['completed', 'failed'], 120_000)).status ?? {};
    assert.equal(status['phase'], 'completed', JSON.stringify(status));
    assert.equal(status['progress'], undefined, 'removed once completed');
    const count = await withConnection(restoreTarget(), (c) => c.query('SELECT COUNT(*) AS n FROM lb_progress.t'));
    assert.equal(Number(count[0]?.['n']), inserts.length * 1000);
  });

  it('disaster recovery: with no Lifeboat object left, a new Cluster bootstraps from the newest backup in the bucket, or from backupID', async function () {
    await createRestoreFixture(standalone(), schema, 500);
    await ns.create('clusters', stackCluster('src', 'standalone', minioStore(path)));
    const older = await completedBackup(ns, 'src', 'monday');
    await withConnection(standalone(), (c) =>
      c.query(`INSERT INTO \`${schema}\`.items VALUES (77777, 'newer', NULL, 1)`),
    );
    await new Promise((resolve) => setTimeout(resolve, 1100)); // backup IDs are to the second
    const newer = await completedBackup(ns, 'src', 'tuesday');
    const newest = await serverFingerprint(standalone());
    await ns.cleanup(); // every Lifeboat object and the namespace itself

    for (const [backupID, want] of [
      [undefined, newer],
      [String(older['backupId']), older],
    ] as const) {
      await emptyRestoreTarget();
      const fresh = await createNamespace('dr');
      try {
        await createStackSecrets(fresh);
        const cluster = stackCluster('rebuilt', 'restore-target', minioStore(path));
        const spec = cluster.spec as Record<string, unknown>;
        const store = (spec['backup'] as { objectStore: object }).objectStore;
        spec['externalClusters'] = [{ name: 'src', objectStore: store }];
        spec['bootstrap'] = { recovery: { source: 'src', ...(backupID ? { backupID } : {}) } };
        await fresh.create('clusters', cluster);
        const done = await waitForRecord(fresh, 'clusters', 'rebuilt', ['completed', 'failed'], 120_000);
        const record = (done.status?.['bootstrap'] ?? {}) as Status;
        assert.equal(record['phase'], 'completed', JSON.stringify(record));
        assert.equal(record['backupId'], want['backupId']);
        assert.equal(record['sha256Verified'], true);
        const rows = await withConnection(restoreTarget(), (c) =>
          c.query(`SELECT COUNT(*) AS n FROM \`${schema}\`.items WHERE id = 77777`),
        );
        assert.equal(Number(rows[0]?.['n']), backupID ? 0 : 1, 'the newer row only in the newer backup');
        if (!backupID) assert.deepEqual(await serverFingerprint(restoreTarget()), newest);
      } finally {
        await fresh.cleanup();
      }
    }
  });
});

/** The target holds a sentinel schema; a restore that fails must leave every checksum as it was. */
describe('restores that must fail, the target untouched (real API server, MariaDB, MinIO)', function () {
  this.timeout(300_000);
  let ns: TestNamespace;
  let path = '';
  let client: S3Client;
  const sentinel = 'lb_sentinel';
  let before: Record<string, unknown>;
  namespaceAndPathPerTest((created, its, s3) => ((ns = created), (path = its), (client = s3)));

  beforeEach(async function () {
    await emptyRestoreTarget();
    await createRestoreFixture(restoreTarget(), sentinel, 100);
    before = await serverFingerprint(restoreTarget());
    await createStackSecrets(ns);
    await ns.create('clusters', stackCluster('dst', 'restore-target', minioStore(path)));
  });

  afterEach(async function () {
    await emptyRestoreTarget();
  });

  /** A Cluster `to` whose externalClusters entry `src` reads `<path>/<prefix>` with `secret`. */
  async function sourceCluster(
    prefix: string,
    opts: { secret?: string; topology?: StackTopology } = {},
  ): Promise<void> {
    const cluster = stackCluster('to', opts.topology ?? 'restore-target', minioStore(path));
    const spec = cluster.spec as Record<string, unknown>;
    const store = (spec['backup'] as { objectStore: Record<string, unknown> }).objectStore;
    const credentials = {
      accessKeyId: { name: opts.secret ?? S3_SECRET, key: 'id' },
      secretAccessKey: { name: opts.secret ?? S3_SECRET, key: 'secret' },
    };
    spec['externalClusters'] = [{ name: prefix, objectStore: { ...store, credentials } }];
    await ns.create('clusters', cluster);
  }

  async function failedWith(spec: Record<string, unknown>, reason: string, message: RegExp): Promise<Status> {
    const status = await finishedRestore(ns, 'r1', { overwrite: true, ...spec });
    assert.equal(status['phase'], 'failed', JSON.stringify(status));
    assert.equal(status['reason'], reason, JSON.stringify(status));
    assert.match(String(status['error']), message);
    assert.deepEqual(await serverFingerprint(restoreTarget()), before, 'the target is untouched');
    assert.ok((await eventReasons(ns, 'r1')).includes('RestoreFailed'));
    return status;
  }

  const SQL = Buffer.from(
    'CREATE DATABASE lb_bad;\nCREATE TABLE lb_bad.t (id INT PRIMARY KEY);\nINSERT INTO lb_bad.t VALUES (1),(2),(3);\n-- Dump completed on 2026-01-01  0:00:00\n',
  );
  const at = (cluster: string, backupId = '20260101T000000Z') => ({ path, cluster, backupName: 'b', backupId });

  it('a flipped byte in the archive: ChecksumMismatch, nothing applied', async function () {
    const flipped = Buffer.from(SQL);
    flipped[20] = (flipped[20] ?? 0) ^ 0x01;
    await putBucketBackup(client, at('flipped'), flipped, { described: SQL });
    await sourceCluster('flipped');
    await failedWith({ cluster: { name: 'to' }, source: 'flipped' }, 'ChecksumMismatch', /nothing was applied/);
  });

  it('a truncated archive of a completed Backup: ChecksumMismatch, nothing applied', async function () {
    await ns.create('clusters', stackCluster('src', 'standalone', minioStore(path)));
    const backup = await completedBackup(ns, 'src', 'b1');
    const key = (backup['location'] as Record<string, string>)['archiveKey'] ?? '';
    const whole = await objectBytes(client, key);
    await putObject(client, key, whole.subarray(0, whole.length - 100));
    await failedWith({ cluster: { name: 'dst' }, backup: { name: 'b1' } }, 'ChecksumMismatch', /size|bytes/);
  });

  it('a missing metadata.json (archive only): NoBackupsFound', async function () {
    await putBucketBackup(client, at('nometa'), SQL, { skipMetadata: true });
    await sourceCluster('nometa');
    await failedWith({ cluster: { name: 'to' }, source: 'nometa' }, 'NoBackupsFound', /no backups|no complete/i);
  });

  it('an invalid metadata.json: NoBackupsFound naming what is wrong', async function () {
    await putBucketBackup(client, at('badmeta'), SQL, { metadataText: '{"formatVersion": 1, "cluster": "badmeta"}' });
    await sourceCluster('badmeta');
    await failedWith({ cluster: { name: 'to' }, source: 'badmeta' }, 'NoBackupsFound', /not valid|metadata\.json/);
  });

  it('a backupID that is not there: BackupIDNotFound naming the IDs that are', async function () {
    await putBucketBackup(client, at('ids'), SQL);
    await sourceCluster('ids');
    await failedWith(
      { cluster: { name: 'to' }, source: 'ids', backupID: '20250101T000000Z' },
      'BackupIDNotFound',
      /20260101T000000Z/,
    );
  });

  it('an empty bucket prefix: NoBackupsFound', async function () {
    await sourceCluster('empty');
    await failedWith({ cluster: { name: 'to' }, source: 'empty' }, 'NoBackupsFound', /no backups under/);
  });

  it('wrong object-store keys: DownloadFailed, the key not in the message', async function () {
    await putBucketBackup(client, at('keys'), SQL);
    await kube().core.createNamespacedSecret({
      namespace: ns.name,
      body: { metadata: { name: 's3-wrong' }, stringData: { id: 'lifeboat-nobody', secret: 'not-the-secret-key' } },
    });
    await sourceCluster('keys', { secret: 's3-wrong' });
    const status = await failedWith(
      { cluster: { name: 'to' }, source: 'keys' },
      'DownloadFailed',
      /denied|credentials|key/i,
    );
    assert.doesNotMatch(String(status['error']), /not-the-secret-key/);
  });

  it('an unreachable target: ConnectionFailed', async function () {
    await putBucketBackup(client, at('down'), SQL);
    const cluster = stackCluster('gone', 'restore-target', minioStore(path));
    const spec = cluster.spec as Record<string, unknown>;
    spec['instances'] = { static: [{ name: 'gone-0', host: '127.0.0.1', port: 1 }] };
    spec['externalClusters'] = [{ name: 'down', objectStore: (spec['backup'] as { objectStore: object }).objectStore }];
    await ns.create('clusters', cluster);
    await failedWith({ cluster: { name: 'gone' }, source: 'down' }, 'ConnectionFailed', /gone-0/);
  });

  it("a logical restore into a MySQL Cluster where the only mysql client is MariaDB's: UnsupportedMethod before the archive is read", async function () {
    // The archive is damaged: a check made only after verifying would have failed ChecksumMismatch.
    const flipped = Buffer.from(SQL);
    flipped[20] = (flipped[20] ?? 0) ^ 0x01;
    await putBucketBackup(client, at('mysqlsrc'), flipped, { described: SQL });
    const cluster = stackCluster('my', 'restore-target', minioStore(path));
    const spec = cluster.spec as Record<string, unknown>;
    Object.assign(spec, { engine: 'mysql', version: '8.0' });
    spec['externalClusters'] = [
      { name: 'mysqlsrc', objectStore: (spec['backup'] as { objectStore: object }).objectStore },
    ];
    await ns.create('clusters', cluster);
    await failedWith(
      { cluster: { name: 'my' }, source: 'mysqlsrc' },
      'UnsupportedMethod',
      /a logical restore into mysql needs MySQL's mysql; \S+ here is MariaDB's, whose options differ/,
    );
  });

  it('a non-empty target without overwrite: TargetNotEmpty naming its databases', async function () {
    await putBucketBackup(client, at('full'), SQL);
    await sourceCluster('full');
    await failedWith({ cluster: { name: 'to' }, source: 'full', overwrite: false }, 'TargetNotEmpty', /lb_sentinel/);
  });

  it('a Restore naming a failed Backup is refused at admission, saying why', async function () {
    await ns.create('clusters', stackCluster('src', 'standalone', minioStore(path)));
    await ns.create('backups', backupOf('broken', 'src', { method: 'mariadb-dump' }));
    await waitForPhase(ns, 'broken', ['running', 'completed', 'failed']);
    await ns.patchStatus('backups', 'broken', { phase: 'failed', reason: 'DumpFailed', error: 'e2e' });
    await assertRefused(
      ns.create('restores', restoreOf('r1', { cluster: { name: 'dst' }, backup: { name: 'broken' } })),
      403,
      'not completed',
    );
  });

  it('a Restore naming an Expired Backup is refused at admission; one that ran stays syncable once its Backup is deleted, and a new one naming it is refused saying what to do', async function () {
    await ns.create('clusters', stackCluster('src', 'standalone', minioStore(path)));
    await completedBackup(ns, 'src', 'b1');
    const ran = await finishedRestore(ns, 'r1', { cluster: { name: 'dst' }, backup: { name: 'b1' }, overwrite: true });
    assert.equal(ran['phase'], 'completed', JSON.stringify(ran));
    await ns.delete('backups', 'b1');
    await waitUntilGone(ns, 'backups', 'b1');
    // The webhook remembers a lookup for 1 s (DEFAULT_LOOKUP_CACHE); past that it sees b1 gone.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    // A GitOps sync (or any edit) of the Restore that ran: the Backup name did not change.
    const synced = await ns.patch('restores', 'r1', {
      metadata: { labels: { 'argocd.argoproj.io/instance': 'shop' } },
    });
    assert.equal(synced.metadata.labels?.['argocd.argoproj.io/instance'], 'shop');
    await assertRefused(
      ns.create('restores', restoreOf('r2', { cluster: { name: 'dst' }, backup: { name: 'b1' } })),
      403,
      'Backup b1 does not exist in namespace',
    ).then((message) => assert.match(message, /drop it from Git, or restore with source and backupID/));

    await completedBackup(ns, 'src', 'b2');
    const expired = {
      type: 'Expired',
      status: 'True',
      reason: 'RetentionExpired',
      message: 'beyond keep 1 (2nd newest)',
      lastTransitionTime: new Date().toISOString(),
    };
    const current = (await ns.get('backups', 'b2')).status ?? {};
    await ns.patchStatus('backups', 'b2', { conditions: [...((current['conditions'] as unknown[]) ?? []), expired] });
    await assertRefused(
      ns.create('restores', restoreOf('r3', { cluster: { name: 'dst' }, backup: { name: 'b2' } })),
      403,
      'Backup b2 expired: retention deleted its archive and metadata.json (beyond keep 1 (2nd newest)); name a newer completed Backup',
    );
  });

  it('a Restore deleted mid-apply: its worker is stopped, the restore not recorded as applied', async function () {
    // A sleep of its own length, so that a sleep left by an earlier run is not taken for this one.
    const sleep = `DO SLEEP(15.${String(Date.now() % 1000).padStart(3, '0')})`;
    const slow = Buffer.from(
      [
        'CREATE DATABASE lb_slow;',
        'CREATE TABLE lb_slow.t (id INT PRIMARY KEY);',
        'INSERT INTO lb_slow.t VALUES (1);',
        `${sleep};`,
        'INSERT INTO lb_slow.t VALUES (2);',
        '-- Dump completed on 2026-01-01  0:00:00',
        '',
      ].join('\n'),
    );
    await putBucketBackup(client, at('slow'), slow);
    await sourceCluster('slow');
    await ns.create('restores', restoreOf('r1', { cluster: { name: 'to' }, source: 'slow', overwrite: true }));
    const running = (): Promise<boolean> => targetRuns(sleep);
    await untilTargetRuns(sleep);
    assert.ok(await running(), 'the SQL client is applying (in DO SLEEP)');
    await deleteRestore(ns, 'r1');
    // The server finishes the statement in flight (a killed client is noticed only when the server
    // next writes to it); what matters is that nothing after it runs, as it would within 15 s.
    for (let i = 0; i < 250 && (await running()); i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 3000));
    const rows = await withConnection(restoreTarget(), (c) => c.query('SELECT id FROM lb_slow.t ORDER BY id'));
    assert.deepEqual(
      rows.map((r) => Number(r['id'])),
      [1],
      'nothing after the stop was applied',
    );
    // The Restore is gone; its Event says what the stop left.
    let failed: string | undefined;
    for (let i = 0; i < 50 && failed === undefined; i++) {
      const events = await kube().core.listNamespacedEvent({ namespace: ns.name });
      failed = events.items.find((e) => e.involvedObject.name === 'r1' && e.reason === 'RestoreFailed')?.message;
      if (failed === undefined) await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(
      String(failed),
      /stopped by SIGTERM before it finished; the SQL client was killed; the target to-0 \(.*\) may be partially restored/,
    );
    const markers = await withConnection(restoreTarget(), (c) =>
      c.query("SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'lifeboat'"),
    );
    if (Number(markers[0]?.['n']) > 0) {
      const applied = await withConnection(restoreTarget(), (c) =>
        c.query('SELECT restore_key FROM lifeboat.applied_restores'),
      );
      assert.deepEqual(
        applied.map((r) => r['restore_key']),
        [],
        'not recorded as applied',
      );
    }
  });

  it('a worker killed outright (SIGKILL) mid-apply of a dump that replaces the `lifeboat` schema: the target still knows the restores it took, and one re-applied ends AlreadyApplied', async function () {
    const markers = async (): Promise<string[]> =>
      (
        await withConnection(restoreTarget(), (c) =>
          c.query('SELECT restore_key FROM lifeboat.applied_restores ORDER BY restore_key'),
        )
      ).map((r) => String(r['restore_key']));
    await putBucketBackup(client, at('first'), SQL);
    await sourceCluster('first');
    const firstSpec = { cluster: { name: 'to' }, source: 'first', backupID: '20260101T000000Z', overwrite: true };
    const first = await finishedRestore(ns, 'first', firstSpec);
    assert.equal(first['phase'], 'completed', JSON.stringify(first));
    assert.deepEqual(await markers(), [`${ns.name}/first`]);

    // The dump of a server that was itself restored once: its `lifeboat` schema replaces the
    // target's records, then the client sleeps, and the worker is killed there.
    const sleep = `DO SLEEP(20.${String(Date.now() % 1000).padStart(3, '0')})`;
    const carrying = Buffer.from(
      [
        'CREATE DATABASE IF NOT EXISTS `lifeboat`;',
        'USE `lifeboat`;',
        'DROP TABLE IF EXISTS `applied_restores`;',
        'CREATE TABLE `applied_restores` (restore_key VARCHAR(400) CHARACTER SET ascii NOT NULL PRIMARY KEY, backup_id VARCHAR(253) NOT NULL, sha256 CHAR(64) CHARACTER SET ascii NOT NULL, source VARCHAR(2048) NOT NULL, applied_at DATETIME(3) NOT NULL, restore_uid VARCHAR(64) CHARACTER SET ascii NOT NULL) ENGINE=InnoDB;',
        "INSERT INTO `applied_restores` VALUES ('elsewhere/old','20250101T000000Z',REPEAT('a',64),'s3://x','2025-01-01 00:00:00.000','u');",
        `${sleep};`,
        'CREATE DATABASE lb_after;',
        '-- Dump completed on 2026-01-01  0:00:00',
        '',
      ].join('\n'),
    );
    await putBucketBackup(client, at('first', '20260102T000000Z'), carrying);
    await ns.create('restores', restoreOf('second', { ...firstSpec, backupID: '20260102T000000Z' }));
    await untilTargetRuns(sleep);
    assert.ok(await targetRuns(sleep), "the SQL client is in DO SLEEP, past the dump's `lifeboat` schema");
    assert.deepEqual(await markers(), ['elsewhere/old'], "the dump replaced the target's records");
    process.kill(await workerPid(ns, 'restores', 'second'), 'SIGKILL');
    const second = (await waitForRecord(ns, 'restores', 'second', ['completed', 'failed'], 120_000)).status ?? {};
    assert.equal(second['phase'], 'failed', JSON.stringify(second));

    // A GitOps tool applies the first Restore anew (its status lost): nothing is applied again.
    await deleteRestore(ns, 'first');
    const again = await finishedRestore(ns, 'first', firstSpec);
    assert.equal(again['phase'], 'completed', JSON.stringify(again));
    assert.equal(readyOf(again)?.['reason'], 'AlreadyApplied', JSON.stringify(again));
    assert.deepEqual(await markers(), [`${ns.name}/first`, 'elsewhere/old'].sort());
    const after = await withConnection(restoreTarget(), (c) => c.query("SHOW DATABASES LIKE 'lb_after'"));
    assert.deepEqual(after, [], 'the client died with its worker: nothing after the SLEEP ran');
    assert.ok(
      (await eventReasons(ns, 'first')).includes('TargetBusy'),
      "the Restore applied anew waited for the killed client's statement to end",
    );
    const leftovers = await withConnection(restoreTarget(), (c) =>
      c.query(
        "SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'lifeboat' AND TABLE_NAME LIKE 'kept%'",
      ),
    );
    assert.deepEqual(leftovers, [], 'the kept copy is dropped once written back');
  });

  it('two Cluster objects in two namespaces naming one server: their restores take turns (TargetBusy), never interleaved', async function () {
    const other = await createNamespace('busy');
    try {
      await createStackSecrets(other);
      const tag = String(Date.now() % 1000).padStart(3, '0');
      const dump = (db: string): Buffer =>
        Buffer.from(
          [
            `CREATE DATABASE ${db};`,
            `CREATE TABLE ${db}.t (at DATETIME(6));`,
            `INSERT INTO ${db}.t VALUES (NOW(6));`,
            `DO SLEEP(6.${tag});`,
            `INSERT INTO ${db}.t VALUES (NOW(6));`,
            '-- Dump completed on 2026-01-01  0:00:00',
            '',
          ].join('\n'),
        );
      await putBucketBackup(client, at('one'), dump('lb_turn_one'));
      await putBucketBackup(client, at('two'), dump('lb_turn_two'));
      await sourceCluster('one');
      // Its own backups elsewhere (LB801), the source's bucket path the same.
      const twin = stackCluster('to', 'restore-target', minioStore(`${path}/twin`));
      const spec = twin.spec as Record<string, unknown>;
      const own = (spec['backup'] as { objectStore: object }).objectStore;
      spec['externalClusters'] = [{ name: 'two', objectStore: { ...own, path } }];
      await other.create('clusters', twin);
      const restore = (source: string): KubeObject =>
        restoreOf('r1', { cluster: { name: 'to' }, source, overwrite: true });
      await Promise.all([ns.create('restores', restore('one')), other.create('restores', restore('two'))]);
      for (const n of [ns, other]) {
        const status = (await waitForRecord(n, 'restores', 'r1', ['completed', 'failed'], 120_000)).status ?? {};
        assert.equal(status['phase'], 'completed', JSON.stringify(status));
      }
      const span = async (db: string): Promise<[number, number]> => {
        const rows = await withConnection(restoreTarget(), (c) =>
          c.query(`SELECT UNIX_TIMESTAMP(MIN(at)) AS a, UNIX_TIMESTAMP(MAX(at)) AS b FROM ${db}.t`),
        );
        return [Number(rows[0]?.['a']), Number(rows[0]?.['b'])];
      };
      const [one, two] = [await span('lb_turn_one'), await span('lb_turn_two')];
      assert.ok(one[1] - one[0] >= 6 && two[1] - two[0] >= 6, `each applied whole: ${one} ${two}`);
      assert.ok(one[1] <= two[0] || two[1] <= one[0], `the applies overlapped: ${one} and ${two}`);
      const busy = [...(await eventReasons(ns, 'r1')), ...(await eventReasons(other, 'r1'))];
      assert.equal(busy.filter((r) => r === 'TargetBusy').length, 1, `one waited and said so: ${busy.join(', ')}`);
    } finally {
      await other.cleanup();
    }
  });

  it('a Restore naming a Cluster that does not exist waits, pending, with a Warning Event WaitingForCluster; it runs once the Cluster is created', async function () {
    await putBucketBackup(client, at('late'), SQL);
    await ns.create('restores', restoreOf('r1', { cluster: { name: 'to' }, source: 'late', overwrite: true }));
    const deadline = Date.now() + 30_000;
    while (!(await reasonsNow(ns, 'r1')).includes('WaitingForCluster')) {
      if (Date.now() > deadline)
        throw new Error(`no WaitingForCluster Event: ${(await reasonsNow(ns, 'r1')).join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const waiting = (await ns.get('restores', 'r1')).status ?? {};
    assert.equal(waiting['phase'], 'pending', JSON.stringify(waiting));
    assert.equal(readyOf(waiting)?.['reason'], 'WaitingForCluster');
    assert.match(
      String(readyOf(waiting)?.['message']),
      /^waiting: Cluster to does not exist in namespace .*; the Restore waits for it: create it, or fix spec\.cluster\.name$/,
    );
    await sourceCluster('late');
    const done = (await waitForRecord(ns, 'restores', 'r1', ['completed', 'failed'], 120_000)).status ?? {};
    assert.equal(done['phase'], 'completed', JSON.stringify(done));
    assert.equal((await eventReasons(ns, 'r1')).filter((r) => r === 'WaitingForCluster').length, 1, 'one Event');
  });

  it('a Restore that ran, applied anew after its backup was deleted from the bucket: AlreadyApplied; a new one fails BackupIDNotFound', async function () {
    await putBucketBackup(client, at('gone'), SQL);
    await sourceCluster('gone');
    const spec = { cluster: { name: 'to' }, source: 'gone', backupID: '20260101T000000Z', overwrite: true };
    const first = await finishedRestore(ns, 'r1', spec);
    assert.equal(first['phase'], 'completed', JSON.stringify(first));
    await removePrefix(client, requireVar('S3_BUCKET', 'MinIO'), `${path}/gone/`);

    await deleteRestore(ns, 'r1');
    const again = await finishedRestore(ns, 'r1', spec);
    assert.equal(again['phase'], 'completed', JSON.stringify(again));
    assert.equal(readyOf(again)?.['reason'], 'AlreadyApplied');
    assert.match(
      String(readyOf(again)?.['message']),
      /^already applied to to-0 .*nothing was applied again, so what was written since is kept; the backup it names is no longer in the object store$/,
    );
    assert.equal(again['backupId'], '20260101T000000Z');

    const other = await finishedRestore(ns, 'r2', spec);
    assert.equal(other['phase'], 'failed', JSON.stringify(other));
    assert.equal(other['reason'], 'BackupIDNotFound');
  });
});
