// The job executor against the real API server: the Job it renders is accepted as it is (schema,
// owner reference, credentials only as secretKeyRef), racing runners make one Job, and a Job the
// Job controller failed, or whose pod cannot pull its image, fails the Backup with that reason.
// With the stack's node (LIFEBOAT_NODE=1) the real Job controller and kubelet write those
// statuses: the Job's deadline is shortened so that the controller fails it, and its pod really
// cannot pull the image. Without the node no pod ever runs, so the test writes the Job's and the
// pod's status itself, as those controllers would.
import assert from 'node:assert/strict';
import { BatchV1Api, PatchStrategy, setHeaderOptions, type V1Job, type V1Pod } from '@kubernetes/client-node';
import pino from 'pino';
import { KubeClient } from '../lib/kube-client.js';
import { WORKER_ENV } from '../runner/worker/worker-env.js';
import { JobExecutor, STUCK_POD_MS } from '../runner/executors/job-executor.js';
import { BackupReconciler } from '../runner/backups/backup-reconciler.js';
import { EventRecorder } from '../runner/status/event-recorder.js';
import { kube, namespacePerTest, type TestNamespace } from './support/kube.js';
import { backupOf, createStackSecrets, minioStore, stackCluster } from './support/stack-objects.js';
import { eventually } from './support/eventually.js';
import { requireVar, stackEnv, withoutStackRunner } from './support/stack.js';

const log = pino({ level: process.env['LIFEBOAT_LOG_LEVEL'] ?? 'silent' });
const IMAGE = 'registry.invalid/lifeboat:e2e';
/** The stack runs a node: a Job controller, a garbage collector and a kubelet act on the Jobs. */
const withNode = (): boolean => stackEnv().LIFEBOAT_NODE === '1';

function reconciler(identity: string, now: () => number = Date.now): BackupReconciler {
  const client = new KubeClient(kube().config, { fieldManager: 'lifeboat-runner' });
  return new BackupReconciler({
    client,
    executor: new JobExecutor(client, { image: IMAGE }, now),
    events: new EventRecorder(client, { log }),
    log,
    identity,
  });
}

function batch(): BatchV1Api {
  return kube().config.makeApiClient(BatchV1Api);
}

async function statusOf(ns: TestNamespace, name: string): Promise<Record<string, unknown>> {
  return (await ns.get('backups', name)).status ?? {};
}

describe('job executor on a real API server (the Job controller: the node’s, or played by the test)', function () {
  this.timeout(60_000);
  withoutStackRunner();
  let ns: TestNamespace;
  namespacePerTest((created) => (ns = created));

  beforeEach(async function () {
    await createStackSecrets(ns);
    await ns.create('clusters', stackCluster('db', 'standalone', minioStore(`e2e/${ns.name}`)));
  });

  it('the API server accepts the Job as rendered: owned by the Backup, credentials only by secretKeyRef', async function () {
    const backup = await ns.create('backups', backupOf('b1', 'db', { method: 'mariadb-dump' }));
    await reconciler('runner-a').reconcile(ns.name, 'b1');
    const status = await statusOf(ns, 'b1');
    assert.equal(status['phase'], 'running');
    const jobName = String(status['jobName']);
    assertRendered(
      await batch().readNamespacedJob({ namespace: ns.name, name: jobName }),
      backup.metadata.uid,
      ns.name,
    );
    const conditions = (status['conditions'] ?? []) as { type: string; message: string }[];
    assert.match(conditions.find((c) => c.type === 'WorkerRunning')?.message ?? '', new RegExp(`Job ${jobName}`));
  });

  it('two runners racing on a new Backup make one Job between them', async function () {
    await ns.create('backups', backupOf('b1', 'db'));
    await Promise.all([
      reconciler('runner-a').reconcile(ns.name, 'b1'),
      reconciler('runner-b').reconcile(ns.name, 'b1'),
    ]);
    const jobs = await batch().listNamespacedJob({ namespace: ns.name });
    assert.equal(jobs.items.length, 1);
    assert.equal((await statusOf(ns, 'b1'))['jobName'], jobs.items[0]?.metadata?.name);
  });

  it('a Job the controller failed (deadline exceeded) fails the Backup with its reason', async function () {
    await ns.create('backups', backupOf('b1', 'db'));
    const runner = reconciler('runner-a');
    await runner.reconcile(ns.name, 'b1');
    const jobName = String((await statusOf(ns, 'b1'))['jobName']);
    const again = await runner.reconcile(ns.name, 'b1');
    assert.equal(again.result.next, 'requeue', 'a Job with no outcome yet counts as running');
    await failJob(ns.name, jobName);
    await eventually('the Job to have failed', async () =>
      (await batch().readNamespacedJob({ namespace: ns.name, name: jobName })).status?.conditions?.some(
        (c) => c.type === 'Failed' && c.status === 'True',
      )
        ? true
        : undefined,
    );
    await runner.reconcile(ns.name, 'b1');
    const status = await statusOf(ns, 'b1');
    assert.equal(status['phase'], 'failed');
    assert.equal(status['reason'], 'DumpFailed');
    assert.equal(
      status['error'],
      `the backup Job ${jobName} failed (DeadlineExceeded: Job was active longer than specified deadline) before finishing; apply a new Backup to try again`,
    );
  });

  it('a Job whose pod cannot pull its image for 10 minutes fails the Backup with the pod’s reason, and is deleted', async function () {
    this.timeout(180_000); // with the node: until the kubelet has tried to pull the image
    await ns.create('backups', backupOf('b1', 'db'));
    await reconciler('runner-a').reconcile(ns.name, 'b1');
    const jobName = String((await statusOf(ns, 'b1'))['jobName']);
    const pod = await stuckPodOf(ns.name, jobName);
    // The pod was made just now; the runner is told it is 10 minutes later.
    await reconciler('runner-a', () => Date.now() + STUCK_POD_MS + 60_000).reconcile(ns.name, 'b1');
    const status = await statusOf(ns, 'b1');
    assert.equal(status['phase'], 'failed');
    assert.match(
      String(status['error']),
      new RegExp(
        `^the backup Job ${jobName} never ran: its pod ${pod} cannot start \\((ErrImagePull|ImagePullBackOff): `,
      ),
    );
    assert.ok(String(status['error']).includes(`"${IMAGE}"`), 'the error names the image');
    // Deleted so that it cannot start after all once the image appears; its pod goes with it
    // (through the garbage collector, when the stack runs one).
    const jobs = await batch().listNamespacedJob({ namespace: ns.name });
    assert.deepEqual(
      jobs.items.map((j) => j.metadata?.name),
      [],
    );
    if (withNode())
      await eventually('the garbage collector to delete the Job’s pod', async () => {
        const pods = await kube().core.listNamespacedPod({ namespace: ns.name, labelSelector: `job-name=${jobName}` });
        return pods.items.length === 0 ? true : undefined;
      });
  });
});

/** The Job as the runner rendered it, stored by the API server: owner, limits, command, credentials. */
function assertRendered(job: V1Job, backupUid: string | undefined, namespace: string): void {
  assert.deepEqual(
    job.metadata?.ownerReferences?.map((o) => [o.kind, o.name, o.uid, o.controller]),
    [['Backup', 'b1', backupUid, true]],
  );
  assert.equal(job.spec?.backoffLimit, 0);
  assert.equal(job.spec?.activeDeadlineSeconds, 6 * 60 * 60);
  const container = job.spec?.template.spec?.containers[0];
  assert.equal(container?.image, IMAGE);
  assert.deepEqual(container?.args, ['worker', 'backup', `${namespace}/b1`, '--uid', backupUid]);
  const fromSecrets = (container?.env ?? []).filter((e) => e.valueFrom?.secretKeyRef).map((e) => e.name);
  assert.deepEqual(
    fromSecrets.sort(),
    Object.values(WORKER_ENV)
      // The Cluster sets no session token and no spec.credentials.tls.
      .filter((n) => !n.includes('SESSION') && !n.includes('_TLS_'))
      .sort(),
  );
  const text = JSON.stringify(job);
  for (const secret of [requireVar('MARIADB_PASSWORD', 'MariaDB'), requireVar('S3_SECRET_KEY', 'MinIO')]) {
    assert.ok(!text.includes(secret), 'no credential value in the Job');
  }
}

/**
 * With the node: the deadline shortened to 1 s, so that the Job controller fails the Job. Without:
 * what the Job controller writes when activeDeadlineSeconds passes.
 */
async function failJob(namespace: string, name: string): Promise<void> {
  if (withNode()) {
    await batch().patchNamespacedJob(
      { namespace, name, body: { spec: { activeDeadlineSeconds: 1 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    return;
  }
  const job = await batch().readNamespacedJob({ namespace, name });
  const now = new Date();
  const why = { reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' };
  const body: V1Job = {
    ...job,
    status: {
      startTime: new Date(now.getTime() - 1000),
      failed: 1,
      conditions: [
        { type: 'FailureTarget', status: 'True', lastProbeTime: now, lastTransitionTime: now, ...why },
        { type: 'Failed', status: 'True', lastProbeTime: now, lastTransitionTime: now, ...why },
      ],
    },
  };
  await batch().replaceNamespacedJobStatus({ namespace, name, body });
}

/** The kubelet cannot pull the pod's image (it retries, and backs off between tries). */
function cannotPull(pod: V1Pod): boolean {
  const reason = pod.status?.containerStatuses?.[0]?.state?.waiting?.reason;
  return reason === 'ErrImagePull' || reason === 'ImagePullBackOff';
}

/**
 * The name of the Job's pod that cannot pull its image: with the node, the pod the Job controller
 * made, once the kubelet reports it; without, one written here as the kubelet would report it.
 */
async function stuckPodOf(namespace: string, jobName: string): Promise<string> {
  if (withNode()) {
    return eventually(
      'the kubelet to report that the Job’s pod cannot pull its image',
      async () => {
        const pods = await kube().core.listNamespacedPod({ namespace, labelSelector: `job-name=${jobName}` });
        return pods.items.find(cannotPull)?.metadata?.name;
      },
      120_000,
    );
  }
  const name = `${jobName}-x7k2p`;
  const job = await batch().readNamespacedJob({ namespace, name: jobName });
  const pod = await kube().core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name, labels: { 'job-name': jobName, 'batch.kubernetes.io/job-name': jobName } },
      spec: job.spec?.template.spec ?? { containers: [] },
    },
  });
  const waiting = { reason: 'ImagePullBackOff', message: `Back-off pulling image "${IMAGE}"` };
  await kube().core.replaceNamespacedPodStatus({
    namespace,
    name,
    body: {
      ...pod,
      status: {
        phase: 'Pending',
        containerStatuses: [
          { name: 'worker', image: IMAGE, imageID: '', ready: false, restartCount: 0, state: { waiting } },
        ],
      },
    },
  });
  return name;
}
