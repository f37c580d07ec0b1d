// The job executor: each worker runs as a Kubernetes Job (worker-job.ts), so the runner never holds
// database or object store credentials nor touches payload bytes. Jobs are not watched: the
// reconciler looks at running work's Job again every liveness interval.
import { labelSelectorQuery, type LabelSelectorQuery } from '../../lib/label-selector.js';
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import type { Cluster, LifeboatKind } from '../../crds/kinds.js';
import { KubeApiError, KubeConflictError } from '../../lib/kube-client.js';
import { ClusterNotFoundError, NamespaceNotEnabledError } from '../work-failures.js';
import { buildWorkerJob, workerJobName, type WorkerJobOptions } from './worker-job.js';
import {
  describeWork,
  type Executor,
  type StartedWorker,
  type WorkerExit,
  type WorkerState,
  type WorkItem,
  type WorkKind,
  type WorkRef,
} from './executor.js';

export interface JobApi {
  getLifeboat(kind: LifeboatKind, namespace: string, name: string): Promise<unknown>;
  createJob(namespace: string, job: V1Job): Promise<void>;
  readJob(namespace: string, name: string): Promise<V1Job | undefined>;
  listPods(namespace: string, labelSelector: LabelSelectorQuery): Promise<V1Pod[]>;
  deleteJob(namespace: string, name: string): Promise<void>;
}

/** A pod that has waited this long to run its worker is judged stuck. */
export const STUCK_POD_MS = 10 * 60_000;

// Waiting reasons the kubelet keeps retrying but that rarely mend by themselves: a wrong image, a
// missing Secret key, a bad command. Within STUCK_POD_MS a registry hiccup still gets its retry.
const STUCK_WAITING = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'CreateContainerConfigError',
  'CreateContainerError',
]);

function detail(...parts: (string | undefined)[]): string {
  return parts.filter((x) => x).join(': ');
}

/** Why this pod cannot run its worker, whatever its age. */
function podTrouble(pod: V1Pod): string | undefined {
  const name = pod.metadata?.name ?? '(unnamed)';
  const waiting = (pod.status?.containerStatuses ?? [])
    .map((c) => c.state?.waiting)
    .find((w) => w?.reason && STUCK_WAITING.has(w.reason));
  if (waiting) return `its pod ${name} cannot start (${detail(waiting.reason, waiting.message)})`;
  const unscheduled = (pod.status?.conditions ?? []).find((c) => c.type === 'PodScheduled' && c.status === 'False');
  if (unscheduled)
    return `its pod ${name} has not been scheduled (${detail(unscheduled.reason, unscheduled.message) || 'no node fits'})`;
  return undefined;
}

/** Why a pod of the Job cannot run its worker, once it has been so for STUCK_POD_MS; else undefined. */
export function stuckPod(pods: readonly V1Pod[], now: number): string | undefined {
  for (const pod of pods) {
    const created = pod.metadata?.creationTimestamp ? new Date(pod.metadata.creationTimestamp).getTime() : NaN;
    const trouble = now - created >= STUCK_POD_MS ? podTrouble(pod) : undefined;
    if (trouble) return trouble;
  }
  return undefined;
}

/** What a Job's status says about its worker. */
export function jobState(job: V1Job | undefined, name: string, kind: WorkKind = 'backup'): WorkerState {
  if (!job) return { state: 'missing', why: `the ${kind} Job ${name} does not exist (never created, or deleted)` };
  const conditions = job.status?.conditions ?? [];
  const failed = conditions.find((c) => c.type === 'Failed' && c.status === 'True');
  if (failed) {
    const detail = [failed.reason, failed.message].filter((s) => s).join(': ');
    return { state: 'gone', why: `the ${kind} Job ${name} failed${detail ? ` (${detail})` : ''} before finishing` };
  }
  if (conditions.some((c) => c.type === 'Complete' && c.status === 'True')) {
    return { state: 'gone', why: `the ${kind} Job ${name} completed without recording the outcome` };
  }
  return { state: 'alive' };
}

export class JobExecutor implements Executor {
  readonly kind = 'job';
  // The Job's name is derived from the Backup and a second create answers 409: starting again is safe.
  readonly restartable = true;

  constructor(
    private readonly api: JobApi,
    private readonly options: WorkerJobOptions,
    private readonly now: () => number = Date.now,
  ) {}

  plannedJobName(work: WorkItem): string {
    return workerJobName(work);
  }

  async start(work: WorkItem): Promise<StartedWorker> {
    const { namespace, clusterName } = work;
    const cluster = (await this.api.getLifeboat('Cluster', namespace, clusterName)) as Cluster | undefined;
    if (!cluster) {
      throw new ClusterNotFoundError(
        `${describeWork(work)}: Cluster ${clusterName} not found in namespace ${namespace}; create it or fix spec.cluster.name`,
      );
    }
    const job = buildWorkerJob(work, cluster, this.options);
    const jobName = job.metadata?.name ?? workerJobName(work);
    try {
      await this.api.createJob(namespace, job);
    } catch (err) {
      // Created by an earlier attempt of this same claim: the Job is deterministic, so it is ours.
      if (err instanceof KubeConflictError) return { jobName, description: `Job ${jobName}` };
      // Retrying a 403 only fills the runner's log: nothing changes until someone enables the namespace.
      if (err instanceof KubeApiError && err.code === 403) {
        throw new NamespaceNotEnabledError(
          `${describeWork(work)}: namespace ${namespace} is not enabled for Lifeboat workers, so the runner may not create its worker Job there (${err.message}); enable it: apply deploy/kustomize/worker-namespace with namespace: ${namespace}, or add ${namespace} to the Helm chart's workerNamespaces (docs/install.md)`,
          { cause: err },
        );
      }
      throw err;
    }
    return { jobName, description: `Job ${jobName}` };
  }

  async isAlive(backup: WorkRef, jobName: string): Promise<WorkerState> {
    const job = await this.api.readJob(backup.namespace, jobName);
    const state = jobState(job, jobName, backup.kind);
    if (state.state !== 'alive') return state;
    // A Job whose pod never starts is active until its deadline, hours away: judge the pod too.
    const pods = await this.api.listPods(
      backup.namespace,
      labelSelectorQuery({ matchLabels: { 'job-name': jobName } }),
    );
    const stuck = stuckPod(pods, this.now()) ?? this.noPodMade(job, pods, backup.namespace, jobName);
    if (!stuck) return state;
    return {
      state: 'gone',
      why: `the ${backup.kind} Job ${jobName} never ran: ${stuck}; fix it (the worker image, its Secrets, resources)`,
      // Left alone, the pod could still start once its image or Secret appears, long after its
      // Backup was failed.
      lingering: true,
    };
  }

  /**
   * The Job controller could not create the pod (a missing service account, a quota, an admission
   * policy refusing it): it says so only in the Job's Events, which the runner does not read.
   */
  private noPodMade(
    job: V1Job | undefined,
    pods: readonly V1Pod[],
    namespace: string,
    jobName: string,
  ): string | undefined {
    if (pods.length > 0 || (job?.status?.active ?? 0) > 0) return undefined;
    const created = job?.metadata?.creationTimestamp ? new Date(job.metadata.creationTimestamp).getTime() : NaN;
    if (!(this.now() - created >= STUCK_POD_MS)) return undefined;
    return `it has created no pod in ${STUCK_POD_MS / 60_000} minutes (kubectl -n ${namespace} describe job ${jobName} says why: often the service account lifeboat-worker is missing, the namespace is not enabled, or an admission policy refuses the pod)`;
  }

  async stop(backup: WorkRef, jobName: string): Promise<void> {
    await this.api.deleteJob(backup.namespace, jobName);
  }

  async hasStopped(work: WorkRef, jobName: string): Promise<boolean> {
    const job = await this.api.readJob(work.namespace, jobName);
    if (job && jobState(job, jobName, work.kind).state === 'alive') return false;
    // The Job deleted in the background: its pod still runs its grace period (the worker aborts its upload).
    const pods = await this.api.listPods(work.namespace, labelSelectorQuery({ matchLabels: { 'job-name': jobName } }));
    return pods.every((pod) => pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed');
  }

  onExit(_listener: (exit: WorkerExit) => void): void {
    // Jobs are polled (see the file comment), so there is nothing to subscribe to.
  }

  close(): void {
    // Jobs run on in the cluster; nothing is held here.
  }
}
