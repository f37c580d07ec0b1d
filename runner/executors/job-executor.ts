// The job executor: each Backup's worker runs as a Kubernetes Job (backup-job.ts), so the runner
// never holds database or object store credentials nor touches payload bytes. Jobs are not
// watched: the reconciler looks at a running Backup's Job again every liveness interval.
import type { V1Job } from '@kubernetes/client-node';
import type { Cluster, LifeboatKind } from '../../crds/kinds.js';
import { KubeConflictError } from '../../lib/kube-client.js';
import { ClusterNotFoundError } from '../work-failures.js';
import { backupJobName, buildBackupJob, type BackupJobOptions } from './backup-job.js';
import {
  refOf,
  type BackupRef,
  type Executor,
  type StartedWorker,
  type StoredBackup,
  type WorkerExit,
  type WorkerState,
} from './executor.js';

export interface JobApi {
  getLifeboat(kind: LifeboatKind, namespace: string, name: string): Promise<unknown>;
  createJob(namespace: string, job: V1Job): Promise<void>;
  readJob(namespace: string, name: string): Promise<V1Job | undefined>;
}

/** What a Job's status says about its worker. */
export function jobState(job: V1Job | undefined, name: string): WorkerState {
  if (!job) return { state: 'missing', why: `the backup Job ${name} does not exist (never created, or deleted)` };
  const conditions = job.status?.conditions ?? [];
  const failed = conditions.find((c) => c.type === 'Failed' && c.status === 'True');
  if (failed) {
    const detail = [failed.reason, failed.message].filter((s) => s).join(': ');
    return { state: 'gone', why: `the backup Job ${name} failed${detail ? ` (${detail})` : ''} before finishing` };
  }
  if (conditions.some((c) => c.type === 'Complete' && c.status === 'True')) {
    return { state: 'gone', why: `the backup Job ${name} completed without recording the outcome` };
  }
  return { state: 'alive' };
}

export class JobExecutor implements Executor {
  readonly kind = 'job';

  constructor(
    private readonly api: JobApi,
    private readonly options: BackupJobOptions,
  ) {}

  plannedJobName(backup: StoredBackup): string {
    return backupJobName(backup);
  }

  async start(backup: StoredBackup): Promise<StartedWorker> {
    const { namespace, name } = refOf(backup);
    const clusterName = backup.spec.cluster.name;
    const cluster = (await this.api.getLifeboat('Cluster', namespace, clusterName)) as Cluster | undefined;
    if (!cluster) {
      throw new ClusterNotFoundError(
        `Backup ${namespace}/${name}: Cluster ${clusterName} not found in namespace ${namespace}; create it or fix spec.cluster.name`,
      );
    }
    const job = buildBackupJob(backup, cluster, this.options);
    const jobName = job.metadata?.name ?? backupJobName(backup);
    try {
      await this.api.createJob(namespace, job);
    } catch (err) {
      // Created by an earlier attempt of this same claim: the Job is deterministic, so it is ours.
      if (!(err instanceof KubeConflictError)) throw err;
    }
    return { jobName, description: `Job ${jobName}` };
  }

  async isAlive(backup: BackupRef, jobName: string): Promise<WorkerState> {
    return jobState(await this.api.readJob(backup.namespace, jobName), jobName);
  }

  onExit(_listener: (exit: WorkerExit) => void): void {
    // Jobs are polled (see the file comment), so there is nothing to subscribe to.
  }

  close(): void {
    // Jobs run on in the cluster; nothing is held here.
  }
}
