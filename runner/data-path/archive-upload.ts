// The archive leg of the backup data path (docs/design.md, backup step 3): the tool's stdout, optionally
// compressed, hashed and counted as stored, goes straight into an S3 multipart upload. No temp
// file; memory stays bounded by the part buffers whatever the archive size. The object is
// completed only once the tool has exited and vouched for its output, never over an object that
// exists, and is then checked to hold exactly the bytes sent.
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { HeadObjectCommand, type S3Client, type StorageClass } from '@aws-sdk/client-s3';
import type { Compression } from '../../crds/object-keys.js';
import type { ObjectStoreSpec } from '../../crds/object-store-types.js';
import {
  clientEndpoint,
  encryptionParams,
  explainS3Error,
  objectLockParams,
  type ObjectLockWrite,
} from '../../lib/s3-client.js';
import { DumpFailedError, UnsupportedMethodError, UploadFailedError } from '../work-failures.js';
import { EmptyObjectError, MAX_PARTS, MultipartWriter, PartLimitError } from './multipart-writer.js';
import { abortUpload } from './upload-abort.js';

const MiB = 1024 * 1024;
// Memory sets these: the writer holds QUEUE_SIZE parts in flight and one filling, (2 + 1) × 8 MiB
// for the first 7.8 GiB of an archive. Two parts in flight keep a local store or a fast link ahead
// of the dump tool. Parts double every 1,000 (multipart-writer.ts), so any archive S3 can hold fits
// in 10,000 parts, and the buffers grow with the archive: (2 + 1) × 64 MiB at 100 GiB. A size
// estimate (expectedBytes) starts larger parts at once, which keeps the largest part smaller.
export const PART_SIZE = 8 * MiB;
export const QUEUE_SIZE = 2;

export interface UploadArchiveOptions {
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  /** The backup tool's stdout. */
  readonly source: Readable;
  readonly compression: Compression;
  readonly storageClass?: string | undefined;
  readonly serverSideEncryption?: ObjectStoreSpec['serverSideEncryption'];
  /** Aborting it aborts the upload; the multipart upload is removed before the call rejects. */
  readonly signal?: AbortSignal | undefined;
  /**
   * Settles when the producing tool has exited. The object is completed only after it resolves,
   * so a tool that fails after writing part of its output never leaves a complete-looking archive.
   */
  readonly sourceDone?: Promise<void> | undefined;
  /** Pause before the n-th retry of aborting a failed upload is n times this; default 1 s. */
  readonly abortRetryMs?: number | undefined;
  /** A size estimate of the stored archive; parts start larger for archives beyond 52 GiB. */
  readonly expectedBytes?: number | undefined;
  /** Object Lock for the archive: the mode and the retain-until date, the same as metadata.json's. */
  readonly objectLock?: ObjectLockWrite | undefined;
}

export interface UploadedArchive {
  /** SHA-256 of the bytes as stored (after compression), lowercase hex. */
  readonly sha256: string;
  /** Bytes stored. */
  readonly size: number;
  readonly key: string;
}

type Failure =
  { kind: 'source'; error: unknown } | { kind: 'upload'; error: unknown } | { kind: 'aborted'; error: unknown };

/** zlib.createZstdCompress arrived in Node 22.15; typed here because @types/node 20 lacks it. */
type ZstdFactory = () => Transform;

/**
 * Throws UnsupportedMethodError when this worker cannot compress as asked. Call it before
 * starting the dump tool; uploadArchive checks again.
 */
export function assertCompressionSupported(compression: Compression): void {
  if (compression === 'zstd' && zstdFactory() === undefined) {
    throw new UnsupportedMethodError(
      `compression zstd needs Node.js >= 22.15 and this worker runs ${process.version}; use compression gzip or none`,
    );
  }
}

function zstdFactory(): ZstdFactory | undefined {
  const candidate = (zlib as unknown as { createZstdCompress?: unknown }).createZstdCompress;
  return typeof candidate === 'function' ? (candidate as ZstdFactory) : undefined;
}

function compressor(compression: Compression): Transform | undefined {
  assertCompressionSupported(compression);
  // Level 1: gzip runs on one core in the data path, and on SQL dumps level 1 went about twice
  // as fast as the default level 6 here (~97 vs ~43 MB/s) for archives only ~10% larger.
  if (compression === 'gzip') return zlib.createGzip({ level: zlib.constants.Z_BEST_SPEED });
  if (compression === 'zstd') return zstdFactory()?.();
  return undefined;
}

/** The part size for an archive of about `expectedBytes`, with headroom for a wrong estimate. */
export function partSizeFor(expectedBytes: number | undefined): number {
  if (expectedBytes === undefined || expectedBytes <= 0) return PART_SIZE;
  const needed = Math.ceil((expectedBytes * 1.5) / MAX_PARTS / MiB) * MiB;
  return Math.max(PART_SIZE, needed);
}

/**
 * Streams `source` into s3://bucket/key and returns what was stored. On failure the multipart
 * upload is aborted first; then an error of the source (or of sourceDone) is rethrown unchanged —
 * the tool failed, the caller reports it — and anything else becomes UploadFailedError.
 */
export async function uploadArchive(opts: UploadArchiveOptions): Promise<UploadedArchive> {
  const endpoint = await clientEndpoint(opts.client);
  const where = `s3://${opts.bucket}/${opts.key}`;
  if (opts.signal?.aborted) {
    throw new UploadFailedError(`upload of ${where} was cancelled before it started`, { cause: opts.signal.reason });
  }
  const counter = new ByteCounter();
  const stages = [opts.source, counter, compressor(opts.compression)].filter((s): s is Readable => s !== undefined);
  const writer = new MultipartWriter({
    client: opts.client,
    bucket: opts.bucket,
    key: opts.key,
    partSize: partSizeFor(opts.expectedBytes),
    queueSize: QUEUE_SIZE,
    // Holding back the last part until the tool has exited holds back the completion of the object.
    beforeComplete: async () => {
      await (opts.sourceDone ?? Promise.resolve());
      if (counter.bytes === 0) {
        const error = new DumpFailedError(
          'the backup tool wrote nothing: an empty archive is not a backup; the worker log has the tool’s output',
        );
        latch.fail({ kind: 'source', error });
        throw error;
      }
    },
    params: {
      // No ContentEncoding: clients would then decompress on download, and the bytes read back
      // would no longer match the recorded SHA-256.
      ContentType: 'application/octet-stream',
      ...(opts.storageClass ? { StorageClass: opts.storageClass as StorageClass } : {}),
      ...encryptionParams(opts.serverSideEncryption),
      ...objectLockParams(opts.objectLock),
    },
  });
  const latch = new FailureLatch(writer);
  // Registered before the pipeline's own listeners, so the first failure is known for what it is
  // even after the pipeline has destroyed every stage with it.
  opts.source.on('error', (error: unknown) => latch.fail({ kind: 'source', error }));
  opts.sourceDone?.catch((error: unknown) => latch.fail({ kind: 'source', error }));
  writer.on('error', (error: unknown) => latch.fail({ kind: 'upload', error }));
  const onAbort = (): void => latch.fail({ kind: 'aborted', error: abortError(opts.signal?.reason) });
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await pipeline([...stages, writer]).catch(() => {
      // Every stage's error reaches the latch through the listeners above.
    });
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
  const failure = latch.failure;
  if (failure === undefined) {
    const stored = { ...writer.stored(), key: opts.key };
    await checkStoredSize(opts, stored.size, { where, bucket: opts.bucket, endpoint, key: opts.key });
    return stored;
  }
  // A part still being cancelled could land after the abort and keep the upload alive.
  await writer.settled();
  const leftover = await abortLeftover(opts.client, writer.uploadId, opts);
  throw failureError(failure, { where, bucket: opts.bucket, endpoint, key: opts.key, leftover });
}

/** Counts the tool's bytes before compression: gzip of nothing is 20 bytes, still nothing. */
class ByteCounter extends Transform {
  bytes = 0;

  override _transform(
    chunk: Buffer,
    _encoding: BufferEncoding,
    done: (err?: Error | null, data?: Buffer) => void,
  ): void {
    this.bytes += chunk.length;
    done(null, chunk);
  }
}

/**
 * After completion the store must report the object at exactly the size sent: a store that lost or
 * added bytes (or a proxy that answered for it) is caught here, before metadata.json vouches for it.
 */
async function checkStoredSize(
  opts: UploadArchiveOptions,
  sent: number,
  ctx: Omit<FailureContext, 'leftover'>,
): Promise<void> {
  let reported: number | undefined;
  try {
    const head = await opts.client.send(new HeadObjectCommand({ Bucket: opts.bucket, Key: opts.key }));
    reported = head.ContentLength;
  } catch (err) {
    const explained = explainS3Error(err, { bucket: ctx.bucket, endpoint: ctx.endpoint, key: ctx.key });
    throw new UploadFailedError(`checking ${ctx.where} after completing it failed: ${explained}`, { cause: err });
  }
  if (reported === sent) return;
  throw new UploadFailedError(
    `the object store reports ${ctx.where} as ${String(reported)} bytes after completing it, but ${sent} were sent: ` +
      'the archive is not what the tool wrote, so no metadata.json vouches for it; check the object store (or a proxy in front of it), then run the backup again',
  );
}

/** Keeps the first failure and stops the data path on it. */
class FailureLatch {
  private first: Failure | undefined;

  constructor(private readonly writer: MultipartWriter) {}

  get failure(): Failure | undefined {
    return this.first;
  }

  fail(f: Failure): void {
    this.first ??= f;
    // Destroying the writer cancels its requests on the wire: a stalled connection must not keep
    // the worker (and the open multipart upload) waiting for its timeout.
    if (!this.writer.destroyed) this.writer.destroy(toError(f.error));
  }
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

function abortError(reason: unknown): Error {
  const why = reason instanceof Error ? reason.message : reason === undefined ? 'aborted' : String(reason);
  return Object.assign(new Error(`upload aborted: ${why}`), { name: 'AbortError' });
}

/** Aborts the multipart upload a failed writer left; undefined when nothing is left behind. */
async function abortLeftover(
  client: S3Client,
  uploadId: string | undefined,
  { bucket, key, abortRetryMs }: UploadArchiveOptions,
): Promise<string | undefined> {
  if (uploadId === undefined) return undefined;
  return abortUpload(client, { bucket, key, uploadId }, abortRetryMs === undefined ? {} : { retryMs: abortRetryMs });
}

interface FailureContext {
  readonly where: string;
  readonly bucket: string;
  readonly endpoint: string;
  readonly key: string;
  readonly leftover: string | undefined;
}

function failureError(failure: Failure, ctx: FailureContext): unknown {
  // The tool's own failure goes back untouched: the caller turns it into DumpFailed with the
  // tool's exit status and stderr, which say more than anything said here.
  if (failure.kind === 'source') return failure.error;
  const tail = ctx.leftover ? `; ${ctx.leftover}` : '';
  if (failure.kind === 'aborted') {
    const why = failure.error instanceof Error ? failure.error.message : String(failure.error);
    return new UploadFailedError(`upload of ${ctx.where} was cancelled (${why})${tail}`, { cause: failure.error });
  }
  const explained =
    failure.error instanceof PartLimitError || failure.error instanceof EmptyObjectError
      ? failure.error.message
      : explainS3Error(failure.error, { bucket: ctx.bucket, endpoint: ctx.endpoint, key: ctx.key });
  return new UploadFailedError(`upload of ${ctx.where} failed: ${explained}${tail}`, { cause: failure.error });
}
