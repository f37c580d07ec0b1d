// The job executor against a fake Job API: what it creates, and how it reads a Job's status.
import assert from 'node:assert/strict';
import type { V1Job } from '@kubernetes/client-node';
import { KubeConflictError } from '../../../lib/kube-client.js';
import type { StoredBackup } from '../../../runner/executors/executor.js';
import { JobExecutor, jobState, type JobApi } from '../../../runner/executors/job-executor.js';
import { ClusterNotFoundError } from '../../../runner/work-failures.js';

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

  async getLifeboat(): Promise<unknown> {
    return this.cluster;
  }

  async createJob(_ns: string, job: V1Job): Promise<void> {
    if (this.exists) throw new KubeConflictError('create Job: already exists', 409);
    this.created.push(job);
  }

  async readJob(): Promise<V1Job | undefined> {
    return undefined;
  }
}

describe('job executor (fake Job API)', () => {
  it('creates the Job named as planned in the claim', async () => {
    const api = new FakeJobApi();
    const executor = new JobExecutor(api, { image: 'lifeboat:dev' });
    const started = await executor.start(BACKUP);
    assert.equal(started.jobName, executor.plannedJobName(BACKUP));
    assert.equal(api.created[0]?.metadata?.name, started.jobName);
  });

  it('takes a Job that already exists as its own (a retried start)', async () => {
    const api = new FakeJobApi();
    api.exists = true;
    await new JobExecutor(api, { image: 'lifeboat:dev' }).start(BACKUP);
  });

  it('fails with ClusterNotFound when the Cluster is missing', async () => {
    const api = new FakeJobApi();
    api.cluster = undefined;
    await assert.rejects(new JobExecutor(api, { image: 'lifeboat:dev' }).start(BACKUP), ClusterNotFoundError);
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
});
