// What a backup worker will do, decided before it touches a database or a bucket: the Backup as the
// webhook would have stored it (the runner re-checks with the same engine, so a cluster without the
// webhook is just as safe), and the first policy that forbids it turned into a failure reason.
import { DEFAULT_METHOD, DEFAULT_TARGET, type BackupMethod } from '../../crds/api-constants.js';
import type { Backup, Cluster } from '../../crds/kinds.js';
import type { ObjectStoreSpec } from '../../crds/object-store-types.js';
import { review, validate } from '../../policies/engine.js';
import { formatPath } from '../../policies/field-path.js';
import {
  DEFAULT_SETTINGS,
  type Finding,
  type Neighbours,
  type PolicySettings,
  type SecretInfo,
} from '../../policies/policy-types.js';
import {
  ClusterNotFoundError,
  ConnectionFailedError,
  NoHealthySourceError,
  ObjectStoreMissingError,
  UnsafeClusterError,
  UnsupportedMethodError,
  UploadFailedError,
  type WorkFailure,
} from '../work-failures.js';

export type Compression = 'none' | 'gzip' | 'zstd';

export interface BackupPlan {
  /** The Backup with what mutation fills in (objectStore, method, target, online). */
  readonly backup: Backup;
  readonly cluster: Cluster;
  readonly objectStore: ObjectStoreSpec;
  readonly method: BackupMethod;
  readonly target: string;
  readonly compression: Compression;
  readonly allowUnsafe: boolean;
}

/** What the worker read from the API: the Backup's Cluster and the Secrets it could read. */
export interface PlanInputs {
  readonly backup: Backup;
  readonly cluster: Cluster | undefined;
  /** Keyed by Secret name, in the Backup's namespace. */
  readonly secrets: ReadonlyMap<string, SecretInfo>;
  /** False when the worker cannot read Secrets (a Job given its credentials): none is judged missing. */
  readonly secretsKnown?: boolean;
  /** The runner's allowlists (worker-allowlists.ts), judged as the webhook judges them. */
  readonly settings?: Partial<PolicySettings>;
}

type FailureClass = new (message: string) => WorkFailure;

// The deny policies a stored Backup can still break at run time, and the failure each one is.
const REASON_OF_POLICY: Readonly<Record<string, FailureClass>> = {
  LB201: ObjectStoreMissingError,
  LB501: UnsafeClusterError,
  LB503: UnsupportedMethodError,
  // On a Backup, LB601 judges the Secrets of its own objectStore; the database account is the Cluster's.
  LB601: UploadFailedError,
  LB604: NoHealthySourceError,
  LB803: UploadFailedError,
  LB804: ConnectionFailedError,
};

const ALLOWLIST_POLICIES = new Set(['LB803', 'LB804']);

function failureFor(finding: Finding): WorkFailure {
  // The other object-store policies (bucket name, endpoint, CA…) describe a store that cannot be written.
  const Failure = REASON_OF_POLICY[finding.policy] ?? (finding.policy.startsWith('LB2') ? UploadFailedError : null);
  const where = formatPath(finding.path);
  const text = finding.message.startsWith(`${where}:`) ? finding.message : `${where}: ${finding.message}`;
  const message = `${finding.policy} ${text}`;
  return Failure ? new Failure(message) : new UnsafeClusterError(message);
}

function neighboursOf(inputs: PlanInputs): Neighbours {
  const namespace = inputs.backup.metadata.namespace;
  const mine = (ns: string): boolean => ns === namespace;
  return {
    authoritative: true,
    secretsListed: inputs.secretsKnown ?? true,
    cluster: (ns, name) => (mine(ns) && inputs.cluster?.metadata.name === name ? inputs.cluster : undefined),
    backup: () => undefined,
    has: (kind, ns, name) => kind === 'Cluster' && mine(ns) && inputs.cluster?.metadata.name === name,
    secret: (ns, name) => (mine(ns) ? inputs.secrets.get(name) : undefined),
    secretNamespaces: () => [],
  };
}

/** Throws the WorkFailure of the first problem; otherwise says exactly what to back up, how and where. */
export function planBackup(inputs: PlanInputs): BackupPlan {
  const { backup, cluster } = inputs;
  const namespace = backup.metadata.namespace ?? DEFAULT_SETTINGS.defaultNamespace;
  if (!cluster) {
    throw new ClusterNotFoundError(
      `Cluster ${backup.spec.cluster.name} does not exist in namespace ${namespace}; create it, or fix spec.cluster.name and apply a new Backup`,
    );
  }
  const base = {
    operation: 'CREATE' as const,
    neighbours: neighboursOf(inputs),
    settings: { ...DEFAULT_SETTINGS, ...inputs.settings, defaultNamespace: namespace },
  };
  const result = review({ document: backup, ...base });
  const denied = result.findings.find((f) => f.severity === 'deny');
  if (denied) throw failureFor(denied);
  const mutated = result.object;
  if (mutated?.kind !== 'Backup')
    throw new UnsafeClusterError(`Backup ${backup.metadata.name} no longer passes its schema`);
  // review() reports a problem of an inherited objectStore on the Cluster it came from; the
  // allowlists must judge where this work will go, inherited or not.
  const refused = validate(mutated, base).find((f) => ALLOWLIST_POLICIES.has(f.policy) && f.severity === 'deny');
  if (refused) throw failureFor(refused);
  const { objectStore, method, target } = mutated.spec;
  if (!objectStore) {
    throw new ObjectStoreMissingError(
      `neither Backup ${backup.metadata.name} nor Cluster ${cluster.metadata.name} names an object store; set spec.backup.objectStore on the Cluster`,
    );
  }
  return {
    backup: mutated,
    cluster,
    objectStore,
    method: method ?? DEFAULT_METHOD[cluster.spec.engine],
    target: target ?? DEFAULT_TARGET,
    compression: mutated.spec.compression ?? 'none',
    allowUnsafe: mutated.spec.allowUnsafe === true,
  };
}
