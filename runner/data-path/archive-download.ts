// The archive leg of the restore data path (docs/design.md, "Restore data path"): no unverified byte
// reaches a target. verifyArchive reads the whole archive once, hashing and counting; openArchive
// then streams it again (decompressed), pinned to the verified object by its ETag and hashed once
// more, so that an object replaced between the two reads cannot slip through. Bounded memory: the
// bytes flow, nothing is buffered whole. A read that breaks off is resumed where it stopped, on
// the same object (docs/design.md, "Resuming a read that broke off").
import { createHash, type Hash } from 'node:crypto';
import { PassThrough, Readable, Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { GetObjectCommand, type GetObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import type { BackupMetadataType } from '../../crds/backup-metadata-types.js';
import type { Compression } from '../../crds/object-keys.js';
import { messageOf } from '../../lib/error-message.js';
import type { Logger } from '../../lib/logger.js';
import { clientEndpoint, explainS3Error, S3_SOCKET_TIMEOUTS } from '../../lib/s3-client.js';
import { ChecksumMismatchError, DownloadFailedError, UnsupportedMethodError } from '../work-failures.js';
import { resumingBody, type ResumedRead } from './archive-resume.js';
import { readOverSocket, releaseBatch } from './archive-socket-read.js';

export { RESUMES_WITHOUT_PROGRESS, type ResumedRead } from './archive-resume.js';

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

/** How a read is made: cancelled by `signal`, each resumption logged to `log` and told to `onResume`. */
export interface ReadOptions {
  readonly signal?: AbortSignal | undefined;
  readonly log?: Logger | undefined;
  readonly onResume?: ((resumed: ResumedRead) => void) | undefined;
  /** Called as the archive's raw bytes pass, with how many have passed so far (resumed reads included once). */
  readonly onProgress?: ((bytesRead: number) => void) | undefined;
  /** For tests: shorter waits between failed requests for the rest than about a minute in all. */
  readonly retryDelaysMs?: readonly number[] | undefined;
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
export async function verifyArchive(src: ArchiveSource, opts: ReadOptions = {}): Promise<VerifiedArchive> {
  // Raw bytes, only hashed: a socket of its own over plain http, each batch handed back once hashed.
  const read = { ...readOptions(opts), socketRead: true };
  const got = await getArchive(src, undefined, read);
  const body = resumingRead(src, got, read);
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
  opts: ReadOptions & { etag?: string; raw?: boolean; socketRead?: boolean } = {},
): Readable {
  const out = new PassThrough();
  const feed = async (): Promise<void> => {
    const unpack = opts.raw === true ? undefined : decompressor(src.metadata.compression);
    // A decompressor keeps the bytes it is given, and hands nothing back: the SDK's reads then.
    const read = { ...readOptions(opts), socketRead: opts.socketRead === true && unpack === undefined };
    const got = await getArchive(src, opts.etag, read);
    const sink = forwardInto(out);
    try {
      const check = new ArchiveCheck(src, opts.onProgress, opts.etag !== undefined);
      await pipeline([resumingRead(src, got, read), check, ...(unpack ? [unpack] : []), sink], {
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

/** How one GetObject of a read is made. */
interface GetOptions extends ReadOptions {
  /** Over a socket of its own on plain http (archive-socket-read.ts). */
  readonly socketRead: boolean;
}

function readOptions(opts: ReadOptions): ReadOptions {
  return { signal: opts.signal, log: opts.log, onResume: opts.onResume, retryDelaysMs: opts.retryDelaysMs };
}

/** The archive from byte `from` on (0: whole), pinned to `etag` when given. */
async function getArchive(
  src: ArchiveSource,
  etag: string | undefined,
  opts: GetOptions,
  from = 0,
): Promise<GetObjectCommandOutput> {
  const command = new GetObjectCommand({
    Bucket: src.bucket,
    Key: src.metadata.objectKey,
    ...(etag === undefined ? {} : { IfMatch: etag }),
    ...(from === 0 ? {} : { Range: `bytes=${from}-` }),
  });
  if (opts.socketRead) readOverSocket(command, S3_SOCKET_TIMEOUTS, opts.signal);
  let got: GetObjectCommandOutput;
  try {
    got = await src.client.send(command, { abortSignal: opts.signal });
  } catch (err) {
    throw await requestError(err, src, opts.signal, from);
  }
  const problem = from === 0 ? wholeProblem(src, got) : rangeProblem(src, got, from, etag);
  if (problem) {
    (got.Body as Readable | undefined)?.destroy?.();
    throw problem;
  }
  return got;
}

/** A truncated or padded object is known from its length before a byte is hashed. */
function wholeProblem(src: ArchiveSource, got: GetObjectCommandOutput): Error | undefined {
  if (got.ContentLength === undefined || got.ContentLength === src.metadata.size) return undefined;
  return sizeMismatch(src, got.ContentLength);
}

/** A resumed read must be given exactly the bytes still to come, of the same object. */
function rangeProblem(
  src: ArchiveSource,
  got: GetObjectCommandOutput,
  from: number,
  etag: string | undefined,
): Error | undefined {
  // A store that ignored If-Match: the rest is of another object.
  if (got.ETag !== undefined && etag !== undefined && got.ETag !== etag) return replacedWhileRead(src, from);
  const size = src.metadata.size;
  if (isRestOf(got, from, size)) return undefined;
  const answer = got.ContentRange
    ? `bytes ${got.ContentRange.replace(/^bytes /, '')}`
    : `${got.ContentLength ?? 'unknown'} bytes, no range`;
  return new DownloadFailedError(
    `reading ${whereOf(src)} broke off at byte ${from} of ${size}, and the object store answered the read from there ` +
      `with ${answer}, not bytes ${from}-${size - 1}/${size}: check that the store serves byte ranges, then retry`,
  );
}

/** Content-Range `bytes FROM-(SIZE-1)/SIZE` (or `/*`), and a Content-Length to match when given. */
function isRestOf(got: GetObjectCommandOutput, from: number, size: number): boolean {
  const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(got.ContentRange ?? '');
  if (range === null || Number(range[1]) !== from || Number(range[2]) !== size - 1) return false;
  if (range[3] !== '*' && Number(range[3]) !== size) return false;
  return got.ContentLength === undefined || got.ContentLength === size - from;
}

async function requestError(
  err: unknown,
  src: ArchiveSource,
  signal: AbortSignal | undefined,
  from: number,
): Promise<Error> {
  const where = whereOf(src);
  if (signal?.aborted) return new DownloadFailedError(`reading ${where} was cancelled`, { cause: err });
  if (isPreconditionFailed(err)) return from > 0 ? replacedWhileRead(src, from, err) : changedSinceVerified(src, err);
  if ((err as { name?: unknown }).name === 'NoSuchKey') {
    return new DownloadFailedError(
      `archive ${where} is missing: the backup is incomplete or was deleted; choose another backup`,
      {
        cause: err,
      },
    );
  }
  const explained = explainS3Error(err, {
    bucket: src.bucket,
    endpoint: await clientEndpoint(src.client),
    key: src.metadata.objectKey,
  });
  return new DownloadFailedError(`reading ${where} failed: ${explained}`, { cause: err });
}

function isPreconditionFailed(err: unknown): boolean {
  const e = err as { name?: unknown; $metadata?: { httpStatusCode?: unknown } };
  return e.name === 'PreconditionFailed' || e.$metadata?.httpStatusCode === 412;
}

/** The apply read, pinned to the verified object, found another: nothing was read of it yet. */
function changedSinceVerified(src: ArchiveSource, err: unknown): DownloadFailedError {
  return new DownloadFailedError(
    `the archive changed since it was verified (${whereOf(src)} has another ETag now); nothing was applied: verify and restore again`,
    { cause: err },
  );
}

/** The object changed between a break and the read of the rest: what was read is of one that is gone. */
function replacedWhileRead(src: ArchiveSource, from: number, cause?: unknown): DownloadFailedError {
  return new DownloadFailedError(
    `${whereOf(src)} was replaced while it was read (its ETag changed after byte ${from} of ${src.metadata.size}); ` +
      'leave the backup unchanged while it is restored, then restore again, or choose another backup if it was overwritten',
    cause === undefined ? undefined : { cause },
  );
}

function bodyStream(got: GetObjectCommandOutput, src: ArchiveSource): Readable {
  if (got.Body instanceof Readable) return got.Body;
  throw new DownloadFailedError(`reading ${whereOf(src)} gave no byte stream; this S3 client is not the Node.js one`);
}

/** The first answer's body, then the rest from where a break stopped it (archive-resume.ts). */
function resumingRead(src: ArchiveSource, first: GetObjectCommandOutput, opts: GetOptions): Readable {
  // Pinned to the object of the first answer (the verified one, when the caller gave its ETag).
  const etag = first.ETag;
  return resumingBody(bodyStream(first, src), {
    where: whereOf(src),
    size: src.metadata.size,
    etag,
    reopen: async (at) => bodyStream(await getArchive(src, etag, opts, at), src),
    signal: opts.signal,
    log: opts.log,
    onResume: opts.onResume,
    retryDelaysMs: opts.retryDelaysMs,
  });
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
