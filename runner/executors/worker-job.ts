// The Job that runs one worker in the cluster, for every kind of work: a pure function of the work,
// its Cluster and the runner's options. Credentials reach only this short-lived pod, as environment variables
// read by the kubelet from the Secrets (secretKeyRef); their values never pass through the runner.
import { createHash } from 'node:crypto';
import type { V1Container, V1EnvVar, V1Job, V1ResourceRequirements } from '@kubernetes/client-node';
import { API_VERSION, GROUP, LABEL_CLUSTER } from '../../crds/api-constants.js';
import type { Cluster } from '../../crds/kinds.js';
import { TLS_SECRET_KEYS, WORKER_ENV } from '../worker/worker-env.js';
import { describeWork, WORK_OBJECT_KIND, WORKER_MEMORY_ENV, workerArgs, type WorkItem } from './executor.js';

export interface WorkerJobOptions {
  /** The Lifeboat image: the same binary as the runner. */
  readonly image: string;
  /** The program in the image; default `lifeboat`. */
  readonly command?: readonly string[];
  readonly imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** Needs get/patch on backups/status and get on clusters of its namespace. */
  readonly serviceAccountName?: string;
  /** The Job is stopped after this long. Default 6 hours. */
  readonly activeDeadlineSeconds?: number;
  /** A finished Job (and its pod) is removed after this long. Default 1 day. */
  readonly ttlSecondsAfterFinished?: number;
  readonly resources?: V1ResourceRequirements;
  /**
   * Default 65532 (the image's user). `cluster` sets no user or group, for clusters that assign
   * them and refuse pods naming others (OpenShift's restricted SCC).
   */
  readonly runAsUser?: number | 'cluster';
  /** More environment for the worker: the runner's allowlists (runner/worker/worker-allowlists.ts). */
  readonly env?: Readonly<Record<string, string>>;
}

/** `lifeboat.dev/backup`, `lifeboat.dev/restore`, `lifeboat.dev/bootstrap`: the work's name. */
export function workLabel(work: Pick<WorkItem, 'kind'>): string {
  return `${GROUP}/${work.kind}`;
}
export const DEFAULT_RESOURCES: V1ResourceRequirements = {
  requests: { cpu: '100m', memory: '256Mi' },
  limits: { memory: '1Gi' },
};

const LABEL_VALUE_MAX = 63;
const TERMINATION_GRACE_SECONDS = 11 * 60;
/**
 * `lifeboat-<kind>-<name>-<hash>`, at most 63 characters (Job names become label values). The hash
 * of namespace, name and uid keeps two resources whose names share a long prefix apart.
 */
export function workerJobName(work: WorkItem): string {
  const { namespace, name } = work;
  const prefix = `lifeboat-${work.kind}-`;
  const hash = createHash('sha256')
    .update(`${namespace}/${name}/${work.uid ?? ''}`)
    .digest('hex')
    .slice(0, 8);
  const room = LABEL_VALUE_MAX - prefix.length - hash.length - 1;
  const stem = name.replace(/\./g, '-').slice(0, room).replace(/-+$/, '');
  return `${prefix}${stem}-${hash}`;
}

function fromSecret(env: string, secret: string, key: string): V1EnvVar {
  return { name: env, valueFrom: { secretKeyRef: { name: secret, key } } };
}

function credentialEnv(work: WorkItem, cluster: Cluster): V1EnvVar[] {
  const db = cluster.spec.credentials;
  const env = [
    fromSecret(WORKER_ENV.dbUsername, db.secretRef.name, db.usernameKey ?? 'username'),
    fromSecret(WORKER_ENV.dbPassword, db.secretRef.name, db.passwordKey ?? 'password'),
  ];
  const tls = db.tls;
  if (tls?.caSecretRef) env.push(fromSecret(WORKER_ENV.dbTlsCa, tls.caSecretRef.name, tls.caSecretRef.key));
  if (tls?.clientCertSecretRef) {
    env.push(fromSecret(WORKER_ENV.dbTlsCert, tls.clientCertSecretRef.name, TLS_SECRET_KEYS.cert));
    env.push(fromSecret(WORKER_ENV.dbTlsKey, tls.clientCertSecretRef.name, TLS_SECRET_KEYS.key));
  }
  const s3 = work.objectStore(cluster)?.credentials;
  if (s3) {
    env.push(fromSecret(WORKER_ENV.s3AccessKeyId, s3.accessKeyId.name, s3.accessKeyId.key));
    env.push(fromSecret(WORKER_ENV.s3SecretAccessKey, s3.secretAccessKey.name, s3.secretAccessKey.key));
    if (s3.sessionToken) env.push(fromSecret(WORKER_ENV.s3SessionToken, s3.sessionToken.name, s3.sessionToken.key));
  }
  return env;
}

function labelsOf(work: WorkItem, cluster: Cluster): Record<string, string> {
  const labels: Record<string, string> = {
    'app.kubernetes.io/name': 'lifeboat',
    'app.kubernetes.io/component': `${work.kind}-worker`,
    'app.kubernetes.io/managed-by': 'lifeboat-runner',
    [LABEL_CLUSTER]: cluster.metadata.name ?? work.clusterName,
  };
  // Label values stop at 63 characters; longer names are found through the owner reference.
  if (work.name.length <= LABEL_VALUE_MAX) labels[workLabel(work)] = work.name;
  return labels;
}

function workerContainer(work: WorkItem, cluster: Cluster, options: WorkerJobOptions): V1Container {
  return {
    name: 'worker',
    image: options.image,
    imagePullPolicy: options.imagePullPolicy,
    command: [...(options.command ?? ['lifeboat'])],
    args: workerArgs(work),
    env: [
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      ...Object.entries(WORKER_MEMORY_ENV).map(([name, value]) => ({ name, value })),
      ...credentialEnv(work, cluster),
      ...Object.entries(options.env ?? {}).map(([name, value]) => ({ name, value })),
    ],
    resources: options.resources ?? DEFAULT_RESOURCES,
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
    // The backup tools need scratch space; the root filesystem stays read-only.
    volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
  };
}

/** The Job for one piece of work. Throws when its resource was not read from the API server (no uid). */
export function buildWorkerJob(work: WorkItem, cluster: Cluster, options: WorkerJobOptions): V1Job {
  const uid = work.uid;
  if (!uid) throw new Error(`${describeWork(work)} has no uid; build its Job from the stored object`);
  const labels = labelsOf(work, cluster);
  const runAsUser = options.runAsUser ?? 65532;
  const owner = {
    apiVersion: API_VERSION,
    kind: WORK_OBJECT_KIND[work.kind],
    name: work.name,
    uid,
    controller: true,
    blockOwnerDeletion: true,
  };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: workerJobName(work), namespace: work.namespace, labels, ownerReferences: [owner] },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: options.activeDeadlineSeconds ?? 6 * 60 * 60,
      ttlSecondsAfterFinished: options.ttlSecondsAfterFinished ?? 24 * 60 * 60,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          // On SIGTERM the worker sets wsrep_desync back OFF and waits up to 10 min for Synced
          // before it records the failure; the default 30 s would cut that short.
          terminationGracePeriodSeconds: TERMINATION_GRACE_SECONDS,
          serviceAccountName: options.serviceAccountName,
          securityContext: {
            runAsNonRoot: true,
            ...(runAsUser === 'cluster' ? {} : { runAsUser, runAsGroup: runAsUser }),
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [workerContainer(work, cluster, options)],
          volumes: [{ name: 'tmp', emptyDir: {} }],
        },
      },
    },
  };
}
