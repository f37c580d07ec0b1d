// Which backup a restore takes, and from where (docs/design.md, "Restore data path"): a completed
// Backup at the location its status records, or — disaster recovery, with no Lifeboat object left —
// the newest complete backup the restore can put in place (or exactly backupID) in the object store of an externalClusters
// entry. Used by the restore worker and by `lifeboat restore-datadir`.
import type { S3Client } from '@aws-sdk/client-s3';
import { EXPIRED_CONDITION, type BackupKind } from '../../crds/api-constants.js';
import type { BackupMetadataType } from '../../crds/backup-metadata-types.js';
import type { Backup, Cluster } from '../../crds/kinds.js';
import { clusterPrefix } from '../../crds/object-keys.js';
import { effectiveObjectStore, externalCluster } from '../../crds/object-store-funcs.js';
import type { ObjectStoreSpec } from '../../crds/object-store-types.js';
import type { RecoverySpec } from '../../crds/recovery-types.js';
import { createS3Client, resolveS3Access, type StaticS3Credentials } from '../../lib/s3-client.js';
import { POINT_IN_TIME_REFUSAL, pointInTimeField } from '../../policies/recovery-policies.js';
import { readBackupMetadata } from '../data-path/backup-metadata.js';
import { decodeAs, secretKeyReader, type WorkerKube } from '../worker/worker-inputs.js';
import {
  ChecksumMismatchError,
  DownloadFailedError,
  NoBackupsFoundError,
  SourceHasNoObjectStoreError,
  SourceNotFoundError,
  UnsupportedMethodError,
} from '../work-failures.js';
import { chooseBackup, type BackupWanted } from './backup-choice.js';
import { listBackups } from './backup-listing.js';

/** A backup found and its metadata.json validated; the archive is not verified yet. */
export interface RestoreSource {
  readonly client: S3Client;
  readonly bucket: string;
  readonly metadata: BackupMetadataType;
  /** `s3://bucket/<folder>/`, for status.restoredFrom and messages. */
  readonly folder: string;
}

export interface SourceInputs {
  readonly kube: Pick<WorkerKube, 'getLifeboat' | 'readSecret'>;
  /** The Cluster restored into: its externalClusters name the sources. */
  readonly cluster: Cluster;
  readonly recovery: RecoverySpec;
  /** From a bucket without backupID: the newest backup of this kind (undefined: of any). */
  readonly kind?: BackupKind | undefined;
  /** From a bucket without backupID: the newest complete at this instant (backup-choice.ts). */
  readonly completedBy?: BackupWanted['completedBy'];
  /** A Job's object store keys (WORKER_ENV); otherwise the store's Secrets are read. */
  readonly s3?: StaticS3Credentials | undefined;
  readonly signal?: AbortSignal | undefined;
}

/**
 * The instant a new Cluster's bootstrap chooses its backup as of: its creation. The bootstrap worker
 * and restore-datadir --from-cluster (an init container) run minutes apart; a backup completing in
 * between must not make them restore two different backups.
 */
/**
 * Refuses a point-in-time target before anything is read or applied (policy LB106 refuses it at
 * admission; this is for a recovery that reached the runner or restore-datadir without the webhook).
 * `site` names where the recovery is written, e.g. `spec` or `spec.bootstrap.recovery`.
 */
export function refusePointInTime(recovery: RecoverySpec, site: string): void {
  const field = pointInTimeField(recovery.recoveryTarget);
  if (field) throw new UnsupportedMethodError(`${site}.recoveryTarget.${field}: ${POINT_IN_TIME_REFUSAL}`);
}

export function bootstrapChoiceTime(cluster: Cluster): BackupWanted['completedBy'] {
  // Set by the API server; the schema of manifests leaves it out.
  const created: unknown = (cluster.metadata as { creationTimestamp?: unknown }).creationTimestamp;
  if (typeof created !== 'string' || Number.isNaN(Date.parse(created))) return undefined;
  const ref = `${cluster.metadata.namespace ?? 'default'}/${cluster.metadata.name ?? ''}`;
  return { at: new Date(created), what: `Cluster ${ref} was created` };
}

/** Resolves spec.backup or spec.source to one backup; throws the WorkFailure of the catalog otherwise. */
export async function resolveRestoreSource(inputs: SourceInputs): Promise<RestoreSource> {
  return inputs.recovery.backup ? fromBackup(inputs, inputs.recovery.backup.name) : fromBucket(inputs);
}

async function clientFor(inputs: SourceInputs, store: ObjectStoreSpec): Promise<S3Client> {
  const namespace = inputs.cluster.metadata.namespace ?? 'default';
  if (inputs.s3 && store.credentials) return createS3Client(store, { credentials: inputs.s3 });
  return createS3Client(store, await resolveS3Access(store, secretKeyReader(inputs.kube, namespace)));
}

function folderOf(bucket: string, metadataKey: string): string {
  return `s3://${bucket}/${metadataKey.slice(0, metadataKey.lastIndexOf('/') + 1)}`;
}

async function fromBackup(inputs: SourceInputs, name: string): Promise<RestoreSource> {
  const namespace = inputs.cluster.metadata.namespace ?? 'default';
  const backup = decodeAs('Backup', await inputs.kube.getLifeboat('Backup', namespace, name));
  if (!backup) {
    throw new NoBackupsFoundError(
      `Backup ${name} does not exist in namespace ${namespace}; name a completed Backup in spec.backup, or restore from the bucket with spec.source`,
    );
  }
  const status = backup.status ?? {};
  if (status.phase !== 'completed') {
    const why =
      status.phase === 'failed' ? `failed (${status.reason ?? 'no reason'})` : (status.phase ?? 'not started');
    throw new NoBackupsFoundError(`Backup ${name} is ${why}, not completed; name a completed Backup in spec.backup`);
  }
  const expired = status.conditions?.find((c) => c.type === EXPIRED_CONDITION && c.status === 'True');
  if (expired) {
    throw new NoBackupsFoundError(
      `Backup ${name} expired: retention deleted its archive and metadata.json (${expired.message ?? 'no message'}); name a newer completed Backup in spec.backup`,
    );
  }
  const location = status.location;
  if (!location) {
    throw new NoBackupsFoundError(
      `Backup ${name} does not record where it was written (status.location); restore it with spec.source from its object store`,
    );
  }
  const store = await storeOfBackup(inputs, backup);
  // Where the worker wrote, as it recorded it; the store lends only credentials and TLS settings.
  const written: ObjectStoreSpec = {
    ...store,
    bucket: location.bucket,
    endpoint: location.endpoint,
    region: location.region,
  };
  const client = await clientFor(inputs, written);
  const metadata = await readBackupMetadata({ client, bucket: location.bucket, key: location.metadataKey });
  checkAgainstStatus(backup, metadata);
  return { client, bucket: location.bucket, metadata, folder: folderOf(location.bucket, location.metadataKey) };
}

async function storeOfBackup(inputs: SourceInputs, backup: Backup): Promise<ObjectStoreSpec> {
  const namespace = backup.metadata.namespace ?? 'default';
  const own = decodeAs('Cluster', await inputs.kube.getLifeboat('Cluster', namespace, backup.spec.cluster.name));
  const store = effectiveObjectStore(backup, own);
  if (!store) {
    throw new DownloadFailedError(
      `Backup ${backup.metadata.name} names no objectStore and its Cluster ${backup.spec.cluster.name} lends none; restore with spec.source`,
    );
  }
  return store;
}

/** metadata.json and the Backup's status were written by the same worker; a difference is tampering or damage. */
function checkAgainstStatus(backup: Backup, metadata: BackupMetadataType): void {
  const status = backup.status ?? {};
  const differs = [
    status.sha256 !== undefined && status.sha256 !== metadata.sha256 ? 'sha256' : '',
    status.size !== undefined && status.size !== metadata.size ? 'size' : '',
    status.location && status.location.archiveKey !== metadata.objectKey ? 'archive key' : '',
  ].filter((d) => d !== '');
  if (differs.length > 0) {
    throw new ChecksumMismatchError(
      `metadata.json of Backup ${backup.metadata.name} disagrees with its status (${differs.join(', ')}); the object store was changed after the backup: nothing was applied; restore another backup`,
    );
  }
}

async function fromBucket(inputs: SourceInputs): Promise<RestoreSource> {
  const source = inputs.recovery.source ?? '';
  const entry = externalCluster(inputs.cluster, source);
  const clusterName = inputs.cluster.metadata.name ?? '';
  if (!entry) {
    throw new SourceNotFoundError(
      `source ${source} names no externalClusters entry of Cluster ${clusterName}; add one with that name, or fix the source`,
    );
  }
  if (!entry.objectStore) {
    throw new SourceHasNoObjectStoreError(
      `externalClusters entry ${source} of Cluster ${clusterName} has no objectStore; add the object store its backups are in`,
    );
  }
  const store = entry.objectStore;
  const client = await clientFor(inputs, store);
  const listed = await listBackups({
    client,
    bucket: store.bucket,
    path: store.path,
    cluster: source,
    signal: inputs.signal,
  });
  const where = `s3://${store.bucket}/${clusterPrefix(store.path, source)}`;
  const chosen = chooseBackup(listed, {
    backupID: inputs.recovery.backupID,
    where,
    kind: inputs.kind,
    completedBy: inputs.completedBy,
  });
  return {
    client,
    bucket: store.bucket,
    metadata: chosen.metadata,
    folder: folderOf(store.bucket, chosen.metadataKey),
  };
}
