// Aborting multipart uploads: the worker's own upload when it fails, and the runner's clean-up of
// a worker that died (SIGKILL, a lost node) and could not abort its own. Until a multipart upload
// is aborted its parts stay in the bucket, invisible to a listing of objects, and billed.
import { AbortMultipartUploadCommand, ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3';
import { messageOf } from '../../lib/error-message.js';

export interface UploadRef {
  readonly bucket: string;
  readonly key: string;
}

export interface AbortOptions {
  /** Base wait between attempts (multiplied by the attempt number). Default 1 s. */
  readonly retryMs?: number;
  readonly attempts?: number;
}

const ATTEMPTS = 5;
const RETRY_MS = 1_000;

/** Retries `attempt` a few times, with a growing wait: the store may be back a moment after an outage. */
async function withRetries<T>(attempt: () => Promise<T>, opts: AbortOptions): Promise<T> {
  const attempts = opts.attempts ?? ATTEMPTS;
  const retryMs = opts.retryMs ?? RETRY_MS;
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, retryMs * i));
    try {
      return await attempt();
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

/** What to tell a user about parts that may remain in the bucket. */
export const LIFECYCLE_HINT = 'a bucket lifecycle rule AbortIncompleteMultipartUpload removes such leftovers';

function leftoverMessage(what: string, err: unknown): string {
  return `${what} may remain (aborting it failed: ${messageOf(err)}); ${LIFECYCLE_HINT}`;
}

/** Aborts one upload; returns undefined when nothing is left behind, else a sentence saying what may remain. */
export async function abortUpload(
  client: S3Client,
  ref: UploadRef & { readonly uploadId: string },
  opts: AbortOptions = {},
): Promise<string | undefined> {
  try {
    await withRetries(async () => {
      try {
        await client.send(
          new AbortMultipartUploadCommand({ Bucket: ref.bucket, Key: ref.key, UploadId: ref.uploadId }),
        );
      } catch (e) {
        if ((e as { name?: unknown }).name !== 'NoSuchUpload') throw e;
      }
    }, opts);
    return undefined;
  } catch (err) {
    return leftoverMessage(`the multipart upload ${ref.uploadId}`, err);
  }
}

export interface OpenUploadsAborted {
  /** How many unfinished uploads of the key were found and aborted. */
  readonly aborted: number;
  /** Set when some could not be listed or aborted: what may remain, and how to remove it. */
  readonly leftover?: string;
}

/**
 * Aborts every unfinished multipart upload of exactly `key`. Listed by the key itself, not by its
 * folder: some stores (MinIO) list uploads only for an exact key.
 */
export async function abortOpenUploads(
  client: S3Client,
  ref: UploadRef,
  opts: AbortOptions = {},
): Promise<OpenUploadsAborted> {
  let ids: string[];
  try {
    ids = await withRetries(() => listUploadIds(client, ref), opts);
  } catch (err) {
    return { aborted: 0, leftover: leftoverMessage(`an unfinished upload of s3://${ref.bucket}/${ref.key}`, err) };
  }
  const leftovers: string[] = [];
  for (const uploadId of ids) {
    const leftover = await abortUpload(client, { ...ref, uploadId }, opts);
    if (leftover) leftovers.push(leftover);
  }
  return {
    aborted: ids.length - leftovers.length,
    ...(leftovers.length > 0 ? { leftover: leftovers.join('; ') } : {}),
  };
}

async function listUploadIds(client: S3Client, ref: UploadRef): Promise<string[]> {
  const ids: string[] = [];
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    const page = await client.send(
      new ListMultipartUploadsCommand({
        Bucket: ref.bucket,
        Prefix: ref.key,
        ...(keyMarker ? { KeyMarker: keyMarker } : {}),
        ...(uploadIdMarker ? { UploadIdMarker: uploadIdMarker } : {}),
      }),
    );
    for (const u of page.Uploads ?? []) if (u.Key === ref.key && u.UploadId) ids.push(u.UploadId);
    if (!page.IsTruncated) return ids;
    keyMarker = page.NextKeyMarker;
    uploadIdMarker = page.NextUploadIdMarker;
    if (!keyMarker && !uploadIdMarker) return ids;
  }
}
