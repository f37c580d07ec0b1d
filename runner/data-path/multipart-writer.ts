// The object-store end of the archive leg: a Writable that hashes and counts what it is given and
// sends it as the parts of one S3 multipart upload. Parts are assembled in a few buffers that are
// allocated once and reused, so streaming an archive allocates almost nothing per byte. That is
// why this is not @aws-sdk/lib-storage: its Upload concatenates every part into a fresh buffer,
// and on a 1 GiB archive the copies and the garbage collection they cause took twice the CPU of
// this writer (bench/archive-upload-bench.ts: 8.6-9.4 s against 4.6 s).
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

/** The S3 limit on parts per multipart upload. */
export const MAX_PARTS = 10_000;

/** What the object is created with, besides its bucket and key. */
export type ObjectParams = Omit<CreateMultipartUploadCommandInput, 'Bucket' | 'Key'>;

export interface MultipartWriterOptions {
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  readonly params: ObjectParams;
  /** Bytes per part; every part but the last has exactly this size. */
  readonly partSize: number;
  /** Parts uploading at once; one more buffer fills meanwhile. */
  readonly queueSize: number;
  /**
   * A checksum S3 computes and checks for every part, declared when the upload is created and
   * repeated for each part when it completes. Needed where the SDK adds part checksums by itself
   * (AWS: requestChecksumCalculation WHEN_SUPPORTED), which S3 refuses unless declared so.
   */
  readonly checksumAlgorithm?: 'CRC32' | undefined;
  /** Awaited before the last part is sent and the object completed. */
  readonly beforeComplete?: (() => Promise<void>) | undefined;
  readonly maxParts?: number | undefined;
}

/** The archive needs more than MAX_PARTS parts of the size chosen. */
export class PartLimitError extends Error {
  constructor(maxParts: number) {
    super(`the archive outgrew ${maxParts} parts (the S3 limit); pass expectedBytes so that parts are sized for it`);
    this.name = 'PartLimitError';
  }
}

export class MultipartWriter extends Writable {
  private readonly hash = createHash('sha256');
  private count = 0;
  private readonly free: Buffer[] = [];
  private allocated = 0;
  private current: Buffer | undefined;
  private filled = 0;
  private partNumber = 0;
  private readonly parts: CompletedPart[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private created: Promise<string> | undefined;
  private createdId: string | undefined;
  private partFailure: unknown;
  private readonly cancel = new AbortController();

  constructor(private readonly opts: MultipartWriterOptions) {
    super();
    if (!(opts.queueSize >= 1)) throw new RangeError(`queueSize must be 1 or more, not ${opts.queueSize}`);
  }

  /** The multipart upload's id once one was created: what to abort after a failure. */
  get uploadId(): string | undefined {
    return this.createdId;
  }

  /** Part buffers made so far: queueSize + 1 at most, whatever the archive size. */
  get buffersAllocated(): number {
    return this.allocated;
  }

  /** SHA-256 (lowercase hex) and size of the bytes written; read after 'finish'. */
  stored(): { sha256: string; size: number } {
    return { sha256: this.hash.digest('hex'), size: this.count };
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
      if (this.filled === this.opts.partSize) await this.sendCurrent();
    }
  }

  /**
   * A released buffer, or a new one. With at most queueSize parts in flight and none filling
   * (sendCurrent waits for a slot first), queueSize + 1 buffers always leave one free.
   */
  private freeBuffer(): Buffer {
    const reused = this.free.pop();
    if (reused) return reused;
    this.allocated += 1;
    return Buffer.allocUnsafe(this.opts.partSize);
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
        this.free.push(buffer);
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
    const command = new UploadPartCommand({
      Bucket: bucket,
      Key: key,
      UploadId: uploadId,
      PartNumber: partNumber,
      Body: body.subarray(0, length),
      ContentLength: length,
      ...(this.opts.checksumAlgorithm ? { ChecksumAlgorithm: this.opts.checksumAlgorithm } : {}),
    });
    const { ETag, ChecksumCRC32 } = await client.send(command, { abortSignal: this.cancel.signal });
    this.parts.push({ PartNumber: partNumber, ETag, ...(this.opts.checksumAlgorithm ? { ChecksumCRC32 } : {}) });
  }

  private async createUpload(): Promise<string> {
    const { client, bucket, key, params } = this.opts;
    const checksum = this.opts.checksumAlgorithm ? { ChecksumAlgorithm: this.opts.checksumAlgorithm } : {};
    const create = new CreateMultipartUploadCommand({ ...params, ...checksum, Bucket: bucket, Key: key });
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
      }),
      { abortSignal: this.cancel.signal },
    );
  }

  /** An archive smaller than one part goes up in a single PutObject. */
  private async putWhole(): Promise<void> {
    const { client, bucket, key, params } = this.opts;
    const body = this.current?.subarray(0, this.filled) ?? Buffer.alloc(0);
    const command = new PutObjectCommand({
      ...params,
      Bucket: bucket,
      Key: key,
      Body: body,
      ContentLength: body.length,
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
