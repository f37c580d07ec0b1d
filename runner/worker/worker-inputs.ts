// What the backup worker reads from the API before it plans: the Backup, its Cluster, the Secrets
// the plan and the connections need, and the database pods. Secret values stay in memory here and
// go only to the S3 client and the dump tool's environment.
import type { V1Pod } from '@kubernetes/client-node';
import type { Backup, Cluster, Restore } from '../../crds/kinds.js';
import type { ObjectStoreSpec } from '../../crds/object-store-types.js';
import type { Logger } from '../../lib/logger.js';
import type { StoredSecret } from '../../lib/kube-client.js';
import type { ReadSecretKey, StaticS3Credentials } from '../../lib/s3-client.js';
import { decode } from '../../policies/schema-check.js';
import { WORKER_ENV } from './worker-env.js';
import type { MemberLeaseApi } from './member-lease.js';
import type { SecretInfo } from '../../policies/policy-types.js';
import type { DbCredentials } from '../engine/db-connection.js';
import { clusterInstances, type DbInstance, type PodLike } from '../engine/instance-list.js';
import type { StatusClient } from '../status/status-writer.js';
import type { EventClient } from '../status/event-recorder.js';
import { ConnectionFailedError, UploadFailedError } from '../work-failures.js';

/** The calls a worker makes; the KubeClient has them all, tests pass a fake. */
export interface WorkerKube extends StatusClient, EventClient {
  readSecret(namespace: string, name: string): Promise<StoredSecret | undefined>;
  listPods(namespace: string, labelSelector: string): Promise<V1Pod[]>;
}

/** What every worker runs with, whatever its kind of work. */
export interface WorkerDeps {
  readonly kube: WorkerKube;
  readonly log: Logger;
  /** Aborted on SIGTERM; its reason (a WorkFailure) becomes the work's failure. */
  readonly signal: AbortSignal;
  readonly now?: () => Date;
  /** PATH to find the database tools in; the process's by default. */
  readonly toolPath?: string;
  /** Where a Job's credentials come from (WORKER_ENV); the process's environment by default. */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * The uid of the object the runner claimed (`--uid`): the worker acts for that object only. An
   * object of the same name with another uid is other work; the worker stops without writing.
   */
  readonly uid?: string | undefined;
  /** Coordination Leases: a Galera member is backed up by one Backup at a time (member-lease.ts). */
  readonly leases?: MemberLeaseApi;
}

/** Whether the stored object is the one the worker was started for (any, when no uid was given). */
export function isOwnWork(deps: Pick<WorkerDeps, 'uid'>, stored: { metadata?: { uid?: string } }): boolean {
  return deps.uid === undefined || stored.metadata?.uid === deps.uid;
}

/** The stored object when it still passes its schema, else undefined (it is then judged as missing). */
export function decodeAs<K extends 'Backup' | 'Cluster' | 'Restore'>(
  kind: K,
  stored: unknown,
): Extract<Backup | Cluster | Restore, { kind: K }> | undefined {
  const decoded = decode(stored);
  if (decoded.type !== 'lifeboat' || decoded.object.kind !== kind) return undefined;
  return decoded.object as Extract<Backup | Cluster | Restore, { kind: K }>;
}

function objectStoreSecretNames(store: ObjectStoreSpec | undefined): string[] {
  const c = store?.credentials;
  return [c?.accessKeyId.name, c?.secretAccessKey.name, c?.sessionToken?.name, store?.tls?.caSecretRef?.name].filter(
    (n): n is string => n !== undefined,
  );
}

/** The keys of the Secrets a Backup's own objectStore names, for the policy re-check (LB601). */
export async function secretKeysFor(
  kube: WorkerKube,
  namespace: string,
  backup: Backup,
): Promise<Map<string, SecretInfo>> {
  const names = [...new Set(objectStoreSecretNames(backup.spec.objectStore))];
  const found = await Promise.all(names.map((name) => kube.readSecret(namespace, name)));
  const keys = new Map<string, SecretInfo>();
  names.forEach((name, i) => {
    const secret = found[i];
    if (secret) keys.set(name, { keys: Object.keys(secret.data) });
  });
  return keys;
}

/** Reads Secret keys for the object store; a missing Secret or key says which and what to do. */
export function secretKeyReader(kube: Pick<WorkerKube, 'readSecret'>, namespace: string): ReadSecretKey {
  return async (name, key) => {
    const secret = await kube.readSecret(namespace, name);
    const value = secret?.data[key];
    if (value !== undefined) return value;
    const what = secret
      ? `Secret ${name} has no key ${key}`
      : `Secret ${name} does not exist in namespace ${namespace}`;
    throw new UploadFailedError(`${what}; fix the object store credentials (spec.objectStore.credentials)`);
  };
}

/**
 * In a Job the runner mounts the credentials as environment variables (WORKER_ENV), so the worker
 * needs no access to Secrets; a worker started as a process reads them through the API.
 */
export interface JobCredentials {
  readonly db?: DbCredentials;
  readonly s3?: StaticS3Credentials;
}

export function jobCredentials(env: NodeJS.ProcessEnv): JobCredentials {
  const user = env[WORKER_ENV.dbUsername];
  const password = env[WORKER_ENV.dbPassword];
  const accessKeyId = env[WORKER_ENV.s3AccessKeyId];
  const secretAccessKey = env[WORKER_ENV.s3SecretAccessKey];
  const sessionToken = env[WORKER_ENV.s3SessionToken];
  return {
    ...(user && password ? { db: { user, password } } : {}),
    ...(accessKeyId && secretAccessKey
      ? { s3: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } }
      : {}),
  };
}

/** The database account from the Cluster's Secret; a missing Secret or key fails ConnectionFailed. */
export async function databaseCredentials(
  kube: Pick<WorkerKube, 'readSecret'>,
  cluster: Cluster,
  fromJob: JobCredentials = {},
): Promise<DbCredentials> {
  if (fromJob.db) return fromJob.db;
  const { secretRef, usernameKey = 'username', passwordKey = 'password' } = cluster.spec.credentials;
  const namespace = cluster.metadata.namespace ?? 'default';
  const secret = await kube.readSecret(namespace, secretRef.name);
  const fix = `fix spec.credentials of Cluster ${cluster.metadata.name}`;
  if (!secret)
    throw new ConnectionFailedError(`Secret ${secretRef.name} does not exist in namespace ${namespace}; ${fix}`);
  const user = secret.data[usernameKey];
  const password = secret.data[passwordKey];
  for (const [key, value] of [
    [usernameKey, user],
    [passwordKey, password],
  ] as const) {
    if (!value) throw new ConnectionFailedError(`Secret ${secretRef.name} has no key ${key}; add it or ${fix}`);
  }
  return { user: user ?? '', password: password ?? '' };
}

function selectorString(selector: NonNullable<Cluster['spec']['instances']['selector']>): string {
  const labels = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  const expressions = (selector.matchExpressions ?? []).map((e) => {
    if (e.operator === 'Exists') return e.key;
    if (e.operator === 'DoesNotExist') return `!${e.key}`;
    return `${e.key} ${e.operator === 'In' ? 'in' : 'notin'} (${(e.values ?? []).join(',')})`;
  });
  return [...labels, ...expressions].join(',');
}

function podLike(pod: V1Pod): PodLike {
  return { name: pod.metadata?.name ?? '', podIP: pod.status?.podIP, labels: pod.metadata?.labels };
}

/** The members of the Cluster: its static list, or its pods read through the API. */
export async function instancesOf(kube: Pick<WorkerKube, 'listPods'>, cluster: Cluster): Promise<DbInstance[]> {
  const { selector } = cluster.spec.instances;
  const namespace = cluster.metadata.namespace ?? 'default';
  const pods = selector ? (await kube.listPods(namespace, selectorString(selector))).map(podLike) : [];
  return clusterInstances(cluster.metadata.name ?? '', cluster.spec, pods);
}
