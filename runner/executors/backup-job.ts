// The Job that runs one Backup's worker in the cluster: a pure function of the Backup, its Cluster
// and the runner's options. Credentials reach only this short-lived pod, as environment variables
// read by the kubelet from the Secrets (secretKeyRef); their values never pass through the runner.
import { createHash } from 'node:crypto';
import type { V1Container, V1EnvVar, V1Job, V1ResourceRequirements } from '@kubernetes/client-node';
import { API_VERSION, GROUP, LABEL_CLUSTER } from '../../crds/api-constants.js';
import type { Cluster } from '../../crds/kinds.js';
import { refOf, WORKER_MEMORY_ENV, workerArgs, type StoredBackup } from './executor.js';
import { effectiveObjectStore } from '../../crds/object-store-funcs.js';

export interface BackupJobOptions {
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
  /** Default 65532 (the distroless `nonroot` user). */
  readonly runAsUser?: number;
}

/** The environment variables the worker reads its credentials from in a Job. */
export const WORKER_ENV = {
  dbUsername: 'LIFEBOAT_DB_USERNAME',
  dbPassword: 'LIFEBOAT_DB_PASSWORD',
  // Not AWS_*: the SDK's default chain reads those, and would use them for inheritFromIAMRole too.
  s3AccessKeyId: 'LIFEBOAT_S3_ACCESS_KEY_ID',
  s3SecretAccessKey: 'LIFEBOAT_S3_SECRET_ACCESS_KEY',
  s3SessionToken: 'LIFEBOAT_S3_SESSION_TOKEN',
} as const;

export const LABEL_BACKUP = `${GROUP}/backup`;
export const DEFAULT_RESOURCES: V1ResourceRequirements = {
  requests: { cpu: '100m', memory: '256Mi' },
  limits: { memory: '1Gi' },
};

const LABEL_VALUE_MAX = 63;
const TERMINATION_GRACE_SECONDS = 11 * 60;
const JOB_PREFIX = 'lifeboat-backup-';

/**
 * `lifeboat-backup-<name>-<hash>`, at most 63 characters (Job names become label values). The hash
 * of namespace, name and uid keeps two Backups whose names share a long prefix apart.
 */
export function backupJobName(backup: StoredBackup): string {
  const { namespace, name } = refOf(backup);
  const hash = createHash('sha256')
    .update(`${namespace}/${name}/${backup.metadata.uid ?? ''}`)
    .digest('hex')
    .slice(0, 8);
  const room = LABEL_VALUE_MAX - JOB_PREFIX.length - hash.length - 1;
  const stem = name.replace(/\./g, '-').slice(0, room).replace(/-+$/, '');
  return `${JOB_PREFIX}${stem}-${hash}`;
}

function fromSecret(env: string, secret: string, key: string): V1EnvVar {
  return { name: env, valueFrom: { secretKeyRef: { name: secret, key } } };
}

function credentialEnv(backup: StoredBackup, cluster: Cluster): V1EnvVar[] {
  const db = cluster.spec.credentials;
  const env = [
    fromSecret(WORKER_ENV.dbUsername, db.secretRef.name, db.usernameKey ?? 'username'),
    fromSecret(WORKER_ENV.dbPassword, db.secretRef.name, db.passwordKey ?? 'password'),
  ];
  const s3 = effectiveObjectStore(backup, cluster)?.credentials;
  if (s3) {
    env.push(fromSecret(WORKER_ENV.s3AccessKeyId, s3.accessKeyId.name, s3.accessKeyId.key));
    env.push(fromSecret(WORKER_ENV.s3SecretAccessKey, s3.secretAccessKey.name, s3.secretAccessKey.key));
    if (s3.sessionToken) env.push(fromSecret(WORKER_ENV.s3SessionToken, s3.sessionToken.name, s3.sessionToken.key));
  }
  return env;
}

function labelsOf(backup: StoredBackup, cluster: Cluster): Record<string, string> {
  const labels: Record<string, string> = {
    'app.kubernetes.io/name': 'lifeboat',
    'app.kubernetes.io/component': 'backup-worker',
    'app.kubernetes.io/managed-by': 'lifeboat-runner',
    [LABEL_CLUSTER]: cluster.metadata.name ?? backup.spec.cluster.name,
  };
  const name = backup.metadata.name ?? '';
  // Label values stop at 63 characters; longer Backup names are found through the owner reference.
  if (name.length <= LABEL_VALUE_MAX) labels[LABEL_BACKUP] = name;
  return labels;
}

function workerContainer(backup: StoredBackup, cluster: Cluster, options: BackupJobOptions): V1Container {
  return {
    name: 'worker',
    image: options.image,
    imagePullPolicy: options.imagePullPolicy,
    command: [...(options.command ?? ['lifeboat'])],
    args: workerArgs(refOf(backup)),
    env: [
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      ...Object.entries(WORKER_MEMORY_ENV).map(([name, value]) => ({ name, value })),
      ...credentialEnv(backup, cluster),
    ],
    resources: options.resources ?? DEFAULT_RESOURCES,
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
    // The backup tools need scratch space; the root filesystem stays read-only.
    volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
  };
}

/** The Job for one Backup. Throws when the Backup was not read from the API server (no uid). */
export function buildBackupJob(backup: StoredBackup, cluster: Cluster, options: BackupJobOptions): V1Job {
  const ref = refOf(backup);
  const uid = backup.metadata.uid;
  if (!uid) throw new Error(`Backup ${ref.namespace}/${ref.name} has no uid; build its Job from the stored object`);
  const labels = labelsOf(backup, cluster);
  const runAsUser = options.runAsUser ?? 65532;
  const owner = {
    apiVersion: API_VERSION,
    kind: 'Backup',
    name: ref.name,
    uid,
    controller: true,
    blockOwnerDeletion: true,
  };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: backupJobName(backup), namespace: ref.namespace, labels, ownerReferences: [owner] },
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
            runAsUser,
            runAsGroup: runAsUser,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [workerContainer(backup, cluster, options)],
          volumes: [{ name: 'tmp', emptyDir: {} }],
        },
      },
    },
  };
}
