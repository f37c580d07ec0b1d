// Where restore-datadir's archive comes from: a backup in an object store, found by listing the
// bucket (disaster recovery needs nothing else) or already resolved by a caller that read a
// Backup's status or a Cluster's bootstrap.recovery. The archive is read through archive-download,
// which hashes it as it flows.
import type { S3Client } from '@aws-sdk/client-s3';
import type { BackupMetadataType } from '../../crds/backup-metadata-types.js';
import { openArchive, verifyArchive } from '../data-path/archive-download.js';
import { chooseBackup } from './backup-choice.js';
import { listBackups } from './backup-listing.js';
import type { ResolvedBackup } from './datadir-restore.js';

export interface StoredBackup {
  readonly client: S3Client;
  readonly bucket: string;
  readonly metadata: BackupMetadataType;
}

/** A backup whose metadata is known: its archive read in one pass, verified at its end. */
export function backupFromStore(stored: StoredBackup): ResolvedBackup {
  return {
    metadata: stored.metadata,
    source: `s3://${stored.bucket}/${stored.metadata.objectKey}`,
    openArchive: (signal, log, onProgress) => openArchive(stored, { signal, log, onProgress, socketRead: true }),
    verifyArchive: async (signal, log) => {
      await verifyArchive(stored, { signal, log });
    },
  };
}

export interface StoreListing {
  readonly client: S3Client;
  readonly bucket: string;
  readonly path?: string | undefined;
  /** The cluster name the backups were written under. */
  readonly cluster: string;
  /** For messages, e.g. "s3://bucket/path/shop/". */
  readonly where: string;
}

/**
 * The newest complete physical backup of the cluster in the bucket, or exactly `backupID`; throws
 * NoBackupsFoundError / BackupIdNotFoundError saying what is there.
 */
export async function findBackupInStore(
  store: StoreListing,
  want: { backupID?: string | undefined; signal?: AbortSignal },
): Promise<ResolvedBackup> {
  const listed = await listBackups({ ...store, signal: want.signal });
  const chosen = chooseBackup(listed, { backupID: want.backupID, where: store.where, kind: 'physical' });
  return backupFromStore({ client: store.client, bucket: store.bucket, metadata: chosen.metadata });
}
