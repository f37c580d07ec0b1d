// The job executor against a fake Job API: what it creates, and how it reads a Job's status.
import assert from 'node:assert/strict';
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { KubeApiError, KubeConflictError } from '../../../lib/kube-client.js';
import { backupWork, type StoredBackup } from '../../../runner/executors/executor.js';
import { JobExecutor, jobState, stuckPod, type JobApi } from '../../../runner/executors/job-executor.js';
import { ClusterNotFoundError, NamespaceNotEnabledError } from '../../../runner/work-failures.js';

const BACKUP: StoredBackup = {
  apiVersion: 'lifeboat.dev/v1alpha1',
  kind: 'Backup',
  metadata: { name: 'nightly', namespace: 'prod', uid: 'u1' },
  spec: { cluster: { name: 'shop' } },
};
const CLUSTER = {
  metadata: { name: 'shop', namespace: 'prod' },
  spec: { credentials: { secretRef: { name: 'shop-db' } } },
};

class FakeJobApi implements JobApi {
  readonly created: V1Job[] = [];
  cluster: unknown = CLUSTER;
  exists = false;
  createRefusal: Error | undefined;

  async getLifeboat(): Promise<unknown> {
    return this.cluster;
  }

  async createJob(_ns: string, job: V1Job): Promise<void> {
    if (this.exists) throw new KubeConflictError('create Job: already exists', 409);
    if (this.createRefusal) throw this.createRefusal;
    this.created.push(job);
  }

  job: V1Job | undefined;
  pods: V1Pod[] = [];
  selectors: string[] = [];

  async readJob(): Promise<V1Job | undefined> {
    return this.job;
  }

  async listPods(_ns: string, selector: string): Promise<V1Pod[]> {
    this.selectors.push(selector);
    return this.pods;
  }

  readonly deleted: string[] = [];

  async deleteJob(namespace: string, name: string): Promise<void> {
    this.deleted.push(`${namespace}/${name}`);
  }
}

const NOW = Date.parse('2026-11-30T12:00:00Z');
const minutesAgo = (m: number): Date => new Date(NOW - m * 60_000);

function waitingPod(reason: string, createdMinutesAgo: number, message = ''): V1Pod {
  return {
    metadata: { name: 'lifeboat-backup-nightly-x7k2p', creationTimestamp: minutesAgo(createdMinutesAgo) },
    status: {
      containerStatuses: [
        {
          name: 'worker',
          image: 'x',
          imageID: '',
          ready: false,
          restartCount: 0,
          state: { waiting: { reason, message } },
        },
      ],
    },
  };
}

describe('job executor (fake Job API)', () => {
  it('creates the Job named as planned in the claim', async () => {
    const api = new FakeJobApi();
    const executor = new JobExecutor(api, { image: 'lifeboat:dev' });
    const started = await executor.start(backupWork(BACKUP));
    assert.equal(started.jobName, executor.plannedJobName(backupWork(BACKUP)));
    assert.equal(api.created[0]?.metadata?.name, started.jobName);
  });

  it('takes a Job that already exists as its own (a retried start)', async () => {
    const api = new FakeJobApi();
    api.exists = true;
    await new JobExecutor(api, { image: 'lifeboat:dev' }).start(backupWork(BACKUP));
  });

  it('fails with ClusterNotFound when the Cluster is missing', async () => {
    const api = new FakeJobApi();
    api.cluster = undefined;
    await assert.rejects(
      new JobExecutor(api, { image: 'lifeboat:dev' }).start(backupWork(BACKUP)),
      ClusterNotFoundError,
    );
  });

  it('a namespace where the runner may not create Jobs fails the work at once, naming how to enable it', async () => {
    const api = new FakeJobApi();
    api.createRefusal = new KubeApiError(
      'create Job prod/lifeboat-backup-nightly: jobs.batch "lifeboat-backup-nightly" is forbidden: User "system:serviceaccount:lifeboat-system:lifeboat-runner" cannot create resource "jobs" in API group "batch" in the namespace "prod"',
      403,
    );
    const err = await new JobExecutor(api, { image: 'lifeboat:dev' }).start(backupWork(BACKUP)).then(
      () => assert.fail('start succeeded'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof NamespaceNotEnabledError, `not NamespaceNotEnabledError: ${String(err)}`);
    assert.equal(err.reason, 'NamespaceNotEnabled');
    assert.match(err.message, /namespace prod is not enabled for Lifeboat workers/);
    assert.match(err.message, /deploy\/kustomize\/worker-namespace/);
    assert.match(err.message, /workerNamespaces/);
    assert.match(err.message, /cannot create resource "jobs"/, "the API server's words are kept");
  });

  it('another refusal creating the Job (an API hiccup) is thrown as it is, to be retried', async () => {
    const api = new FakeJobApi();
    api.createRefusal = new KubeApiError('create Job prod/x: etcdserver: request timed out', 500);
    await assert.rejects(
      new JobExecutor(api, { image: 'lifeboat:dev' }).start(backupWork(BACKUP)),
      (e: unknown) => e instanceof KubeApiError && e.code === 500,
    );
  });

  it('jobState: not there (yet), failed, completed without outcome, running', () => {
    assert.equal(jobState(undefined, 'j').state, 'missing');
    const failed = jobState(
      { status: { conditions: [{ type: 'Failed', status: 'True', reason: 'DeadlineExceeded', message: 'too slow' }] } },
      'j',
    );
    assert.deepEqual(failed, {
      state: 'gone',
      why: 'the backup Job j failed (DeadlineExceeded: too slow) before finishing',
    });
    assert.equal(jobState({ status: { conditions: [{ type: 'Complete', status: 'True' }] } }, 'j').state, 'gone');
    assert.deepEqual(jobState({ status: { active: 1 } }, 'j'), { state: 'alive' });
  });

  it('a Job that has made no pod in 10 minutes (no service account, an admission policy) is judged gone, saying where to look', async () => {
    const api = new FakeJobApi();
    const ref = { kind: 'backup', namespace: 'prod', name: 'nightly' } as const;
    const executor = new JobExecutor(api, { image: 'lifeboat:0.1.0' }, () => NOW);
    api.job = { metadata: { creationTimestamp: minutesAgo(9) }, status: {} };
    assert.deepEqual(await executor.isAlive(ref, 'lifeboat-backup-nightly'), { state: 'alive' }, 'within 10 minutes');
    api.job = { metadata: { creationTimestamp: minutesAgo(11) }, status: {} };
    const judged = await executor.isAlive(ref, 'lifeboat-backup-nightly');
    assert.equal(judged.state, 'gone');
    assert.ok(judged.state === 'gone' && judged.lingering === true, 'stopped, so a pod made later does not run');
    assert.match(judged.state === 'gone' ? judged.why : '', /has created no pod in 10 minutes/);
    assert.match(judged.state === 'gone' ? judged.why : '', /kubectl -n prod describe job lifeboat-backup-nightly/);
    assert.match(judged.state === 'gone' ? judged.why : '', /service account lifeboat-worker/);
  });

  it('a Job whose pod cannot pull its image for 10 minutes is judged gone, saying why and what to fix', async () => {
    const api = new FakeJobApi();
    api.job = { status: { active: 1 } };
    api.pods = [waitingPod('ImagePullBackOff', 11, 'Back-off pulling image "lifeboat:0.1.0"')];
    const executor = new JobExecutor(api, { image: 'lifeboat:0.1.0' }, () => NOW);
    assert.deepEqual(
      await executor.isAlive(
        { kind: 'backup', namespace: 'prod', name: 'nightly' } as const,
        'lifeboat-backup-nightly',
      ),
      {
        state: 'gone',
        why: 'the backup Job lifeboat-backup-nightly never ran: its pod lifeboat-backup-nightly-x7k2p cannot start (ImagePullBackOff: Back-off pulling image "lifeboat:0.1.0"); fix it (the worker image, its Secrets, resources)',
        lingering: true,
      },
    );
    assert.deepEqual(api.selectors, ['job-name=lifeboat-backup-nightly']);
  });

  it('a pod still within its 10 minutes, or merely running, leaves the Job alive', async () => {
    const api = new FakeJobApi();
    api.job = { status: { active: 1 } };
    const executor = new JobExecutor(api, { image: 'lifeboat:0.1.0' }, () => NOW);
    api.pods = [waitingPod('ErrImagePull', 3)];
    assert.deepEqual(await executor.isAlive({ kind: 'backup', namespace: 'prod', name: 'nightly' } as const, 'j'), {
      state: 'alive',
    });
    api.pods = [waitingPod('ContainerCreating', 30)];
    assert.deepEqual(await executor.isAlive({ kind: 'backup', namespace: 'prod', name: 'nightly' } as const, 'j'), {
      state: 'alive',
    });
  });

  it('stop deletes the Job (its pods go with it); a failed Job is judged gone but not lingering', async () => {
    const api = new FakeJobApi();
    const executor = new JobExecutor(api, { image: 'lifeboat:0.1.0' }, () => NOW);
    await executor.stop({ kind: 'backup', namespace: 'prod', name: 'nightly' } as const, 'lifeboat-backup-nightly');
    assert.deepEqual(api.deleted, ['prod/lifeboat-backup-nightly']);
    api.job = { status: { conditions: [{ type: 'Failed', status: 'True', reason: 'DeadlineExceeded' }] } };
    const failed = await executor.isAlive({ kind: 'backup', namespace: 'prod', name: 'nightly' } as const, 'j');
    assert.equal(failed.state, 'gone');
    assert.ok(!('lingering' in failed), 'a failed Job is kept for its logs');
  });

  it('hasStopped: not while the Job runs, nor while a pod of a deleted Job still runs its grace period', async () => {
    const api = new FakeJobApi();
    const executor = new JobExecutor(api, { image: 'lifeboat:0.1.0' }, () => NOW);
    const ref = { kind: 'backup', namespace: 'prod', name: 'nightly' } as const;
    api.job = { status: { active: 1 } };
    assert.equal(await executor.hasStopped(ref, 'j'), false, 'the Job runs');
    api.job = undefined;
    api.pods = [{ metadata: { name: 'j-x' }, status: { phase: 'Running' } }];
    assert.equal(await executor.hasStopped(ref, 'j'), false, 'deleted, its pod still stopping');
    api.pods = [{ metadata: { name: 'j-x' }, status: { phase: 'Failed' } }];
    assert.equal(await executor.hasStopped(ref, 'j'), true);
    api.pods = [];
    assert.equal(await executor.hasStopped(ref, 'j'), true);
    assert.deepEqual(api.selectors.slice(-1), ['job-name=j']);
  });

  it('stuckPod: a missing Secret key, and a pod no node takes', () => {
    assert.match(
      stuckPod(
        [waitingPod('CreateContainerConfigError', 12, "couldn't find key password in Secret prod/shop-db")],
        NOW,
      ) ?? '',
      /cannot start \(CreateContainerConfigError: couldn't find key password/,
    );
    const unschedulable: V1Pod = {
      metadata: { name: 'p', creationTimestamp: minutesAgo(20) },
      status: {
        conditions: [
          {
            type: 'PodScheduled',
            status: 'False',
            reason: 'Unschedulable',
            message: '0/3 nodes are available: 3 Insufficient memory.',
          },
        ],
      },
    };
    assert.equal(
      stuckPod([unschedulable], NOW),
      'its pod p has not been scheduled (Unschedulable: 0/3 nodes are available: 3 Insufficient memory.)',
    );
    assert.equal(stuckPod([], NOW), undefined);
  });
});
