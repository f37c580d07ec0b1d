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
import { TLS_SECRET_KEYS, WORKER_ENV } from './worker-env.js';
import type { MemberLeaseApi } from './member-lease.js';
import type { SecretInfo } from '../../policies/policy-types.js';
import type { DbCredentials, DbTls } from '../engine/db-connection.js';
import { clusterInstances, type DbInstance, type PodLike } from '../engine/instance-list.js';
import type { StatusClient } from '../status/status-writer.js';
import type { EventClient } from '../status/event-recorder.js';
import { ConnectionFailedError, NoHealthySourceError, UploadFailedError } from '../work-failures.js';
import {
  InvalidLabelSelectorError,
  labelSelectorQuery,
  type LabelSelectorQuery,
  type LabelSelectorSpec,
} from '../../lib/label-selector.js';

/** The calls a worker makes; the KubeClient has them all, tests pass a fake. */
export interface WorkerKube extends StatusClient, EventClient {
  readSecret(namespace: string, name: string): Promise<StoredSecret | undefined>;
  listPods(namespace: string, labelSelector: LabelSelectorQuery): Promise<V1Pod[]>;
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
  /** The PEM text of spec.credentials.tls's Secrets, as the Job's environment carries it. */
  readonly dbTls?: TlsMaterial;
  readonly s3?: StaticS3Credentials;
}

type TlsMaterial = Pick<DbTls, 'ca' | 'cert' | 'key'>;

export function jobCredentials(env: NodeJS.ProcessEnv): JobCredentials {
  const user = env[WORKER_ENV.dbUsername];
  const password = env[WORKER_ENV.dbPassword];
  const accessKeyId = env[WORKER_ENV.s3AccessKeyId];
  const secretAccessKey = env[WORKER_ENV.s3SecretAccessKey];
  const sessionToken = env[WORKER_ENV.s3SessionToken];
  const tls = definedOnly({
    ca: env[WORKER_ENV.dbTlsCa],
    cert: env[WORKER_ENV.dbTlsCert],
    key: env[WORKER_ENV.dbTlsKey],
  });
  return {
    ...(user && password ? { db: { user, password } } : {}),
    ...(Object.keys(tls).length > 0 ? { dbTls: tls } : {}),
    ...(accessKeyId && secretAccessKey
      ? { s3: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } }
      : {}),
  };
}

function definedOnly(material: { ca?: string; cert?: string; key?: string }): TlsMaterial {
  return Object.fromEntries(Object.entries(material).filter(([, v]) => v !== undefined && v !== ''));
}

/**
 * The database account from the Cluster's Secret, with spec.credentials.tls's CA and client
 * certificate when it asks for TLS; a missing Secret or key fails ConnectionFailed.
 */
export async function databaseCredentials(
  kube: Pick<WorkerKube, 'readSecret'>,
  cluster: Cluster,
  fromJob: JobCredentials = {},
): Promise<DbCredentials> {
  const account = fromJob.db ?? (await accountFromSecret(kube, cluster));
  const spec = cluster.spec.credentials.tls;
  if (!spec) return account;
  const material = fromJob.db ? (fromJob.dbTls ?? {}) : await tlsFromSecrets(kube, cluster);
  const tls: DbTls = { ...material, verify: spec.insecureSkipVerify !== true, cluster: cluster.metadata.name ?? '' };
  return { ...account, tls };
}

async function accountFromSecret(kube: Pick<WorkerKube, 'readSecret'>, cluster: Cluster): Promise<DbCredentials> {
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

/** The PEM text spec.credentials.tls names; a missing Secret or key fails ConnectionFailed, naming it. */
async function tlsFromSecrets(kube: Pick<WorkerKube, 'readSecret'>, cluster: Cluster): Promise<TlsMaterial> {
  const spec = cluster.spec.credentials.tls;
  const namespace = cluster.metadata.namespace ?? 'default';
  const read = async (name: string, key: string, field: string): Promise<string> => {
    const secret = await kube.readSecret(namespace, name);
    const value = secret?.data[key];
    if (value) return value;
    const what = secret
      ? `Secret ${name} has no key ${key}`
      : `Secret ${name} does not exist in namespace ${namespace}`;
    throw new ConnectionFailedError(
      `${what}; add it or fix spec.credentials.tls.${field} of Cluster ${cluster.metadata.name ?? ''}`,
    );
  };
  const ca = spec?.caSecretRef;
  const client = spec?.clientCertSecretRef;
  return {
    ...(ca ? { ca: await read(ca.name, ca.key, 'caSecretRef') } : {}),
    ...(client
      ? {
          cert: await read(client.name, TLS_SECRET_KEYS.cert, 'clientCertSecretRef'),
          key: await read(client.name, TLS_SECRET_KEYS.key, 'clientCertSecretRef'),
        }
      : {}),
  };
}

/** The pod selector of the Cluster, checked part by part; a bad one fails before any API call. */
function podSelector(cluster: Cluster, selector: LabelSelectorSpec): LabelSelectorQuery {
  try {
    return labelSelectorQuery(selector);
  } catch (err) {
    if (!(err instanceof InvalidLabelSelectorError)) throw err;
    throw new NoHealthySourceError(
      `Cluster ${cluster.metadata.name ?? ''}: spec.instances.selector: ${err.message}; fix the selector`,
    );
  }
}

function podLike(pod: V1Pod): PodLike {
  return { name: pod.metadata?.name ?? '', podIP: pod.status?.podIP, labels: pod.metadata?.labels };
}

/** The members of the Cluster: its static list, or its pods read through the API. */
export async function instancesOf(kube: Pick<WorkerKube, 'listPods'>, cluster: Cluster): Promise<DbInstance[]> {
  const { selector } = cluster.spec.instances;
  const namespace = cluster.metadata.namespace ?? 'default';
  const pods = selector ? (await kube.listPods(namespace, podSelector(cluster, selector))).map(podLike) : [];
  return clusterInstances(cluster.metadata.name ?? '', cluster.spec, pods);
}
