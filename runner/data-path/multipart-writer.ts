// The object-store end of the archive leg: a Writable that hashes and counts what it is given and
// sends it as the parts of one S3 multipart upload. Parts are assembled in a few buffers that are
// allocated once and reused, so streaming an archive allocates almost nothing per byte. That is
// why this is not @aws-sdk/lib-storage: its Upload concatenates every part into a fresh buffer,
// and on a 1 GiB archive the copies and the garbage collection they cause took twice the CPU of
// this writer (bench/archive-upload-bench.ts: 8.6-9.4 s against 4.6 s).
//
// Parts grow as they are used (docs/design.md, "Part sizes"): every GROW_EVERY parts the part size
// doubles, so 10,000 parts reach past the 5 TiB object limit however small the first part is, and
// an archive pays for large buffers only once it is large. Every write is conditional
// (If-None-Match: *): a backup never replaces an object that is already there.
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type CreateMultipartUploadCommandInput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { crc32Base64, partChecksumAlgorithm } from '../../lib/s3-client.js';

/** The S3 limit on parts per multipart upload. */
export const MAX_PARTS = 10_000;
/** The S3 limits on a part's size (the last part may be smaller). */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
export const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024;
/** Parts of one size before the size doubles. */
export const GROW_EVERY = 1000;

/** The size of part `n` (from 1) when the first is `first` bytes: doubled every `growEvery` parts, at most 5 GiB. */
export function partSizeAt(n: number, first: number, growEvery = GROW_EVERY): number {
  const doublings = Math.floor((n - 1) / growEvery);
  return Math.min(MAX_PART_SIZE, first * 2 ** Math.min(doublings, 30));
}

/** How many parts an object of `bytes` takes when the first part is `first` bytes. */
export function partsFor(bytes: number, first: number, growEvery = GROW_EVERY): number {
  let parts = 0;
  for (let left = bytes; left > 0;) {
    const size = partSizeAt(parts + 1, first, growEvery);
    // Whole runs of equal parts at once: 10,000 steps of one part each would be fine too, but slower.
    const inRun = growEvery - (parts % growEvery);
    const run = Math.min(inRun, Math.ceil(left / size));
    parts += run;
    left -= run * size;
  }
  return parts;
}

/** What the object is created with, besides its bucket and key. */
export type ObjectParams = Omit<CreateMultipartUploadCommandInput, 'Bucket' | 'Key'>;

export interface MultipartWriterOptions {
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  readonly params: ObjectParams;
  /** Bytes of the first part; later parts follow partSizeAt, and each but the last is full. */
  readonly partSize: number;
  /** Parts of one size before the size doubles; GROW_EVERY by default. */
  readonly growEvery?: number | undefined;
  /** Parts uploading at once; one more buffer fills meanwhile. */
  readonly queueSize: number;
  /** Awaited before the last part is sent and the object completed. */
  readonly beforeComplete?: (() => Promise<void>) | undefined;
  readonly maxParts?: number | undefined;
  /** The checksum each part carries; by default what partChecksumAlgorithm says for the client. */
  readonly partChecksum?: 'CRC32' | 'SHA256' | undefined;
}

/** The archive needs more than MAX_PARTS parts of the sizes chosen. */
export class PartLimitError extends Error {
  constructor(maxParts: number) {
    super(`the archive outgrew ${maxParts} parts (the S3 limit); pass expectedBytes so that parts are sized for it`);
    this.name = 'PartLimitError';
  }
}

/** Nothing was written: an empty object is never stored. */
export class EmptyObjectError extends Error {
  constructor(key: string) {
    super(`nothing was written for ${key}; an empty object is not stored`);
    this.name = 'EmptyObjectError';
  }
}

export class MultipartWriter extends Writable {
  private readonly hash = createHash('sha256');
  private count = 0;
  private digest: Buffer | undefined;
  private readonly free: Buffer[] = [];
  private allocated = 0;
  private held = 0;
  private peakHeld = 0;
  private current: Buffer | undefined;
  private filled = 0;
  private partNumber = 0;
  private readonly parts: CompletedPart[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private created: Promise<string> | undefined;
  private createdId: string | undefined;
  private partFailure: unknown;
  private readonly cancel = new AbortController();

  private readonly partChecksum: 'CRC32' | 'SHA256';

  constructor(private readonly opts: MultipartWriterOptions) {
    super();
    this.partChecksum = opts.partChecksum ?? partChecksumAlgorithm(opts.client);
    if (!(opts.queueSize >= 1)) throw new RangeError(`queueSize must be 1 or more, not ${opts.queueSize}`);
  }

  /** The multipart upload's id once one was created: what to abort after a failure. */
  get uploadId(): string | undefined {
    return this.createdId;
  }

  /** Part buffers made so far: queueSize + 1 per part size used. */
  get buffersAllocated(): number {
    return this.allocated;
  }

  /**
   * The most bytes of part buffers held at once: (queueSize + 1) × the part size in use, plus, just
   * after the size doubles, the queueSize parts of the previous size still in flight.
   */
  get peakBufferBytes(): number {
    return this.peakHeld;
  }

  /** SHA-256 (lowercase hex) and size of the bytes written; read after 'finish'. */
  stored(): { sha256: string; size: number } {
    return { sha256: this.fullDigest().toString('hex'), size: this.count };
  }

  private fullDigest(): Buffer {
    this.digest ??= this.hash.digest();
    return this.digest;
  }

  /** The size of the part being filled. */
  private get partSize(): number {
    return partSizeAt(this.partNumber + 1, this.opts.partSize, this.opts.growEvery);
  }

  /** Settles once no request of this writer is still running, whatever their outcome. */
  async settled(): Promise<void> {
    await Promise.allSettled([this.created, ...this.inFlight]);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    this.take(chunk).then(
      () => done(),
      (err: unknown) => done(toError(err)),
    );
  }

  override _final(done: (err?: Error | null) => void): void {
    this.finish().then(
      () => done(),
      (err: unknown) => done(toError(err)),
    );
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    // A part still on the wire would keep the upload (and a stalled connection) alive.
    this.cancel.abort(err ?? new Error('the archive writer was destroyed'));
    done(err);
  }

  private async take(chunk: Buffer): Promise<void> {
    this.hash.update(chunk);
    this.count += chunk.length;
    for (let at = 0; at < chunk.length;) {
      const part = this.current ?? this.freeBuffer();
      this.current = part;
      const copied = chunk.copy(part, this.filled, at);
      this.filled += copied;
      at += copied;
      if (this.filled === part.length) await this.sendCurrent();
    }
  }

  /**
   * A released buffer of the current part size, or a new one. With at most queueSize parts in
   * flight and none filling (sendCurrent waits for a slot first), queueSize + 1 buffers always
   * leave one free. Buffers of an earlier, smaller size are let go.
   */
  private freeBuffer(): Buffer {
    const size = this.partSize;
    for (let reused = this.free.pop(); reused; reused = this.free.pop()) {
      if (reused.length === size) return reused;
      this.held -= reused.length;
    }
    this.allocated += 1;
    this.held += size;
    this.peakHeld = Math.max(this.peakHeld, this.held);
    return Buffer.allocUnsafe(size);
  }

  /** Sends the filled buffer as the next part once fewer than queueSize parts are in flight. */
  private async sendCurrent(): Promise<void> {
    while (this.inFlight.size >= this.opts.queueSize) await Promise.race(this.inFlight);
    this.throwIfFailed();
    const buffer = this.current;
    if (!buffer) return;
    const length = this.filled;
    this.current = undefined;
    this.filled = 0;
    this.partNumber += 1;
    const maxParts = this.opts.maxParts ?? MAX_PARTS;
    if (this.partNumber > maxParts) throw new PartLimitError(maxParts);
    const sent = this.sendPart(buffer, length, this.partNumber).then(
      () => {
        if (buffer.length === this.partSize) this.free.push(buffer);
        else this.held -= buffer.length;
      },
      (err: unknown) => {
        this.partFailure ??= err;
        this.destroy(toError(err));
      },
    );
    const tracked = sent.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  private async sendPart(body: Buffer, length: number, partNumber: number): Promise<void> {
    const { client, bucket, key } = this.opts;
    this.created ??= this.createUpload();
    const uploadId = await this.created;
    this.cancel.signal.throwIfAborted();
    const part = body.subarray(0, length);
    // The store checks each part against its checksum as it arrives; which one depends on the
    // transport (partChecksumAlgorithm). The archive's own SHA-256, which every restore checks, is
    // computed once over every byte beside it (docs/design.md, "Checksums").
    const checksum =
      this.partChecksum === 'CRC32'
        ? { ChecksumCRC32: crc32Base64(part) }
        : { ChecksumSHA256: createHash('sha256').update(part).digest('base64') };
    const command = new UploadPartCommand({
      Bucket: bucket,
      Key: key,
      UploadId: uploadId,
      PartNumber: partNumber,
      Body: part,
      ContentLength: length,
      ...checksum,
    });
    const { ETag } = await client.send(command, { abortSignal: this.cancel.signal });
    this.parts.push({ PartNumber: partNumber, ETag, ...checksum });
  }

  private async createUpload(): Promise<string> {
    const { client, bucket, key, params } = this.opts;
    const create = new CreateMultipartUploadCommand({
      ...params,
      ChecksumAlgorithm: this.partChecksum,
      Bucket: bucket,
      Key: key,
    });
    const { UploadId } = await client.send(create, {
      abortSignal: this.cancel.signal,
    });
    if (!UploadId) throw new Error('the object store created a multipart upload without an UploadId');
    this.createdId = UploadId;
    return UploadId;
  }

  private async finish(): Promise<void> {
    await this.opts.beforeComplete?.();
    this.throwIfFailed();
    if (this.count === 0) throw new EmptyObjectError(this.opts.key);
    if (this.created === undefined) {
      await this.putWhole();
      return;
    }
    if (this.filled > 0) await this.sendCurrent();
    while (this.inFlight.size > 0) await Promise.race(this.inFlight);
    this.throwIfFailed();
    const uploadId = await this.created;
    const parts = [...this.parts].sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    await this.opts.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.opts.bucket,
        Key: this.opts.key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts },
        IfNoneMatch: '*',
      }),
      { abortSignal: this.cancel.signal },
    );
  }

  /** An archive smaller than one part goes up in a single PutObject, with its full-object SHA-256. */
  private async putWhole(): Promise<void> {
    const { client, bucket, key, params } = this.opts;
    const body = this.current?.subarray(0, this.filled) ?? Buffer.alloc(0);
    const command = new PutObjectCommand({
      ...params,
      Bucket: bucket,
      Key: key,
      Body: body,
      ContentLength: body.length,
      ChecksumSHA256: this.fullDigest().toString('base64'),
      IfNoneMatch: '*',
    });
    await client.send(command, { abortSignal: this.cancel.signal });
  }

  private throwIfFailed(): void {
    if (this.partFailure !== undefined) throw this.partFailure;
  }
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
