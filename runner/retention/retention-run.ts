// Removing what a retention plan lets go, one backup at a time, oldest first, each in a safe order:
// metadata.json first (a backup without it is never taken for complete, so a half-deleted backup
// cannot be restored by mistake), then the archive, then any multipart upload left open for the
// archive, and last the Backup object — deleted when a ScheduledBackup created it, kept with
// condition Expired when it came from Git (a GitOps tool would re-create it and it would run again).
// A step that fails ends the work on that backup; what is left is reported and tried again later.
// Nothing is deleted while the store says an object is under Object Lock: in a versioned bucket a
// DeleteObject then "succeeds" by adding a delete marker, which hides the backup without freeing it.
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ArchiveLocationType } from '../../crds/backup-types.js';
import { messageOf } from '../../lib/error-message.js';
import type { Logger } from '../../lib/logger.js';
import { clientEndpoint, explainS3Error } from '../../lib/s3-client.js';
import { lockedUntil, readObjectLock, type ObjectLockState } from '../data-path/object-lock-read.js';
import { abortOpenUploads, type AbortOptions } from '../data-path/upload-abort.js';
import { CONDITION_TYPES, REASONS, setCondition, type HasConditions } from '../status/conditions.js';
import { updateStatus, type StatusClient } from '../status/status-writer.js';
import type { BackupLike } from './retention-inputs.js';
import type { RetentionDecision } from './retention-plan.js';

/** A stored Backup as retention removes it: where its objects are is in its status. */
export type RemovableBackup = BackupLike & {
  readonly status?: BackupLike['status'] & { readonly location?: ArchiveLocationType | undefined };
};

export interface RetentionKube extends StatusClient {
  deleteLifeboat(kind: 'Backup', namespace: string, name: string, uid: string): Promise<void>;
}

export interface RetentionRunDeps {
  readonly kube: RetentionKube;
  /** A client for the Backup's object store, with its credentials; the caller destroys none. */
  readonly s3For: (backup: RemovableBackup) => Promise<S3Client>;
  readonly now: () => Date;
  readonly log: Logger;
  /** How aborting open uploads retries; a store that is down fails the step, which is retried later anyway. */
  readonly abort?: AbortOptions;
}

export interface Removal {
  readonly decision: RetentionDecision;
  readonly backup: RemovableBackup;
}

export interface RetentionOutcome {
  readonly done: readonly { readonly name: string; readonly action: 'delete' | 'expire'; readonly reason: string }[];
  /** Backups that remain to be removed, and why each is not yet. */
  readonly left: readonly LeftBackup[];
}

export interface LeftBackup {
  readonly name: string;
  readonly why: string;
  /** Under Object Lock: when the lock ends and removal can be tried again. */
  readonly retryAt?: Date | undefined;
  /** Why the plan let it go. */
  readonly reason?: string | undefined;
}

/** The object store refused to delete (AccessDenied, an object lock): the next backup may still go. */
export class RetentionRefusedError extends Error {
  readonly reason = 'DeleteRefused';
  readonly retryable = true;
}

/** An object of the backup is under Object Lock: nothing of it goes before `until`. */
export class ObjectLockedError extends RetentionRefusedError {
  constructor(
    message: string,
    readonly until: Date | undefined,
  ) {
    super(message);
  }
}

/** The object store did not answer: every later removal would fail the same way, so all stop. */
export class StoreUnavailableError extends Error {
  readonly reason = 'StoreUnavailable';
  readonly retryable = true;
}

function refused(err: unknown): boolean {
  const e = err as { name?: unknown; $metadata?: { httpStatusCode?: unknown } } | null;
  return e?.name === 'AccessDenied' || e?.$metadata?.httpStatusCode === 403;
}

async function deleteObject(client: S3Client, bucket: string, key: string): Promise<void> {
  try {
    // Deleting a key that is already gone succeeds: a run that stopped midway resumes here.
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  } catch (err) {
    const explained = explainS3Error(err, { bucket, endpoint: await clientEndpoint(client), key });
    const message = `deleting s3://${bucket}/${key} failed: ${explained}`;
    if (refused(err)) {
      throw new RetentionRefusedError(`${message} (an object lock or retention period also refuses deletes)`, {
        cause: err,
      });
    }
    throw new StoreUnavailableError(message, { cause: err });
  }
}

/** Throws ObjectLockedError while the object is locked (retention or legal hold); a missing object is not. */
async function checkUnlocked(client: S3Client, bucket: string, key: string, now: Date): Promise<void> {
  let lock: ObjectLockState | undefined;
  try {
    lock = await readObjectLock(client, bucket, key);
  } catch (err) {
    const message = `checking s3://${bucket}/${key} failed: ${explainS3Error(err, { bucket, endpoint: await clientEndpoint(client), key })}`;
    if (refused(err)) throw new RetentionRefusedError(message, { cause: err });
    throw new StoreUnavailableError(message, { cause: err });
  }
  const where = `s3://${bucket}/${key}`;
  if (lock?.legalHold) {
    throw new ObjectLockedError(
      `${where} is under an Object Lock legal hold; retention removes it once the hold is lifted`,
      undefined,
    );
  }
  const until = lockedUntil(lock, now);
  if (until) {
    throw new ObjectLockedError(
      `${where} is under Object Lock (${lock?.mode ?? 'retention'}) until ${until.toISOString()}; retention removes it after that`,
      until,
    );
  }
}

async function removeObjects(backup: RemovableBackup, deps: RetentionRunDeps): Promise<void> {
  const location = backup.status?.location;
  if (!location) {
    // A failed Backup without a location never started its upload: nothing of it is in the store.
    if (backup.status?.phase === 'failed') return;
    throw new RetentionRefusedError(
      'its status does not record where its objects are (status.location); delete them by hand, then the Backup',
    );
  }
  const client = await deps.s3For(backup);
  for (const key of [location.metadataKey, location.archiveKey])
    await checkUnlocked(client, location.bucket, key, deps.now());
  await deleteObject(client, location.bucket, location.metadataKey);
  await deleteObject(client, location.bucket, location.archiveKey);
  const { leftover } = await abortOpenUploads(
    client,
    { bucket: location.bucket, key: location.archiveKey },
    deps.abort,
  );
  if (leftover) throw new StoreUnavailableError(leftover);
}

async function expire(backup: RemovableBackup, reason: string, deps: RetentionRunDeps): Promise<void> {
  const now = deps.now();
  const namespace = backup.metadata.namespace ?? 'default';
  const message = `retention deleted its archive and metadata.json at ${now.toISOString()}: ${reason}; it can no longer be restored`;
  await updateStatus<{ metadata: { uid?: string }; status?: HasConditions }>(
    deps.kube,
    'Backup',
    namespace,
    backup.metadata.name ?? '',
    (draft) => {
      // Deleted and applied again from Git meanwhile: the new Backup of that name is not the one
      // whose objects went; it runs, and is not marked.
      if (draft.metadata.uid !== backup.metadata.uid) return;
      draft.status ??= {};
      setCondition(
        draft.status,
        { type: CONDITION_TYPES.Expired, status: 'True', reason: REASONS.RetentionExpired, message },
        now,
      );
    },
  );
}

async function removeOne(removal: Removal, deps: RetentionRunDeps): Promise<void> {
  const { backup, decision } = removal;
  await removeObjects(backup, deps);
  if (decision.action === 'expire') {
    await expire(backup, decision.reason, deps);
    return;
  }
  const { namespace = 'default', name = '', uid } = backup.metadata;
  if (!uid) throw new RetentionRefusedError('it has no uid to delete it by');
  await deps.kube.deleteLifeboat('Backup', namespace, name, uid);
}

/** Removes the backups in the order given (oldest first); never throws, says what is left. */
export async function runRemovals(removals: readonly Removal[], deps: RetentionRunDeps): Promise<RetentionOutcome> {
  const done: RetentionOutcome['done'][number][] = [];
  const left: LeftBackup[] = [];
  let storeDown: string | undefined;
  for (const removal of removals) {
    const name = removal.backup.metadata.name ?? '';
    const action = removal.decision.action === 'expire' ? 'expire' : 'delete';
    if (storeDown !== undefined) {
      left.push({ name, why: `not tried: ${storeDown}` });
      continue;
    }
    try {
      await removeOne(removal, deps);
      done.push({ name, action, reason: removal.decision.reason });
      deps.log.info({ namespace: removal.backup.metadata.namespace, name, action }, 'retention removed a backup');
    } catch (err) {
      const why = messageOf(err);
      const until = err instanceof ObjectLockedError ? err.until : undefined;
      left.push({ name, why, reason: removal.decision.reason, ...(until ? { retryAt: until } : {}) });
      deps.log.warn({ namespace: removal.backup.metadata.namespace, name, err: why }, 'retention stopped on a backup');
      if (!(err instanceof RetentionRefusedError))
        storeDown = 'the object store or API server failed on an earlier backup';
    }
  }
  return { done, left };
}
