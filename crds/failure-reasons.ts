// The failure surfaces of docs/design.md: the values of status.reason on a failed Backup or Restore.
// Stable strings; users alert on them.

export const FAILURE_REASONS = {
  ClusterNotFound: 'The Cluster named in spec.cluster does not exist in this namespace.',
  ObjectStoreMissing: 'Neither the resource nor its Cluster names an object store.',
  UnsupportedMethod: 'The backup method does not suit the engine or its version.',
  NoHealthySource: 'No instance is healthy enough to back up from.',
  UnsafeCluster: 'The cluster is not in a state that gives a consistent backup, and allowUnsafe is not set.',
  ConnectionFailed: 'The database could not be reached or refused the credentials.',
  DumpFailed: 'The backup tool exited with an error, or its output was incomplete or empty.',
  UploadFailed:
    'Writing to the object store failed, an object already existed at the key, or the stored size differs from the bytes sent.',
  DownloadFailed: 'Reading from the object store failed.',
  ChecksumMismatch: 'The archive does not match the SHA-256 recorded in its metadata.',
  PrepareFailed: 'Preparing the physical backup for use failed.',
  ApplyFailed:
    'Applying the backup to the target failed or was stopped part-way; the target may be partially restored.',
  TargetNotEmpty: 'The target database has user tables and overwrite is not set.',
  SourceNotFound: 'spec.source names no externalClusters entry of the Cluster.',
  SourceHasNoObjectStore: 'The externalClusters entry named by spec.source has no objectStore.',
  NoBackupsFound: 'The object store holds no complete backup for the source.',
  BackupIDNotFound: 'The object store holds no complete backup with the requested backupID.',
  Timeout: 'The operation did not finish within its deadline.',
  NamespaceNotEnabled:
    'The runner may not create worker Jobs in this namespace: it is not enabled for Lifeboat workers (docs/install.md).',
} as const;

export type FailureReason = keyof typeof FAILURE_REASONS;
export const FAILURE_REASON_NAMES = Object.keys(FAILURE_REASONS) as FailureReason[];
