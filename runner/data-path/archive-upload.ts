// The archive leg of the backup data path (DESIGN §4 step 3): the tool's stdout, optionally
// compressed, hashed and counted as stored, goes straight into an S3 multipart upload. No temp
// file; memory stays bounded by the part buffers whatever the archive size.
import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import type { S3Client, StorageClass } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Compression } from '../../crds/object-keys.js';
import type { ObjectStoreSpec } from '../../crds/object-store-types.js';
import { clientEndpoint, encryptionParams, explainS3Error } from '../../lib/s3-client.js';
import { UnsupportedMethodError, UploadFailedError } from '../work-failures.js';
import { abortUpload } from './upload-abort.js';

const MiB = 1024 * 1024;
// Memory, not speed, sets these. lib-storage keeps QUEUE_SIZE parts in flight, one filling as
// small chunks and a concatenated copy of it: (2 + 2) × 8 MiB live. V8 frees those buffers only
// at its next GC, which external memory forces every ~64 MiB, so RSS runs about 80 MiB above the
// process baseline. Measured with bench/archive-upload-bench.ts on 1 GiB into MinIO: peak RSS
// 138-145 MiB at 8 MiB × 2, 155-160 at 8 × 3, 170-200 at 16 × 2-3 (62 MiB of it the bare process);
// the budget for the worker is 150 MiB. Two parts in flight still keep a local store or a
// fast link ahead of the dump tool. 8 MiB × 10,000 parts (the S3 limit) is 78 GiB: callers with
// bigger databases pass expectedBytes, and parts (and memory) grow in proportion.
export const PART_SIZE = 8 * MiB;
export const QUEUE_SIZE = 2;
const MAX_PARTS = 10_000;

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
  const meter = new Meter(opts.sourceDone);
  const latch = new FailureLatch(meter);
  // Registered before the pipeline's own listeners, so the first failure is known for what it is
  // even after the pipeline has destroyed every stage with it.
  opts.source.on('error', (error: unknown) => latch.fail({ kind: 'source', error }));
  opts.sourceDone?.catch((error: unknown) => latch.fail({ kind: 'source', error }));
  meter.on('close', () => latch.meterClosed(meter.readableEnded));
  const onAbort = (): void => latch.fail({ kind: 'aborted', error: abortError(opts.signal?.reason) });
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  const upload = new Upload({
    client: opts.client,
    partSize: partSizeFor(opts.expectedBytes),
    queueSize: QUEUE_SIZE,
    leavePartsOnError: false,
    params: {
      Bucket: opts.bucket,
      Key: opts.key,
      Body: meter,
      // No ContentEncoding: clients would then decompress on download, and the bytes read back
      // would no longer match the recorded SHA-256.
      ContentType: 'application/octet-stream',
      ...(opts.storageClass ? { StorageClass: opts.storageClass as StorageClass } : {}),
      ...encryptionParams(opts.serverSideEncryption),
    },
  });
  // When the work is aborted (SIGTERM), in-flight part requests are cancelled at once: a stalled
  // connection must not keep the worker (and the open multipart upload) waiting for its timeout.
  latch.onFail = () => void upload.abort().catch(() => undefined);
  const uploaded = upload.done().catch((error: unknown) => latch.uploadRejected(error));
  const piped = pipeline([...stages, meter]).catch(() => {
    // Every stage's error reaches the latch through the listeners above or through the upload.
  });
  try {
    await Promise.all([uploaded, piped]);
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
  const failure = latch.failure;
  if (failure === undefined) return { ...meter.stored(), key: opts.key };
  const leftover = await abortLeftover(opts.client, upload, opts);
  throw failureError(failure, { where, bucket: opts.bucket, endpoint, key: opts.key, leftover });
}

/** Hashes and counts the bytes as stored, and holds back the end until the tool has exited. */
class Meter extends Transform {
  private readonly hash = createHash('sha256');
  // Not `size` or `length`: lib-storage reads those as the body's total length up front.
  private count = 0;

  constructor(private readonly sourceDone: Promise<void> | undefined) {
    super();
  }

  override _transform(
    chunk: Buffer,
    _encoding: BufferEncoding,
    done: (err?: Error | null, data?: Buffer) => void,
  ): void {
    this.hash.update(chunk);
    this.count += chunk.length;
    done(null, chunk);
  }

  // Holding back the end holds back the last part, and so the completion of the object.
  override _flush(done: (err?: Error | null) => void): void {
    (this.sourceDone ?? Promise.resolve()).then(
      () => done(),
      (err: unknown) => done(toError(err)),
    );
  }

  stored(): { sha256: string; size: number } {
    return { sha256: this.hash.digest('hex'), size: this.count };
  }
}

/**
 * Keeps the first failure and stops the data path on it. An upload failure is first seen as the
 * uploader dropping the stream (which the pipeline then reports against every stage, the source
 * included) and only later as the rejection that says why; both count as one upload failure.
 */
class FailureLatch {
  private first: Failure | undefined;
  private uploadError: unknown;

  constructor(private readonly meter: Meter) {}

  get failure(): Failure | undefined {
    if (this.first?.kind !== 'upload') return this.first;
    return { kind: 'upload', error: this.uploadError ?? this.first.error };
  }

  onFail: (() => void) | undefined;

  fail(f: Failure): void {
    this.first ??= f;
    if (!this.meter.destroyed) this.meter.destroy(toError(f.error));
    // Only an abort cancels the uploader: its own failures (and the source errors the pipeline
    // derives from them) must surface as they are.
    if (f.kind === 'aborted') this.onFail?.();
  }

  uploadRejected(error: unknown): void {
    this.uploadError ??= error;
    this.fail({ kind: 'upload', error });
  }

  meterClosed(ended: boolean): void {
    if (!ended) this.first ??= { kind: 'upload', error: new Error('the upload stopped reading the archive') };
  }
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

function abortError(reason: unknown): Error {
  const why = reason instanceof Error ? reason.message : reason === undefined ? 'aborted' : String(reason);
  return Object.assign(new Error(`upload aborted: ${why}`), { name: 'AbortError' });
}

/**
 * lib-storage aborts its multipart upload on failure, but if that request itself failed the
 * parts would stay billed in the bucket: abort once more and say so if it still cannot be done.
 * Returns undefined when nothing is left behind.
 */
async function abortLeftover(
  client: S3Client,
  upload: Upload,
  { bucket, key, abortRetryMs }: UploadArchiveOptions,
): Promise<string | undefined> {
  if (upload.uploadId === undefined) return undefined;
  return abortUpload(
    client,
    { bucket, key, uploadId: upload.uploadId },
    abortRetryMs === undefined ? {} : { retryMs: abortRetryMs },
  );
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
  const explained = tooManyParts(failure.error)
    ? `the archive outgrew ${MAX_PARTS} parts (the S3 limit); pass expectedBytes so that parts are sized for it`
    : explainS3Error(failure.error, { bucket: ctx.bucket, endpoint: ctx.endpoint, key: ctx.key });
  return new UploadFailedError(`upload of ${ctx.where} failed: ${explained}${tail}`, { cause: failure.error });
}

function tooManyParts(err: unknown): boolean {
  return err instanceof Error && /^Exceeded \d+ parts in multipart upload/.test(err.message);
}
