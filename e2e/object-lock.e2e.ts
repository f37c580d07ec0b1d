// spec.objectStore.objectLock on the real stack: a MinIO bucket created with Object Lock enabled,
// real mariadb-dump Backups run by a runner of this tree, HeadObject to see what MinIO holds, the
// preflight refusing a bucket without Object Lock, and retention leaving a locked backup alone —
// both when the Backup recorded its lock and when only the store knows it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { KubeClient } from '../lib/kube-client.js';
import { createLogger } from '../lib/logger.js';
import { retentionReconciler } from '../runner/retention/retention-reconciler.js';
import type { RunningRunner } from '../runner/runner-main.js';
import { EventRecorder } from '../runner/status/event-recorder.js';
import { kube, type TestNamespace } from './support/kube.js';
import {
  backupOf,
  createStackSecrets,
  listKeys,
  minioClient,
  minioStore,
  namespaceAndPathPerTest,
  stackCluster,
  waitForPhase,
} from './support/stack-objects.js';
import { REPO_ROOT, requireVar, withoutStackRunner } from './support/stack.js';
import { startNamespaceRunner } from './support/namespace-runner.js';

type Status = Record<string, unknown>;
interface Location {
  bucket: string;
  archiveKey: string;
  metadataKey: string;
  objectLock?: { mode: string; retainUntil: string };
}
const DAY_MS = 86_400_000;
const BIN = join(REPO_ROOT, 'dist', 'cmd', 'lifeboat.js');

/** Every version of every object, locked or not (GOVERNANCE yields to the bypass), then the bucket. */
async function removeLockedBucket(client: S3Client, bucket: string): Promise<void> {
  const listed = await client.send(new ListObjectVersionsCommand({ Bucket: bucket }));
  for (const v of [...(listed.Versions ?? []), ...(listed.DeleteMarkers ?? [])]) {
    await client.send(
      new DeleteObjectCommand({ Bucket: bucket, Key: v.Key, VersionId: v.VersionId, BypassGovernanceRetention: true }),
    );
  }
  await client.send(new DeleteBucketCommand({ Bucket: bucket }));
}

async function backUp(ns: TestNamespace, name: string): Promise<Status> {
  await ns.create('backups', backupOf(name, 'db', { method: 'mariadb-dump' }));
  const status = (await waitForPhase(ns, name, ['completed', 'failed'], 120_000)).status ?? {};
  // Backup IDs are to the second: the next Backup starts in a later one.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  return status;
}

async function backupEvents(ns: TestNamespace, name: string): Promise<string[]> {
  const list = await kube().core.listNamespacedEvent({
    namespace: ns.name,
    fieldSelector: `involvedObject.kind=Backup,involvedObject.name=${name}`,
  });
  return list.items.map((e) => `${e.type ?? ''} ${e.reason ?? ''}: ${e.message ?? ''}`);
}

function retentionPlan(ns: TestNamespace): string {
  const r = spawnSync(process.execPath, [BIN, 'retention', 'plan', '--namespace', ns.name, '--cluster', 'db'], {
    encoding: 'utf8',
    env: { PATH: process.env['PATH'], KUBECONFIG: requireVar('KUBECONFIG', 'kube-apiserver') },
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

describe('objectLock (real MinIO bucket with Object Lock, kube-apiserver, MariaDB; a runner of this tree)', function () {
  this.timeout(300_000);
  withoutStackRunner();
  const lockBucket = `lifeboat-lock-${randomBytes(4).toString('hex')}`;
  let admin: S3Client;
  let ns: TestNamespace;
  let path = '';
  let s3: S3Client;
  let runner: RunningRunner | undefined;
  before(async function () {
    admin = minioClient();
    await admin.send(new CreateBucketCommand({ Bucket: lockBucket, ObjectLockEnabledForBucket: true }));
  });
  after(async function () {
    await removeLockedBucket(admin, lockBucket);
    admin.destroy();
  });
  namespaceAndPathPerTest((created, its, client) => ((ns = created), (path = its), (s3 = client)));
  beforeEach(async function () {
    runner = await startNamespaceRunner(ns, { reconcilers: ['Backup'] });
  });
  afterEach(async function () {
    await runner?.stop();
    runner = undefined;
  });

  /** The Cluster db of the standalone server on `bucket`, with objectLock GOVERNANCE 1 day. */
  async function lockedCluster(bucket: string, retention?: object): Promise<void> {
    await createStackSecrets(ns);
    const cluster = stackCluster('db', 'standalone', {
      ...minioStore(path),
      bucket,
      objectLock: { mode: 'GOVERNANCE', days: 1 },
    });
    if (retention) (cluster.spec as { backup: Record<string, unknown> }).backup['retention'] = retention;
    await ns.create('clusters', cluster);
  }

  it('GOVERNANCE 1 day: HeadObject shows the mode and retain-until date on the archive and metadata.json, as the status records', async function () {
    await lockedCluster(lockBucket);
    const started = Date.now();
    const status = await backUp(ns, 'b1');
    assert.equal(status['phase'], 'completed', JSON.stringify(status));
    const location = status['location'] as Location;
    assert.equal(location.objectLock?.mode, 'GOVERNANCE');
    const recorded = new Date(location.objectLock?.retainUntil ?? '').getTime();
    assert.ok(recorded >= started + DAY_MS - 1000 && recorded <= Date.now() + DAY_MS, `retainUntil ${recorded}`);
    for (const key of [location.archiveKey, location.metadataKey]) {
      const head = await admin.send(new HeadObjectCommand({ Bucket: lockBucket, Key: key }));
      assert.equal(head.ObjectLockMode, 'GOVERNANCE', key);
      assert.ok(
        Math.abs((head.ObjectLockRetainUntilDate?.getTime() ?? 0) - recorded) < 1000,
        `${key}: ${head.ObjectLockRetainUntilDate?.toISOString()}`,
      );
    }
  });

  it('a bucket without Object Lock: the Backup fails UploadFailed naming the bucket, before any dump starts', async function () {
    const bucket = requireVar('S3_BUCKET', 'MinIO');
    await lockedCluster(bucket);
    const status = await backUp(ns, 'b1');
    assert.equal(status['phase'], 'failed', JSON.stringify(status));
    assert.equal(status['reason'], 'UploadFailed');
    assert.match(
      String(status['error']),
      new RegExp(
        `bucket '${bucket}' at \\S+ does not have Object Lock enabled, so objectLock GOVERNANCE 1d cannot be honoured; use a bucket created with Object Lock enabled, or remove spec\\.objectStore\\.objectLock`,
      ),
    );
    assert.equal(status['location'], undefined, 'no dump started: nothing was recorded as written');
    assert.deepEqual(await listKeys(s3, bucket, `${path}/`), []);
  });

  it('retention over a locked backup: the plan says so, nothing of it goes, an Event on the Backup; also when only the store knows the lock', async function () {
    await lockedCluster(lockBucket, { keep: 1 });
    const old = await backUp(ns, 'b1');
    assert.equal((await backUp(ns, 'b2'))['phase'], 'completed');
    const location = old['location'] as Location;
    const until = location.objectLock?.retainUntil ?? '';

    const plan = retentionPlan(ns);
    assert.match(
      plan,
      new RegExp(
        `\\nkeep\\s+b1\\s+\\S+\\s+completed\\s+kept: under Object Lock until ${until.replace(/\./g, '\\.')} \\(beyond keep 1 \\(2nd newest\\)\\); retention removes it after that\\n`,
      ),
    );

    const client = new KubeClient(kube().config, { fieldManager: 'lifeboat-runner' });
    const log = createLogger('object-lock-e2e');
    const reconciler = retentionReconciler({ kube: client, events: new EventRecorder(client, { log }), log });
    assert.deepEqual(await reconciler.reconcile(ns.name, 'db'), { requeueAfterMs: 600_000 });
    assert.ok(await ns.get('backups', 'b1'), 'the Backup stays');
    const events = await backupEvents(ns, 'b1');
    assert.ok(
      events.includes(
        `Normal RetentionLocked: retention (keep 1) would remove this backup (beyond keep 1 (2nd newest)), but its objects are under Object Lock until ${until}; the Backup and its objects stay until then`,
      ),
      events.join('\n'),
    );

    // A lock the Backup did not record (a bucket's default retention): the store is asked before any delete.
    await ns.patchStatus('backups', 'b1', { location: { ...location, objectLock: null } });
    await reconciler.reconcile(ns.name, 'db');
    assert.ok(await ns.get('backups', 'b1'), 'the Backup stays');
    for (const key of [location.archiveKey, location.metadataKey]) {
      const head = await admin.send(new HeadObjectCommand({ Bucket: lockBucket, Key: key }));
      assert.equal(head.ObjectLockMode, 'GOVERNANCE', `${key} is still there, not hidden by a delete marker`);
    }
    const later = await backupEvents(ns, 'b1');
    assert.ok(
      later.some((e) => /^Normal RetentionLocked: .*but its objects are under Object Lock until /.test(e)),
      later.join('\n'),
    );
  });
});
