// Retention on the real stack: real mariadb-dump Backups of the standalone server, run by the stack's
// runner, then the Retention reconciler with a real KubeClient and the real MinIO. With keep 2 exactly
// the two newest remain, in the API and in the bucket; a Backup applied from Git (no ownerReference)
// stays as an object with its Expired condition while its objects go; maxAge likewise; and
// `lifeboat retention plan` prints the expected lines before anything is removed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { CoordinationV1Api } from '@kubernetes/client-node';
import type { S3Client } from '@aws-sdk/client-s3';
import { KubeClient } from '../lib/kube-client.js';
import { createLogger } from '../lib/logger.js';
import { listBackups } from '../runner/restores/backup-listing.js';
import { retentionReconciler } from '../runner/retention/retention-reconciler.js';
import { type RunningRunner } from '../runner/runner-main.js';
import { createRunnerMetrics } from '../runner/runner-metrics.js';
import { EventRecorder } from '../runner/status/event-recorder.js';
import { kube, type KubeObject, type TestNamespace } from './support/kube.js';
import {
  backupOf,
  createStackSecrets,
  listKeys,
  minioStore,
  namespaceAndPathPerTest,
  stackCluster,
  waitForPhase,
} from './support/stack-objects.js';
import { REPO_ROOT, requireVar, withoutStackRunner } from './support/stack.js';
import { eventually } from './support/eventually.js';
import { startNamespaceRunner } from './support/namespace-runner.js';

const BIN = join(REPO_ROOT, 'dist', 'cmd', 'lifeboat.js');

function lifeboat(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: {
      PATH: process.env['PATH'],
      KUBECONFIG: requireVar('KUBECONFIG', 'kube-apiserver'),
      LIFEBOAT_S3_ACCESS_KEY_ID: requireVar('S3_ACCESS_KEY', 'MinIO'),
      LIFEBOAT_S3_SECRET_ACCESS_KEY: requireVar('S3_SECRET_KEY', 'MinIO'),
    },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The Cluster db of the standalone server, with retention. */
async function createCluster(ns: TestNamespace, path: string, retention: object): Promise<void> {
  await createStackSecrets(ns);
  const cluster = stackCluster('db', 'standalone', minioStore(path));
  const spec = cluster.spec as { backup: Record<string, unknown> };
  spec.backup['retention'] = retention;
  await ns.create('clusters', cluster);
}

/** A suspended ScheduledBackup, the owner of the Backups "it created". */
async function createSchedule(ns: TestNamespace): Promise<KubeObject> {
  return ns.create('scheduledbackups', {
    apiVersion: 'lifeboat.dev/v1alpha1',
    kind: 'ScheduledBackup',
    metadata: { name: 'nightly' },
    spec: { schedule: '0 3 * * *', suspend: true, backupTemplate: { cluster: { name: 'db' }, method: 'mariadb-dump' } },
  });
}

/**
 * A real Backup (mariadb-dump unless `method` says otherwise), waited for until completed. `owner`:
 * created as a ScheduledBackup creates them; otherwise as Git applies one. Backup IDs are to the
 * second: the next starts later.
 */
async function backUp(ns: TestNamespace, name: string, owner?: KubeObject, method = 'mariadb-dump'): Promise<void> {
  const metadata = owner
    ? {
        labels: { 'lifeboat.dev/scheduled-backup': 'nightly' },
        ownerReferences: [
          {
            apiVersion: 'lifeboat.dev/v1alpha1',
            kind: 'ScheduledBackup',
            name: owner.metadata.name ?? '',
            uid: owner.metadata.uid ?? '',
            controller: true,
          },
        ],
      }
    : {};
  await ns.create('backups', backupOf(name, 'db', { method }, metadata));
  const done = await waitForPhase(ns, name, ['completed', 'failed'], 120_000);
  assert.equal(done.status?.['phase'], 'completed', `Backup ${name}: ${JSON.stringify(done.status)}`);
  await new Promise((resolve) => setTimeout(resolve, 1100));
}

function reconciler(now?: () => Date) {
  const client = new KubeClient(kube().config, { fieldManager: 'lifeboat-runner' });
  const log = createLogger('retention-e2e');
  const metrics = createRunnerMetrics({ processMetrics: false });
  const r = retentionReconciler({
    kube: client,
    events: new EventRecorder(client, { log }),
    log,
    metrics,
    periodMs: 600_000,
    ...(now ? { now } : {}),
  });
  return { r, metrics };
}

async function backupNames(ns: TestNamespace): Promise<string[]> {
  const client = new KubeClient(kube().config);
  const { items } = await client.listLifeboat('Backup', ns.name);
  return (items as KubeObject[]).map((b) => b.metadata.name ?? '').sort();
}

/** The backup folders (`<name>/<id>`) under the test's path, and each folder's files. */
async function bucketFolders(client: S3Client, path: string): Promise<Record<string, string[]>> {
  const keys = await listKeys(client, requireVar('S3_BUCKET', 'MinIO'), `${path}/db/`);
  const folders: Record<string, string[]> = {};
  for (const key of keys) {
    const [name = '', , file = ''] = key.slice(`${path}/db/`.length).split('/');
    (folders[name] ??= []).push(file);
  }
  for (const files of Object.values(folders)) files.sort();
  return folders;
}

async function clusterEvents(ns: TestNamespace): Promise<string[]> {
  const list = await kube().core.listNamespacedEvent({
    namespace: ns.name,
    fieldSelector: 'involvedObject.kind=Cluster',
  });
  return list.items.map((e) => `${e.type ?? ''} ${e.reason ?? ''}: ${e.message ?? ''}`);
}

/** The plan's row of one Backup: action, then why. */
function row(stdout: string, name: string): string {
  const line = stdout.split('\n').find((l) => l.split(/\s+/)[1] === name);
  assert.ok(line, `no line for ${name} in:\n${stdout}`);
  const [action, , , phase, ...why] = line.split(/\s+/);
  return `${action} ${phase} ${why.join(' ')}`;
}

describe('retention (real stack: kube-apiserver, MinIO, MariaDB)', function () {
  // The test drives retention itself: the stack's runner, which runs retention too, is stopped,
  // and a runner of this tree runs only the Backups.
  withoutStackRunner();
  let ns: TestNamespace;
  let path: string;
  let s3: S3Client;
  let backups: RunningRunner | undefined;
  afterEach(async function () {
    await backups?.stop();
    backups = undefined;
  });
  namespaceAndPathPerTest((n, p, c) => {
    ns = n;
    path = p;
    s3 = c;
  });
  beforeEach(async function () {
    backups = await startNamespaceRunner(ns, { reconcilers: ['Backup'] });
  });

  it('keep 2: exactly the two newest remain in the API and the bucket; a Git Backup stays Expired without its objects', async function () {
    this.timeout(300_000);
    await createCluster(ns, path, { keep: 2 });
    const schedule = await createSchedule(ns);
    await backUp(ns, 'g0');
    await backUp(ns, 's1', schedule);
    await backUp(ns, 's2', schedule);
    await backUp(ns, 's3', schedule);
    assert.deepEqual(Object.keys(await bucketFolders(s3, path)).sort(), ['g0', 's1', 's2', 's3']);

    const plan = lifeboat(['retention', 'plan', '--namespace', ns.name, '--cluster', 'db']);
    assert.equal(plan.status, 0, plan.stderr);
    assert.match(plan.stdout, new RegExp(`^retention of Cluster ${ns.name}/db \\(keep 2\\) as of `));
    assert.equal(row(plan.stdout, 's3'), 'keep completed kept: newest completed backup');
    assert.equal(row(plan.stdout, 's2'), 'keep completed kept: within keep 2 (2nd newest)');
    assert.equal(row(plan.stdout, 's1'), 'delete completed beyond keep 2 (3rd newest)');
    assert.equal(row(plan.stdout, 'g0'), 'expire completed beyond keep 2 (4th newest)');
    assert.match(plan.stdout, /\n1 to delete, 1 to expire .*, 2 kept\nthis is a plan: nothing was changed\n$/);
    assert.deepEqual(await backupNames(ns), ['g0', 's1', 's2', 's3'], 'the plan changed nothing');

    const { r, metrics } = reconciler();
    assert.deepEqual(await r.reconcile(ns.name, 'db'), { requeueAfterMs: 600_000 });

    assert.deepEqual(await backupNames(ns), ['g0', 's2', 's3']);
    const folders = await bucketFolders(s3, path);
    assert.deepEqual(folders, { s2: ['backup.sql', 'metadata.json'], s3: ['backup.sql', 'metadata.json'] });
    const listed = await listBackups({ client: s3, bucket: requireVar('S3_BUCKET', 'MinIO'), path, cluster: 'db' });
    assert.deepEqual(
      listed.map((b) => `${b.backupName} ${b.problems.length === 0 ? 'complete' : b.problems.join('; ')}`),
      ['s3 complete', 's2 complete'],
    );
    const g0 = await ns.get('backups', 'g0');
    const expired = (
      g0.status?.['conditions'] as { type: string; status: string; reason: string; message: string }[]
    ).find((c) => c.type === 'Expired');
    assert.equal(expired?.status, 'True');
    assert.equal(expired?.reason, 'RetentionExpired');
    assert.match(
      expired?.message ?? '',
      /^retention deleted its archive and metadata\.json at \S+: beyond keep 2 \(4th newest\); it can no longer be restored$/,
    );
    assert.equal(g0.status?.['phase'], 'completed', 'the rest of its status is left as it was');

    const events = await clusterEvents(ns);
    assert.ok(
      events.some((e) => /^Normal RetentionDeleted: retention \(keep 2\) removed Backup s1: beyond keep 2/.test(e)),
      events.join('\n'),
    );
    assert.ok(
      events.some((e) => /^Normal RetentionExpired: retention \(keep 2\) removed Backup g0: /.test(e)),
      events.join('\n'),
    );
    assert.match(
      await metrics.registry.getSingleMetricAsString('lifeboat_retention_deleted_total'),
      /action="delete"\} 1$/m,
    );

    // The next run finds nothing to do: the expired Backup is never processed again.
    await r.reconcile(ns.name, 'db');
    assert.deepEqual(await backupNames(ns), ['g0', 's2', 's3']);
    assert.equal((await clusterEvents(ns)).length, events.length);

    // The bucket's own view, as in a recovery: keep 1 of what it holds.
    const fromBucket = lifeboat([
      'retention',
      'plan',
      '--bucket',
      requireVar('S3_BUCKET', 'MinIO'),
      '--endpoint',
      requireVar('S3_ENDPOINT', 'MinIO'),
      '--insecure',
      '--force-path-style',
      '--region',
      requireVar('S3_REGION', 'MinIO'),
      '--path',
      path,
      '--cluster',
      'db',
      '--keep',
      '1',
    ]);
    assert.equal(fromBucket.status, 0, fromBucket.stderr);
    assert.equal(row(fromBucket.stdout, 's3'), 'keep completed kept: newest completed backup');
    assert.equal(row(fromBucket.stdout, 's2'), 'delete completed beyond keep 1 (2nd newest)');
    assert.equal(Object.keys(await bucketFolders(s3, path)).length, 2, 'the bucket plan changed nothing');
  });

  it('keep 1 with dumps and mariabackups: the newest of each kind stays, in the API and in the bucket', async function () {
    this.timeout(300_000);
    await createCluster(ns, path, { keep: 1 });
    const schedule = await createSchedule(ns);
    await backUp(ns, 'dump1', schedule);
    await backUp(ns, 'dump2', schedule);
    await backUp(ns, 'phys3', schedule, 'mariabackup');
    await backUp(ns, 'phys4', schedule, 'mariabackup');

    const plan = lifeboat(['retention', 'plan', '--namespace', ns.name, '--cluster', 'db']);
    assert.equal(plan.status, 0, plan.stderr);
    assert.equal(row(plan.stdout, 'phys4'), 'keep completed kept: newest completed backup');
    assert.equal(row(plan.stdout, 'phys3'), 'delete completed beyond keep 1 (2nd newest)');
    assert.equal(
      row(plan.stdout, 'dump2'),
      'keep completed kept: newest completed logical backup (a Restore takes only logical ones)',
    );
    assert.equal(row(plan.stdout, 'dump1'), 'delete completed beyond keep 1 (4th newest)');

    const { r } = reconciler();
    await r.reconcile(ns.name, 'db');
    assert.deepEqual(await backupNames(ns), ['dump2', 'phys4']);
    assert.deepEqual(await bucketFolders(s3, path), {
      dump2: ['backup.sql', 'metadata.json'],
      phys4: ['backup.xbstream', 'metadata.json'],
    });

    // The bucket's own view reads each backup's kind from its metadata.json.
    const fromBucket = lifeboat([
      'retention',
      'plan',
      ...['--bucket', requireVar('S3_BUCKET', 'MinIO'), '--endpoint', requireVar('S3_ENDPOINT', 'MinIO')],
      ...['--insecure', '--force-path-style', '--region', requireVar('S3_REGION', 'MinIO')],
      ...['--path', path, '--cluster', 'db', '--keep', '1'],
    ]);
    assert.equal(fromBucket.status, 0, fromBucket.stderr);
    assert.equal(row(fromBucket.stdout, 'phys4'), 'keep completed kept: newest completed backup');
    assert.equal(
      row(fromBucket.stdout, 'dump2'),
      'keep completed kept: newest completed logical backup (a Restore takes only logical ones)',
    );
  });

  it('maxAge 30s: the Backups that completed longer ago go, the younger ones stay', async function () {
    this.timeout(300_000);
    await createCluster(ns, path, { maxAge: '30s' });
    const schedule = await createSchedule(ns);
    await backUp(ns, 'old1', schedule);
    await backUp(ns, 'old2', schedule);
    await new Promise((resolve) => setTimeout(resolve, 31_000));
    await backUp(ns, 'new3', schedule);
    await backUp(ns, 'new4', schedule);

    const plan = lifeboat(['retention', 'plan', '--namespace', ns.name, '--cluster', 'db']);
    assert.equal(plan.status, 0, plan.stderr);
    assert.match(row(plan.stdout, 'old1'), /^delete completed older than maxAge 30s \(completed \S+\)$/);
    assert.match(row(plan.stdout, 'old2'), /^delete completed older than maxAge 30s \(completed \S+\)$/);
    assert.match(row(plan.stdout, 'new3'), /^keep completed kept: younger than maxAge 30s \(completed \S+\)$/);
    assert.equal(row(plan.stdout, 'new4'), 'keep completed kept: newest completed backup');

    const { r } = reconciler();
    await r.reconcile(ns.name, 'db');
    assert.deepEqual(await backupNames(ns), ['new3', 'new4']);
    assert.deepEqual(Object.keys(await bucketFolders(s3, path)).sort(), ['new3', 'new4']);

    // Much later, only the newest completed backup is left, however old it is.
    const { r: later } = reconciler(() => new Date(Date.now() + 3_600_000));
    await later.reconcile(ns.name, 'db');
    assert.deepEqual(await backupNames(ns), ['new4']);
    assert.deepEqual(Object.keys(await bucketFolders(s3, path)), ['new4']);
  });
});

describe('retention in a whole runner (startRunner from this tree, real workers)', function () {
  withoutStackRunner();
  let ns: TestNamespace;
  let path: string;
  let s3: S3Client;
  namespaceAndPathPerTest((n, p, c) => {
    ns = n;
    path = p;
    s3 = c;
  });

  it('keep 1: when a Backup completes, the runner removes the one before it, with an Event and the metric', async function () {
    this.timeout(300_000);
    await createCluster(ns, path, { keep: 1 });
    const schedule = await createSchedule(ns);
    const saved = { ...process.env };
    process.env['KUBECONFIG'] = requireVar('KUBECONFIG', 'kube-apiserver');
    let runner: RunningRunner | undefined;
    try {
      runner = await startNamespaceRunner(ns);
      const leading = runner;
      await backUp(ns, 'a1', schedule);
      await backUp(ns, 'a2', schedule);
      await eventually('a1 to be removed', async () => ((await backupNames(ns)).join(',') === 'a2' ? true : undefined));
      assert.deepEqual(Object.keys(await bucketFolders(s3, path)), ['a2']);
      const events = await clusterEvents(ns);
      assert.ok(
        events.some((e) =>
          e.startsWith('Normal RetentionDeleted: retention (keep 1) removed Backup a1: beyond keep 1 (2nd newest)'),
        ),
        events.join('\n'),
      );
      const metrics = await (await fetch(`http://127.0.0.1:${leading.port}/metrics`)).text();
      assert.match(metrics, /^lifeboat_retention_deleted_total\{action="delete"\} 1$/m);
    } finally {
      await runner?.stop();
      process.env = saved;
      await kube().config.makeApiClient(CoordinationV1Api).deleteCollectionNamespacedLease({ namespace: ns.name });
    }
  });
});
