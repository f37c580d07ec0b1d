// An in-memory fake of the S3 operations the data path uses, behind a real S3Client whose `send`
// is replaced: the code under test builds real SDK commands and gets SDK-shaped answers and errors.
// Part checksums are modelled as the SDK and AWS treat them: under requestChecksumCalculation
// WHEN_SUPPORTED (the SDK default) every UploadPart carries a CRC32, which S3 refuses unless the
// multipart upload declared it, and then wants back, per part, in CompleteMultipartUpload.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { S3Client } from '@aws-sdk/client-s3';

interface PendingUpload {
  readonly key: string;
  readonly input: Record<string, unknown>;
  readonly parts: Map<number, Buffer>;
}

export interface StoredObject {
  readonly body: Buffer;
  readonly input: Record<string, unknown>;
}

/** Returns an error to fail this call with, or undefined to let it through. */
export type FaultInjector = (command: string, input: Record<string, unknown>) => unknown;

export const FAKE_ENDPOINT = 'http://fake-s3.invalid:9000';

export function s3Error(name: string, status: number, message = name): Error {
  return Object.assign(new Error(message), { name, $fault: 'client', $metadata: { httpStatusCode: status } });
}

export class FakeS3 {
  readonly buckets = new Set(['lifeboat']);
  readonly objects = new Map<string, StoredObject>();
  readonly uploads = new Map<string, PendingUpload>();
  readonly calls: string[] = [];
  fault: FaultInjector = () => undefined;
  /** Milliseconds each request takes, so that uploads overlap as they do on a network. */
  latencyMs = 1;
  /** The most requests that were ever running at once. */
  peakInFlight = 0;
  private inFlight = 0;
  /** Uploads per ListMultipartUploads page. */
  listPageSize = 1000;
  /** Objects per ListObjectsV2 page. */
  listObjectsPageSize = 1000;
  /** Buckets created with Object Lock enabled. */
  readonly lockEnabled = new Set<string>();
  /** What HeadObject reports as the size of an object of `actual` bytes: a store that lost bytes. */
  headLength: (actual: number) => number = (actual) => actual;
  private nextId = 1;

  client(requestChecksumCalculation: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED' = 'WHEN_SUPPORTED'): S3Client {
    const client = new S3Client({
      endpoint: FAKE_ENDPOINT,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'AKIDFAKE', secretAccessKey: 'fake-secret' },
      requestChecksumCalculation,
    });
    const sdkChecksums = requestChecksumCalculation === 'WHEN_SUPPORTED';
    const send = async (command: { constructor: { name: string }; input: Record<string, unknown> }): Promise<unknown> =>
      this.handle(command.constructor.name.replace(/Command$/, ''), { ...command.input, sdkChecksums });
    client.send = send as unknown as S3Client['send'];
    return client;
  }

  object(bucket: string, key: string): Buffer | undefined {
    return this.objects.get(`${bucket}/${key}`)?.body;
  }

  count(command: string): number {
    return this.calls.filter((c) => c === command).length;
  }

  private async handle(command: string, input: Record<string, unknown>): Promise<unknown> {
    this.calls.push(command);
    this.inFlight += 1;
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
    try {
      await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
      return this.answer(command, input);
    } finally {
      this.inFlight -= 1;
    }
  }

  private answer(command: string, input: Record<string, unknown>): unknown {
    const injected = this.fault(command, input);
    if (injected !== undefined) throw injected;
    const bucket = String(input['Bucket']);
    if (!this.buckets.has(bucket)) throw s3Error(command === 'HeadBucket' ? 'NotFound' : 'NoSuchBucket', 404);
    const id = `${bucket}/${String(input['Key'])}`;
    switch (command) {
      case 'HeadBucket':
        return {};
      case 'PutObject':
        return this.put(bucket, id, input);
      case 'HeadObject':
        return this.head(id);
      case 'GetObjectLockConfiguration':
        if (!this.lockEnabled.has(bucket)) throw s3Error('ObjectLockConfigurationNotFoundError', 404);
        return { ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled' } };
      case 'GetObject':
        return this.get(id, input);
      case 'ListObjectsV2':
        return this.listObjects(bucket, input);
      case 'DeleteObject':
        this.objects.delete(id);
        return {};
      case 'ListMultipartUploads':
        return this.listUploads(bucket, input);
      default:
        return this.multipart(command, id, input);
    }
  }

  private multipart(command: string, id: string, input: Record<string, unknown>): unknown {
    if (command === 'CreateMultipartUpload') {
      const uploadId = `upload-${this.nextId++}`;
      this.uploads.set(uploadId, { key: id, input, parts: new Map() });
      return { UploadId: uploadId };
    }
    const upload = this.uploads.get(String(input['UploadId']));
    if (!upload) throw s3Error('NoSuchUpload', 404);
    if (command === 'UploadPart') return this.uploadPart(upload, input);
    if (command === 'CompleteMultipartUpload') {
      this.checkPartChecksums(upload, input);
      this.checkAbsent(upload.key, input);
    }
    this.uploads.delete(String(input['UploadId']));
    if (command === 'CompleteMultipartUpload') {
      const numbers = [...upload.parts.keys()].sort((a, b) => a - b);
      const body = Buffer.concat(numbers.map((n) => upload.parts.get(n)!));
      this.objects.set(id, { body, input: upload.input });
      return { ETag: etag(body) };
    }
    if (command === 'AbortMultipartUpload') return {};
    throw new Error(`fake S3: ${command} not implemented`);
  }

  /** PutObject as S3 does it: If-None-Match, a full-object SHA-256 checked, Object Lock only where enabled. */
  private put(bucket: string, id: string, input: Record<string, unknown>): unknown {
    const body = toBuffer(input['Body']);
    this.checkAbsent(id, input);
    checkSha256(body, input);
    if (input['ObjectLockMode'] !== undefined && !this.lockEnabled.has(bucket))
      throw s3Error('InvalidRequest', 400, 'Bucket is missing ObjectLockConfiguration');
    this.objects.set(id, { body, input });
    return { ETag: etag(body) };
  }

  private checkAbsent(id: string, input: Record<string, unknown>): void {
    if (input['IfNoneMatch'] === '*' && this.objects.has(id)) throw s3Error('PreconditionFailed', 412);
  }

  private head(id: string): unknown {
    const stored = this.objects.get(id);
    if (!stored) throw s3Error('NotFound', 404);
    const { ObjectLockMode, ObjectLockRetainUntilDate } = stored.input;
    return {
      ContentLength: this.headLength(stored.body.length),
      ETag: etag(stored.body),
      ...(ObjectLockMode === undefined ? {} : { ObjectLockMode, ObjectLockRetainUntilDate }),
    };
  }

  private uploadPart(upload: PendingUpload, input: Record<string, unknown>): unknown {
    const body = toBuffer(input['Body']);
    checkSha256(body, input);
    checkCrc32(body, input);
    // The SDK adds its CRC32 only to a part that carries no checksum of its own.
    const withCrc =
      (input['sdkChecksums'] === true && input['ChecksumSHA256'] === undefined) ||
      input['ChecksumAlgorithm'] === 'CRC32' ||
      input['ChecksumCRC32'] !== undefined;
    if (withCrc && upload.input['ChecksumAlgorithm'] !== 'CRC32') {
      throw s3Error(
        'InvalidRequest',
        400,
        'Checksum Type mismatch occurred, expected checksum Type: null, actual checksum Type: crc32',
      );
    }
    upload.parts.set(Number(input['PartNumber']), body);
    return { ETag: etag(body), ...(withCrc ? { ChecksumCRC32: crc32(body) } : {}) };
  }

  /** A declared algorithm must come back, per part, in CompleteMultipartUpload (CRC32 or SHA-256). */
  private checkPartChecksums(upload: PendingUpload, input: Record<string, unknown>): void {
    const algorithm = upload.input['ChecksumAlgorithm'];
    if (algorithm !== 'CRC32' && algorithm !== 'SHA256') return;
    const field = algorithm === 'CRC32' ? 'ChecksumCRC32' : 'ChecksumSHA256';
    const parts = (input['MultipartUpload'] as { Parts?: Record<string, unknown>[] }).Parts ?? [];
    for (const part of parts) {
      const stored = upload.parts.get(Number(part['PartNumber'] ?? 0));
      const want =
        stored && (algorithm === 'CRC32' ? crc32(stored) : createHash('sha256').update(stored).digest('base64'));
      if (!stored || part[field] !== want)
        throw s3Error('InvalidPart', 400, `part ${String(part['PartNumber'])}: checksum missing or wrong`);
    }
  }

  /** Uploads whose key starts with Prefix, in key then upload-id order, a page at a time. */
  private listUploads(bucket: string, input: Record<string, unknown>): unknown {
    const prefix = `${bucket}/${String(input['Prefix'] ?? '')}`;
    const after = `${String(input['KeyMarker'] ?? '')}\u0000${String(input['UploadIdMarker'] ?? '')}`;
    const all = [...this.uploads.entries()]
      .filter(([, u]) => u.key.startsWith(prefix))
      .map(([uploadId, u]) => ({ Key: u.key.slice(bucket.length + 1), UploadId: uploadId }))
      .sort((a, b) => `${a.Key}\u0000${a.UploadId}`.localeCompare(`${b.Key}\u0000${b.UploadId}`))
      .filter((u) => input['KeyMarker'] === undefined || `${u.Key}\u0000${u.UploadId}` > after);
    const page = all.slice(0, this.listPageSize);
    const last = page[page.length - 1];
    const truncated = all.length > page.length;
    return {
      Uploads: page,
      IsTruncated: truncated,
      ...(truncated && last ? { NextKeyMarker: last.Key, NextUploadIdMarker: last.UploadId } : {}),
    };
  }

  /** Objects whose key starts with Prefix, in key order, a page at a time (ContinuationToken: the last key). */
  private listObjects(bucket: string, input: Record<string, unknown>): unknown {
    const prefix = `${bucket}/${String(input['Prefix'] ?? '')}`;
    const after = input['ContinuationToken'] === undefined ? undefined : String(input['ContinuationToken']);
    const all = [...this.objects.entries()]
      .filter(([id]) => id.startsWith(prefix))
      .map(([id, o]) => ({ Key: id.slice(bucket.length + 1), Size: o.body.length, ETag: etag(o.body) }))
      .sort((a, b) => (a.Key < b.Key ? -1 : a.Key > b.Key ? 1 : 0))
      .filter((o) => after === undefined || o.Key > after);
    const page = all.slice(0, this.listObjectsPageSize);
    const truncated = all.length > page.length;
    return {
      Contents: page,
      KeyCount: page.length,
      IsTruncated: truncated,
      ...(truncated ? { NextContinuationToken: page[page.length - 1]?.Key } : {}),
    };
  }

  /** The object with its ETag; IfMatch is honoured (412 PreconditionFailed), the Body is a Node stream as in the SDK. */
  private get(id: string, input: Record<string, unknown> = {}): unknown {
    const stored = this.objects.get(id);
    if (!stored) throw s3Error('NoSuchKey', 404);
    const body = stored.body;
    const tag = etag(body);
    if (input['IfMatch'] !== undefined && input['IfMatch'] !== tag) throw s3Error('PreconditionFailed', 412);
    // `bytes=N-`, the only range form the data path asks for.
    const from = /^bytes=(\d+)-$/.exec(String(input['Range'] ?? ''))?.[1];
    const part = from === undefined ? body : body.subarray(Number(from));
    const stream = Object.assign(Readable.from(chunks(part), { objectMode: false }), {
      transformToString: async (): Promise<string> => part.toString('utf8'),
      transformToByteArray: async (): Promise<Uint8Array> => new Uint8Array(part),
    });
    const range = from === undefined ? {} : { ContentRange: `bytes ${from}-${body.length - 1}/${body.length}` };
    return { ContentLength: part.length, ETag: tag, Body: stream, ...range };
  }
}

/** 16 KiB pieces, so that readers see a stream of chunks as from a socket. */
function chunks(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < body.length; at += 16 * 1024) out.push(body.subarray(at, at + 16 * 1024));
  return out;
}

function toBuffer(body: unknown): Buffer {
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof Uint8Array) return Buffer.from(body);
  throw new Error('fake S3: bodies must be strings or bytes');
}

function checkSha256(body: Buffer, input: Record<string, unknown>): void {
  const sent = input['ChecksumSHA256'];
  if (sent !== undefined && sent !== createHash('sha256').update(body).digest('base64'))
    throw s3Error('XAmzContentChecksumMismatch', 400, "The provided 'x-amz-checksum' header does not match");
}

function checkCrc32(body: Buffer, input: Record<string, unknown>): void {
  const sent = input['ChecksumCRC32'];
  if (sent !== undefined && sent !== crc32(body))
    throw s3Error('XAmzContentChecksumMismatch', 400, "The provided 'x-amz-checksum' header does not match");
}

function crc32(body: Buffer): string {
  const value = Buffer.alloc(4);
  value.writeUInt32BE((zlib as unknown as { crc32(data: Buffer): number }).crc32(body));
  return value.toString('base64');
}

function etag(body: Buffer): string {
  return `"${createHash('md5').update(body).digest('hex')}"`;
}
