// The preflight of docs/design.md, backup step 2: prove the bucket is reachable and takes writes where the
// backup will go before any dump starts, so a wrong bucket or key costs seconds, not a dump (and
// not a Galera member desynced for nothing). With objectLock asked for, the bucket must have
// Object Lock enabled: S3 refuses a locked write to any other bucket only when the archive is
// complete, after the whole dump.
import {
  DeleteObjectCommand,
  GetObjectLockConfigurationCommand,
  HeadBucketCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { ObjectStoreSpec } from '../../crds/object-store-types.js';
import { clientEndpoint, encryptionParams, explainS3Error } from '../../lib/s3-client.js';
import { UploadFailedError } from '../work-failures.js';

export interface PreflightOptions {
  readonly client: S3Client;
  readonly bucket: string;
  /** From crds/object-keys preflightProbeKey: inside the backup's own folder. */
  readonly probeKey: string;
  /** Applied to the probe as to the archive, so a bucket policy that demands it is honoured. */
  readonly serverSideEncryption?: ObjectStoreSpec['serverSideEncryption'];
  /** ObjectStore.objectLock: the bucket must have Object Lock enabled. */
  readonly objectLock?: ObjectStoreSpec['objectLock'];
  readonly signal?: AbortSignal | undefined;
}

const PROBE_BODY = 'lifeboat preflight: this object is deleted right after it is written\n';

/** Resolves when the bucket exists and a probe can be written and deleted; else UploadFailedError. */
export async function preflightBucket(opts: PreflightOptions): Promise<void> {
  const endpoint = await clientEndpoint(opts.client);
  const { client, bucket, probeKey: key } = opts;
  const sendOptions = opts.signal ? { abortSignal: opts.signal } : {};
  const step = async (what: string, key: string | undefined, run: () => Promise<unknown>): Promise<void> => {
    try {
      await run();
    } catch (err) {
      const explained = explainS3Error(err, { bucket, endpoint, key });
      throw new UploadFailedError(`object store preflight (${what}) failed: ${explained}`, { cause: err });
    }
  };
  // HeadBucket first: on a missing bucket it says so plainly, where a PUT may answer 403 or 404.
  await step('checking the bucket', undefined, () =>
    client.send(new HeadBucketCommand({ Bucket: bucket }), sendOptions),
  );
  if (opts.objectLock) await checkObjectLock(opts, endpoint);
  await step(`writing s3://${bucket}/${key}`, key, () =>
    client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: PROBE_BODY,
        ContentType: 'text/plain',
        ...encryptionParams(opts.serverSideEncryption),
      }),
      sendOptions,
    ),
  );
  // Retention deletes objects too; a key that may write but not delete would fail there later.
  await step(`deleting s3://${bucket}/${key}`, key, () =>
    client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), sendOptions),
  );
}

/** Resolves when the bucket has Object Lock enabled; else UploadFailedError naming the bucket. */
async function checkObjectLock(opts: PreflightOptions, endpoint: string): Promise<void> {
  const { client, bucket } = opts;
  const lock = opts.objectLock;
  const asked = lock ? `objectLock ${lock.mode} ${lock.days}d` : 'objectLock';
  let enabled: string | undefined;
  try {
    const got = await client.send(
      new GetObjectLockConfigurationCommand({ Bucket: bucket }),
      opts.signal ? { abortSignal: opts.signal } : {},
    );
    enabled = got.ObjectLockConfiguration?.ObjectLockEnabled;
  } catch (err) {
    if ((err as { name?: unknown }).name !== 'ObjectLockConfigurationNotFoundError') {
      const explained = explainS3Error(err, { bucket, endpoint });
      throw new UploadFailedError(
        `object store preflight (reading the Object Lock configuration for ${asked}) failed: ${explained}; the credentials need s3:GetBucketObjectLockConfiguration`,
        { cause: err },
      );
    }
  }
  if (enabled === 'Enabled') return;
  throw new UploadFailedError(
    `object store preflight failed: bucket '${bucket}' at ${endpoint} does not have Object Lock enabled, so ${asked} cannot be honoured; ` +
      'use a bucket created with Object Lock enabled, or remove spec.objectStore.objectLock',
  );
}
