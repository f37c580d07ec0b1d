// The archive leg of the backup data path (docs/design.md, backup step 3): the tool's stdout, optionally
// compressed, hashed and counted as stored, goes straight into an S3 multipart upload. No temp
// file; memory stays bounded by the part buffers whatever the archive size.
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import type { S3Client, StorageClass } from '@aws-sdk/client-s3';
import type { Compression } from '../../crds/object-keys.js';
import type { ObjectStoreSpec } from '../../crds/object-store-types.js';
import { clientEndpoint, encryptionParams, explainS3Error } from '../../lib/s3-client.js';
import { UnsupportedMethodError, UploadFailedError } from '../work-failures.js';
import { MAX_PARTS, MultipartWriter, PartLimitError } from './multipart-writer.js';
import { abortUpload } from './upload-abort.js';

const MiB = 1024 * 1024;
// Memory sets these: the writer holds QUEUE_SIZE parts in flight and one filling, (2 + 1) × 8 MiB,
// allocated once. Two parts in flight keep a local store or a fast link ahead of the dump tool.
// 8 MiB × 10,000 parts (the S3 limit) is 78 GiB: callers with bigger databases pass
// expectedBytes, and parts (and memory) grow in proportion.
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
  /** A size estimate of the stored archive; only to size parts for archives beyond 156 GiB. */
  readonly expectedBytes?: number | undefined;
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
  const stages = [opts.source, compressor(opts.compression)].filter((s): s is Readable => s !== undefined);
  const writer = new MultipartWriter({
    client: opts.client,
    bucket: opts.bucket,
    key: opts.key,
    partSize: partSizeFor(opts.expectedBytes),
    queueSize: QUEUE_SIZE,
    // Where the SDK adds its own part checksums (AWS), they must be declared for the upload.
    checksumAlgorithm:
      (await opts.client.config.requestChecksumCalculation()) === 'WHEN_SUPPORTED' ? 'CRC32' : undefined,
    // Holding back the last part until the tool has exited holds back the completion of the object.
    beforeComplete: () => opts.sourceDone ?? Promise.resolve(),
    params: {
      // No ContentEncoding: clients would then decompress on download, and the bytes read back
      // would no longer match the recorded SHA-256.
      ContentType: 'application/octet-stream',
      ...(opts.storageClass ? { StorageClass: opts.storageClass as StorageClass } : {}),
      ...encryptionParams(opts.serverSideEncryption),
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
  if (failure === undefined) return { ...writer.stored(), key: opts.key };
  // A part still being cancelled could land after the abort and keep the upload alive.
  await writer.settled();
  const leftover = await abortLeftover(opts.client, writer.uploadId, opts);
  throw failureError(failure, { where, bucket: opts.bucket, endpoint, key: opts.key, leftover });
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
    failure.error instanceof PartLimitError
      ? failure.error.message
      : explainS3Error(failure.error, { bucket: ctx.bucket, endpoint: ctx.endpoint, key: ctx.key });
  return new UploadFailedError(`upload of ${ctx.where} failed: ${explained}${tail}`, { cause: failure.error });
}
