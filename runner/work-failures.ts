// Why a Backup or Restore failed: one class per failure surface of docs/design.md, each carrying the
// stable `reason` users alert on and a message that says what to fix. The worker turns any of
// these into status.phase=failed with status.reason and status.error.
import type { FailureReason } from '../crds/failure-reasons.js';

export interface WorkFailureOptions {
  readonly cause?: unknown;
}

export abstract class WorkFailure extends Error {
  abstract readonly reason: FailureReason;
  /** Whether running the same work again may succeed without anyone changing anything. */
  readonly retryable: boolean = false;

  constructor(message: string, options?: WorkFailureOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class ClusterNotFoundError extends WorkFailure {
  readonly reason = 'ClusterNotFound';
}

export class ObjectStoreMissingError extends WorkFailure {
  readonly reason = 'ObjectStoreMissing';
}

export class UnsupportedMethodError extends WorkFailure {
  readonly reason = 'UnsupportedMethod';
}

export class NoHealthySourceError extends WorkFailure {
  readonly reason = 'NoHealthySource';
}

export class UnsafeClusterError extends WorkFailure {
  readonly reason = 'UnsafeCluster';
}

export class ConnectionFailedError extends WorkFailure {
  readonly reason = 'ConnectionFailed';
  override readonly retryable = true;
}

export class DumpFailedError extends WorkFailure {
  readonly reason = 'DumpFailed';
}

export class UploadFailedError extends WorkFailure {
  readonly reason = 'UploadFailed';
  override readonly retryable = true;
}

export class DownloadFailedError extends WorkFailure {
  readonly reason = 'DownloadFailed';
  override readonly retryable = true;
}

export class ChecksumMismatchError extends WorkFailure {
  readonly reason = 'ChecksumMismatch';
}

export class PrepareFailedError extends WorkFailure {
  readonly reason = 'PrepareFailed';
}

export class ApplyFailedError extends WorkFailure {
  readonly reason = 'ApplyFailed';
}

export class TargetNotEmptyError extends WorkFailure {
  readonly reason = 'TargetNotEmpty';
}

export class SourceNotFoundError extends WorkFailure {
  readonly reason = 'SourceNotFound';
}

export class SourceHasNoObjectStoreError extends WorkFailure {
  readonly reason = 'SourceHasNoObjectStore';
}

export class NoBackupsFoundError extends WorkFailure {
  readonly reason = 'NoBackupsFound';
}

export class BackupIdNotFoundError extends WorkFailure {
  readonly reason = 'BackupIDNotFound';
}

export class TimeoutError extends WorkFailure {
  readonly reason = 'Timeout';
  override readonly retryable = true;
}

/** Every failure class, so a test can check each documented reason has exactly one. */
/** The API server refused the worker Job: the namespace lacks the worker-namespace objects. */
export class NamespaceNotEnabledError extends WorkFailure {
  readonly reason = 'NamespaceNotEnabled';
}

export const WORK_FAILURES = [
  ClusterNotFoundError,
  ObjectStoreMissingError,
  UnsupportedMethodError,
  NoHealthySourceError,
  UnsafeClusterError,
  ConnectionFailedError,
  DumpFailedError,
  UploadFailedError,
  DownloadFailedError,
  ChecksumMismatchError,
  PrepareFailedError,
  ApplyFailedError,
  TargetNotEmptyError,
  SourceNotFoundError,
  SourceHasNoObjectStoreError,
  NoBackupsFoundError,
  BackupIdNotFoundError,
  TimeoutError,
  NamespaceNotEnabledError,
] as const;
