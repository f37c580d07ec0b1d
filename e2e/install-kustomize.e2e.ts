// Lifeboat installed as a user installs it, with the kustomize tree (self-signed certificate), into
// the stack's cluster (its node runs the pods): the webhook pods admit and refuse through their
// Service, the runner pods elect a leader, a Backup runs as a Job worker against a MariaDB pod and
// completes into MinIO, killing the leading runner pod mid-backup hands the work to the other,
// and uninstalling leaves nothing behind.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { stringify } from 'yaml';
import { eventually } from './support/eventually.js';
import {
  assertRefusesUnsafeBackup,
  deployMariadb,
  INSTALL_NAMESPACE,
  kubectlSlow,
  kustomization,
  leftovers,
  LIFEBOAT_IMAGE,
  loadImage,
  MARIADB_IMAGE,
  nodeHostIp,
  podsOf,
  removeWorkloadNamespace,
  rolloutStatus,
  runnerLeader,
  withoutStackLifeboat,
} from './support/install.js';
import { createNamespace, kubectlOk, type TestNamespace } from './support/kube.js';
import {
  archiveKeyOf,
  backupOf,
  createStackSecrets,
  DB_SECRET,
  minioClient,
  objectSha256,
  S3_SECRET,
  waitForPhase,
} from './support/stack-objects.js';
import { requireVar } from './support/stack.js';

describe('installed with the kustomize tree: webhook and runner pods, a Job worker, uninstall', function () {
  this.timeout(300_000);
  withoutStackLifeboat();

  let ns: TestNamespace;
  let install: string;
  let workers: string;
  let db: { serviceIp: string; podIp: string };
  const path = `e2e-install/${randomBytes(4).toString('hex')}`;

  function cluster(name: string): string {
    const endpoint = `http://${nodeHostIp()}:${new URL(requireVar('S3_ENDPOINT', 'MinIO')).port}`;
    return stringify({
      apiVersion: 'lifeboat.dev/v1alpha1',
      kind: 'Cluster',
      metadata: { name, namespace: ns.name },
      spec: {
        engine: 'mariadb',
        version: '10.11',
        topology: 'standalone',
        instances: { static: [{ name: `${name}-0`, host: db.serviceIp, port: 3306 }] },
        credentials: { secretRef: { name: DB_SECRET } },
        backup: {
          method: 'mariadb-dump',
          objectStore: {
            bucket: requireVar('S3_BUCKET', 'MinIO'),
            endpoint,
            region: requireVar('S3_REGION', 'MinIO'),
            forcePathStyle: true,
            insecure: true,
            path,
            credentials: {
              accessKeyId: { name: S3_SECRET, key: 'id' },
              secretAccessKey: { name: S3_SECRET, key: 'secret' },
            },
          },
        },
      },
    });
  }

  before(async function () {
    this.timeout(30 * 60_000);
    nodeHostIp();
    loadImage('lifeboat', LIFEBOAT_IMAGE);
    loadImage('mariadb', MARIADB_IMAGE);
    install = kustomization('kustomize', ['deploy/kustomize/self-signed']);
    kubectlOk(['apply', '--server-side', '-k', install]);
    rolloutStatus('deployment', 'lifeboat-webhook');
    rolloutStatus('deployment', 'lifeboat-runner');
    ns = await createNamespace('install-kustomize');
    workers = kustomization('kustomize-workers', ['deploy/kustomize/worker-namespace'], ns.name);
    kubectlOk(['apply', '--server-side', '-k', workers]);
    await createStackSecrets(ns);
    db = await deployMariadb(ns.name);
    const conn = await mysql.createConnection({
      host: db.podIp,
      port: 3306,
      user: requireVar('MARIADB_USER', 'MariaDB'),
      password: requireVar('MARIADB_PASSWORD', 'MariaDB'),
      database: 'shop',
    });
    await conn.query('CREATE TABLE orders (id INT PRIMARY KEY, item VARCHAR(64))');
    await conn.query("INSERT INTO orders VALUES (1, 'rope'), (2, 'oar')");
    // About 150 MB, so that a backup runs for seconds: long enough to kill a runner pod during it.
    await conn.query('CREATE TABLE filler (id INT AUTO_INCREMENT PRIMARY KEY, pad CHAR(255))');
    await conn.query("INSERT INTO filler (pad) SELECT REPEAT('x', 255) FROM seq_1_to_600000");
    await conn.end();
  });

  after(async function () {
    this.timeout(300_000);
    if (ns) await removeWorkloadNamespace(ns);
  });

  it('the webhook pods admit a Cluster and refuse a bad Backup, called through their Service', function () {
    assert.equal(podsOf('webhook').length, 2, 'two webhook replicas');
    const hook = JSON.parse(kubectlOk(['get', 'validatingwebhookconfiguration', 'lifeboat', '-o', 'json'])) as {
      webhooks: { clientConfig: { service?: { name: string; namespace: string }; url?: string; caBundle?: string } }[];
    };
    for (const w of hook.webhooks) {
      assert.deepEqual(
        { name: w.clientConfig.service?.name, namespace: w.clientConfig.service?.namespace },
        { name: 'lifeboat-webhook', namespace: INSTALL_NAMESPACE },
      );
      assert.ok(w.clientConfig.caBundle, 'the self-signed webhook patched its CA in');
    }
    kubectlOk(['apply', '-f', '-'], cluster('shop'));
    assertRefusesUnsafeBackup(ns.name);
  });

  it('the runner pods elect one leader; the other stands by, ready', async function () {
    const leader = await runnerLeader();
    const pods = podsOf('runner');
    assert.equal(pods.length, 2);
    const ready = pods.filter((p) =>
      ((p.status?.['conditions'] as { type: string; status: string }[] | undefined) ?? []).some(
        (c) => c.type === 'Ready' && c.status === 'True',
      ),
    );
    assert.equal(ready.length, 2, 'both runner pods ready');
    assert.equal(pods.filter((p) => leader.includes(p.metadata.name ?? '\u0000')).length, 1);
  });

  it('a Backup runs as a Job worker and completes into MinIO with the sha256 of the object', async function () {
    kubectlOk(['apply', '-f', '-'], cluster('shop'));
    kubectlOk(
      ['apply', '-f', '-'],
      stringify({ ...backupOf('first', 'shop'), metadata: { name: 'first', namespace: ns.name } }),
    );
    const done = await waitForPhase(ns, 'first', ['completed', 'failed'], 240_000);
    const status = done.status ?? {};
    assert.equal(status['phase'], 'completed', `Backup failed: ${JSON.stringify(status)}`);
    // The worker writes the outcome itself and then exits; the Job controller records it after.
    const job = await eventually('the worker Job owned by Backup first to succeed', () => {
      const jobs = JSON.parse(kubectlOk(['-n', ns.name, 'get', 'jobs', '-o', 'json'])) as {
        items: { metadata: { ownerReferences?: { kind: string; name: string }[] }; status?: { succeeded?: number } }[];
      };
      const owned = jobs.items.find((j) =>
        j.metadata.ownerReferences?.some((o) => o.kind === 'Backup' && o.name === 'first'),
      );
      return Promise.resolve(owned?.status?.succeeded === 1 ? owned : undefined);
    });
    assert.ok(job.metadata.ownerReferences);
    const key = archiveKeyOf(status, 'sql');
    const sha = await objectSha256(minioClient(), requireVar('S3_BUCKET', 'MinIO'), key);
    assert.equal(status['sha256'], sha, `status.sha256 is the SHA-256 of s3://…/${key}`);
  });

  it('the leading runner pod killed mid-backup: the other takes over and the work completes', async function () {
    const before = await runnerLeader();
    kubectlOk(
      ['apply', '-f', '-'],
      stringify({ ...backupOf('second', 'shop'), metadata: { name: 'second', namespace: ns.name } }),
    );
    const running = await waitForPhase(ns, 'second', ['running', 'completed', 'failed'], 120_000);
    assert.equal(running.status?.['phase'], 'running', 'the Backup was still running when the runner pod was killed');
    const leaderPod = podsOf('runner').find((p) => before.includes(p.metadata.name ?? '\u0000'));
    assert.ok(leaderPod?.metadata.name, `no runner pod named in the Lease holder ${before}`);
    kubectlOk(['-n', INSTALL_NAMESPACE, 'delete', 'pod', leaderPod.metadata.name, '--grace-period=0', '--force']);
    const atKill = await ns.get('backups', 'second');
    assert.equal(atKill.status?.['phase'], 'running', 'killed mid-backup');
    const after = await runnerLeader(before);
    assert.ok(!after.includes(leaderPod.metadata.name), 'the killed pod no longer leads');
    kubectlOk(
      ['apply', '-f', '-'],
      stringify({ ...backupOf('third', 'shop'), metadata: { name: 'third', namespace: ns.name } }),
    );
    for (const name of ['second', 'third']) {
      const done = await waitForPhase(ns, name, ['completed', 'failed'], 240_000);
      assert.equal(done.status?.['phase'], 'completed', `${name}: ${JSON.stringify(done.status)}`);
    }
  });

  it('uninstalling leaves nothing of Lifeboat behind', async function () {
    await removeWorkloadNamespace(ns);
    kubectlSlow(['delete', '-k', workers, '--ignore-not-found', '--wait=true']);
    kubectlSlow(['delete', '-k', install, '--ignore-not-found', '--wait=true', '--timeout=240s']);
    const left = await eventually(
      'the install gone',
      () => Promise.resolve(leftovers().length === 0 ? [] : undefined),
      180_000,
    ).catch(() => leftovers());
    assert.deepEqual(left, []);
    const pods = kubectlOk(['get', 'pods', '-A', '-l', 'app.kubernetes.io/name=lifeboat', '-o', 'name']).trim();
    assert.equal(pods, '', 'no Lifeboat pod runs');
  });
});
