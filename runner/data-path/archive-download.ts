// The archive leg of the restore data path (docs/design.md, "Restore data path"): no unverified byte
// reaches a target. verifyArchive reads the whole archive once, hashing and counting; openArchive
// then streams it again (decompressed), pinned to the verified object by its ETag and hashed once
// more, so that an object replaced between the two reads cannot slip through. Bounded memory: the
// bytes flow, nothing is buffered whole.
import { createHash, type Hash } from 'node:crypto';
import { PassThrough, Readable, Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { GetObjectCommand, type GetObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import type { BackupMetadataType } from '../../crds/backup-metadata-types.js';
import type { Compression } from '../../crds/object-keys.js';
import { messageOf } from '../../lib/error-message.js';
import { clientEndpoint, explainS3Error, S3_SOCKET_TIMEOUTS } from '../../lib/s3-client.js';
import { ChecksumMismatchError, DownloadFailedError, UnsupportedMethodError } from '../work-failures.js';
import { readOverSocket, releaseBatch } from './archive-socket-read.js';

export interface ArchiveSource {
  readonly client: S3Client;
  readonly bucket: string;
  /** Validated, from a listing or a Backup's status; its objectKey, size and sha256 are trusted. */
  readonly metadata: BackupMetadataType;
}

export interface VerifiedArchive {
  /** The object's ETag, so that the second read can insist on the same object. */
  readonly etag?: string | undefined;
  readonly sha256: string;
  readonly size: number;
}

/** zlib.createZstdDecompress arrived in Node 22.15; typed here because @types/node 20 lacks it. */
type ZstdFactory = () => Transform;

function zstdDecompressFactory(): ZstdFactory | undefined {
  const candidate = (zlib as unknown as { createZstdDecompress?: unknown }).createZstdDecompress;
  return typeof candidate === 'function' ? (candidate as ZstdFactory) : undefined;
}

/** Throws UnsupportedMethodError when this process cannot decompress as the archive needs. */
export function assertDecompressionSupported(compression: Compression): void {
  if (compression === 'zstd' && zstdDecompressFactory() === undefined) {
    throw new UnsupportedMethodError(
      `the archive is zstd-compressed, which needs Node.js >= 22.15 to decompress, and this runs ${process.version}; ` +
        'restore with a Lifeboat image on a newer Node.js, or read the archive raw and decompress it with zstd -d',
    );
  }
}

function decompressor(compression: Compression): Transform | undefined {
  assertDecompressionSupported(compression);
  if (compression === 'gzip') return zlib.createGunzip();
  if (compression === 'zstd') return zstdDecompressFactory()?.();
  return undefined;
}

function whereOf(src: ArchiveSource): string {
  return `s3://${src.bucket}/${src.metadata.objectKey}`;
}

/**
 * Reads the whole archive once, hashing and counting; rejects ChecksumMismatchError (size or
 * SHA-256 differ: says both values and that nothing was applied) or DownloadFailedError. Resolves
 * with the ETag so the second read can insist on the same object.
 */
export async function verifyArchive(
  src: ArchiveSource,
  opts: { signal?: AbortSignal; onProgress?: (bytes: number) => void } = {},
): Promise<VerifiedArchive> {
  // Raw bytes, only hashed: a socket of its own over plain http, each batch handed back once hashed.
  const got = await getArchive(src, undefined, opts.signal, true);
  const body = bodyStream(got, src);
  const check = new ArchiveCheck(src, opts.onProgress);
  try {
    await pipeline(body, check, discard(), { signal: opts.signal });
  } catch (err) {
    throw readError(err, src, opts.signal);
  }
  return { etag: got.ETag, sha256: check.sha256, size: check.size };
}

/**
 * A stream of the archive's bytes, decompressed per metadata.compression, read with IfMatch etag
 * when given. The raw bytes are hashed as they flow and the stream errors with
 * ChecksumMismatchError at its end when they differ from metadata, before it ends: a consumer that
 * saw 'end' saw every byte verified. `raw: true` skips decompression. `socketRead: true` reads a
 * plain-http store over a socket of its own into reused 1 MiB batches (archive-socket-read.ts),
 * when nothing is decompressed: for a consumer that hands each chunk back with releaseBatch once
 * it has written it.
 */
export function openArchive(
  src: ArchiveSource,
  opts: { etag?: string; signal?: AbortSignal; raw?: boolean; socketRead?: boolean } = {},
): Readable {
  const out = new PassThrough();
  const feed = async (): Promise<void> => {
    const unpack = opts.raw === true ? undefined : decompressor(src.metadata.compression);
    // A decompressor keeps the bytes it is given, and hands nothing back: the SDK's reads then.
    const got = await getArchive(src, opts.etag, opts.signal, opts.socketRead === true && unpack === undefined);
    const sink = forwardInto(out);
    try {
      const check = new ArchiveCheck(src, undefined, opts.etag !== undefined);
      await pipeline([bodyStream(got, src), check, ...(unpack ? [unpack] : []), sink], {
        signal: opts.signal,
      });
    } catch (err) {
      throw unpack !== undefined && isZlibError(err) ? undecompressable(src, err) : readError(err, src, opts.signal);
    }
    out.end();
  };
  // `out` is outside the pipeline, so that the reader sees our verdict (a WorkFailure), never a
  // stage's raw error or a bare AbortError.
  feed().catch((err: unknown) => out.destroy(err instanceof Error ? err : new Error(String(err))));
  return out;
}

/** Writes into `out` with its backpressure; fails when the reader has gone, which stops the download. */
function forwardInto(out: PassThrough): Writable {
  const sink = new Writable({
    write: (chunk: Buffer, _enc: BufferEncoding, done: (err?: Error) => void): void => {
      if (out.destroyed) return done(new Error('the reader stopped reading the archive'));
      if (out.write(chunk)) return done();
      out.once('drain', () => done());
    },
  });
  out.once('close', () => {
    if (!sink.writableFinished) sink.destroy(new Error('the reader stopped reading the archive'));
  });
  return sink;
}

// A gzip stream that fails after its bytes were verified (or pinned by ETag to verified ones) was
// stored damaged; with no ETag the hash verdict may simply not have come yet.
function undecompressable(src: ArchiveSource, err: unknown): DownloadFailedError {
  return new DownloadFailedError(
    `${whereOf(src)} does not decompress as ${src.metadata.compression} (${messageOf(err)}); ` +
      'it was damaged before it was hashed, or its metadata.json is wrong: choose another backup',
    { cause: err },
  );
}

async function getArchive(
  src: ArchiveSource,
  etag: string | undefined,
  signal: AbortSignal | undefined,
  socketRead = false,
): Promise<GetObjectCommandOutput> {
  const key = src.metadata.objectKey;
  const command = new GetObjectCommand({
    Bucket: src.bucket,
    Key: key,
    ...(etag === undefined ? {} : { IfMatch: etag }),
  });
  if (socketRead) readOverSocket(command, S3_SOCKET_TIMEOUTS, signal);
  let got: GetObjectCommandOutput;
  try {
    got = await src.client.send(command, { abortSignal: signal });
  } catch (err) {
    throw await requestError(err, src, signal);
  }
  // A truncated or padded object is known from its length before a byte is hashed.
  if (got.ContentLength !== undefined && got.ContentLength !== src.metadata.size) {
    (got.Body as Readable | undefined)?.destroy?.();
    throw sizeMismatch(src, got.ContentLength);
  }
  return got;
}

async function requestError(err: unknown, src: ArchiveSource, signal: AbortSignal | undefined): Promise<Error> {
  const where = whereOf(src);
  if (signal?.aborted) return new DownloadFailedError(`reading ${where} was cancelled`, { cause: err });
  const e = err as { name?: unknown; $metadata?: { httpStatusCode?: unknown } };
  if (e.name === 'NoSuchKey') {
    return new DownloadFailedError(
      `archive ${where} is missing: the backup is incomplete or was deleted; choose another backup`,
      {
        cause: err,
      },
    );
  }
  if (e.name === 'PreconditionFailed' || e.$metadata?.httpStatusCode === 412) {
    return new DownloadFailedError(
      `the archive changed since it was verified (${where} has another ETag now); nothing was applied: verify and restore again`,
      { cause: err },
    );
  }
  const explained = explainS3Error(err, {
    bucket: src.bucket,
    endpoint: await clientEndpoint(src.client),
    key: src.metadata.objectKey,
  });
  return new DownloadFailedError(`reading ${where} failed: ${explained}`, { cause: err });
}

function bodyStream(got: GetObjectCommandOutput, src: ArchiveSource): Readable {
  if (got.Body instanceof Readable) return got.Body;
  throw new DownloadFailedError(`reading ${whereOf(src)} gave no byte stream; this S3 client is not the Node.js one`);
}

/** Our own verdicts pass through; anything else on the wire becomes DownloadFailedError. */
function readError(err: unknown, src: ArchiveSource, signal: AbortSignal | undefined): Error {
  if (err instanceof ChecksumMismatchError || err instanceof DownloadFailedError) return err;
  if (err instanceof UnsupportedMethodError) return err;
  const why = signal?.aborted ? 'was cancelled' : `broke off: ${messageOf(err)}; check the object store, then retry`;
  return new DownloadFailedError(`reading ${whereOf(src)} ${why}`, { cause: err });
}

function isZlibError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}

function sizeMismatch(src: ArchiveSource, size: number): ChecksumMismatchError {
  return new ChecksumMismatchError(
    `${whereOf(src)} is ${size} bytes but metadata.json records ${src.metadata.size}; ` +
      'the archive is truncated or was altered, nothing was applied: choose another backup',
  );
}

/** Hashes and counts the raw bytes as they pass; fails at the end (or on overflow) when they differ. */
class ArchiveCheck extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private count = 0;
  private digest = '';

  constructor(
    private readonly src: ArchiveSource,
    private readonly onProgress?: (bytes: number) => void,
    /** The object was verified before this read (pinned by its ETag): a mismatch arose on the way. */
    private readonly reread = false,
  ) {
    super();
  }

  get sha256(): string {
    return this.digest;
  }

  get size(): number {
    return this.count;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.count += chunk.length;
    // More bytes than recorded: stop now rather than read on to the end of a padded object.
    if (this.count > this.src.metadata.size) return done(sizeMismatch(this.src, this.count));
    this.hash.update(chunk);
    this.onProgress?.(this.count);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    this.digest = this.hash.digest('hex');
    const want = this.src.metadata;
    if (this.count !== want.size) return done(sizeMismatch(this.src, this.count));
    if (this.digest === want.sha256) return done();
    const where = whereOf(this.src);
    done(
      new ChecksumMismatchError(
        this.reread
          ? `${where} read again had SHA-256 ${this.digest}, not the ${want.sha256} it had when verified: ` +
              'the bytes were damaged on the way or the object store changed them; check the network and the store, then restore again'
          : `${where} has SHA-256 ${this.digest} but metadata.json records ${want.sha256}; ` +
              'the archive is damaged or was altered, nothing was applied: choose another backup',
      ),
    );
  }
}

/** Consumes the verified bytes: verifying needs only their hash. */
function discard(): Writable {
  return new Writable({
    write: (chunk: Buffer, _enc: BufferEncoding, done: () => void): void => {
      releaseBatch(chunk);
      done();
    },
  });
}
