// What the object store says about an object's Object Lock (docs/design.md, "Retention"): read
// before anything of a backup is deleted, and by the plan over a bucket. HeadObject returns the lock
// only to credentials that may read it (s3:GetObjectRetention, s3:GetObjectLegalHold).
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';

export interface ObjectLockState {
  readonly mode?: string | undefined;
  /** The lock's end, when the object has one (in the past once it has ended). */
  readonly retainUntil?: Date | undefined;
  readonly legalHold: boolean;
}

/** The object's lock; undefined when the object does not exist. Other failures are thrown as the SDK's. */
export async function readObjectLock(
  client: S3Client,
  bucket: string,
  key: string,
): Promise<ObjectLockState | undefined> {
  try {
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return {
      mode: head.ObjectLockMode,
      retainUntil: head.ObjectLockRetainUntilDate,
      legalHold: head.ObjectLockLegalHoldStatus === 'ON',
    };
  } catch (err) {
    const e = err as { name?: unknown; $metadata?: { httpStatusCode?: unknown } } | null;
    if (e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404) return undefined;
    throw err;
  }
}

/** Until when the lock holds the object at `now`; undefined when it does not (or no longer does). */
export function lockedUntil(lock: ObjectLockState | undefined, now: Date): Date | undefined {
  const until = lock?.retainUntil;
  return until && until.getTime() > now.getTime() ? until : undefined;
}
