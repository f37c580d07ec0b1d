// The multipart writer against an in-memory S3 (fake S3): parts of the exact size from reused
// buffers, bounded parts in flight, the part limit, and what it leaves to abort after a failure.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  MAX_PARTS,
  MultipartWriter,
  PartLimitError,
  partSizeAt,
  partsFor,
  type MultipartWriterOptions,
} from '../../../runner/data-path/multipart-writer.js';
import { crc32Base64 } from '../../../lib/s3-client.js';
import { FakeS3 } from './fake-s3.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('base64');

const PART = 64 * 1024;
const KEY = 'p/db/backup.xbstream';

/** A writer as for an S3-compatible store: the SDK adds no part checksums of its own. */
function writer(fake: FakeS3, extra: Partial<MultipartWriterOptions> = {}): MultipartWriter {
  return new MultipartWriter({
    client: fake.client('WHEN_REQUIRED'),
    bucket: 'lifeboat',
    key: KEY,
    params: { ContentType: 'application/octet-stream' },
    partSize: PART,
    queueSize: 2,
    ...extra,
  });
}

/** `bytes` in chunks of `chunk` bytes, which need not divide the part size. */
function chunked(bytes: Buffer, chunk: number): Readable {
  const pieces: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += chunk) pieces.push(bytes.subarray(at, at + chunk));
  return Readable.from(pieces, { objectMode: false });
}

/** What each UploadPart the store receives carries: [the checksum expected, the other one]. */
function partChecksums(fake: FakeS3, expected: string, other: string): unknown[] {
  const parts: unknown[] = [];
  fake.fault = (command, input) =>
    command === 'UploadPart' ? void parts.push([input[expected], input[other]]) : undefined;
  return parts;
}

/** The parts 2 × PART + 5 bytes go up in. */
function threeParts(bytes: Buffer): Buffer[] {
  return [bytes.subarray(0, PART), bytes.subarray(PART, 2 * PART), bytes.subarray(2 * PART)];
}

describe('MultipartWriter (fake S3)', () => {
  it('sends exact-size parts, at most queueSize at once, from queueSize + 1 buffers, in order', async () => {
    const fake = new FakeS3();
    fake.latencyMs = 5;
    const sizes: number[] = [];
    fake.fault = (command, input) => {
      if (command === 'UploadPart') sizes.push((input['Body'] as Buffer).length);
      return undefined;
    };
    const bytes = randomBytes(9 * PART + 777);
    const w = writer(fake);
    await pipeline(chunked(bytes, 10_000), w);
    assert.ok(fake.object('lifeboat', KEY)?.equals(bytes));
    assert.deepEqual(sizes, [...Array<number>(9).fill(PART), 777]);
    assert.ok(fake.peakInFlight <= 2, `parts in flight ≤ queueSize (saw ${fake.peakInFlight})`);
    assert.equal(w.buffersAllocated, 3);
    assert.deepEqual(w.stored(), { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length });
    assert.equal(fake.objects.get(`lifeboat/${KEY}`)?.input['ContentType'], 'application/octet-stream');
  });

  it('an archive of exactly one part is one multipart part; less than one part is one PutObject', async () => {
    const exact = new FakeS3();
    await pipeline(chunked(randomBytes(PART), 4096), writer(exact));
    assert.deepEqual(exact.calls, ['CreateMultipartUpload', 'UploadPart', 'CompleteMultipartUpload']);
    const small = new FakeS3();
    await pipeline(chunked(randomBytes(PART - 1), 4096), writer(small));
    assert.deepEqual(small.calls, ['PutObject']);
    assert.equal(small.object('lifeboat', KEY)?.length, PART - 1);
  });

  it('completes only after beforeComplete resolves, and not at all when it rejects', async () => {
    const fake = new FakeS3();
    const order: string[] = [];
    fake.fault = (command) => {
      order.push(command);
      return undefined;
    };
    const beforeComplete = async (): Promise<void> => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      order.push('tool exited');
    };
    await pipeline(chunked(randomBytes(2 * PART + 1), 8192), writer(fake, { beforeComplete }));
    assert.deepEqual(order.slice(-3), ['tool exited', 'UploadPart', 'CompleteMultipartUpload']);

    const failing = new FakeS3();
    const exit = new Error('mariabackup exited 1');
    const w = writer(failing, { beforeComplete: () => Promise.reject(exit) });
    await assert.rejects(pipeline(chunked(randomBytes(2 * PART + 1), 8192), w), (err) => err === exit);
    await w.settled();
    assert.equal(failing.count('CompleteMultipartUpload'), 0);
    assert.ok(w.uploadId, 'the upload it created is named, for the caller to abort');
  });

  it('more parts than the limit: PartLimitError saying to pass expectedBytes', async () => {
    const fake = new FakeS3();
    const w = writer(fake, { maxParts: 2 });
    await assert.rejects(
      pipeline(chunked(randomBytes(3 * PART + 1), 8192), w),
      (err: unknown) =>
        err instanceof PartLimitError &&
        /outgrew 2 parts \(the S3 limit\); pass expectedBytes so that parts are sized for it/.test(err.message),
    );
    await w.settled();
    assert.ok(fake.count('UploadPart') <= 2, 'no third part is sent');
    assert.equal(fake.count('CompleteMultipartUpload'), 0);
    assert.ok(w.uploadId, 'the upload it created is named, for the caller to abort');
  });

  it('a failed part fails the stream at once: few parts follow and nothing completes', async () => {
    const fake = new FakeS3();
    const refused = new Error('InternalError');
    fake.fault = (command, input) => (command === 'UploadPart' && input['PartNumber'] === 2 ? refused : undefined);
    const w = writer(fake);
    await assert.rejects(pipeline(chunked(randomBytes(20 * PART), 8192), w), (err) => err === refused);
    await w.settled();
    assert.ok(fake.count('UploadPart') < 20, `stopped early (${fake.count('UploadPart')} parts sent)`);
    assert.equal(fake.count('CompleteMultipartUpload'), 0);
    assert.equal(w.uploadId, 'upload-1');
  });

  it('never overwrites: PutObject and CompleteMultipartUpload carry If-None-Match: *; an existing key fails the write', async () => {
    const small = new FakeS3();
    small.objects.set(`lifeboat/${KEY}`, { body: Buffer.from('the first backup'), input: {} });
    await assert.rejects(pipeline(chunked(randomBytes(100), 50), writer(small)), /PreconditionFailed/);
    assert.equal(small.object('lifeboat', KEY)?.toString(), 'the first backup');
    const large = new FakeS3();
    large.objects.set(`lifeboat/${KEY}`, { body: Buffer.from('the first backup'), input: {} });
    const w = writer(large);
    await assert.rejects(pipeline(chunked(randomBytes(3 * PART), 8192), w), /PreconditionFailed/);
    await w.settled();
    assert.equal(large.object('lifeboat', KEY)?.toString(), 'the first backup');
    assert.ok(w.uploadId, 'the upload is named, for the caller to abort');
  });

  it('checksums to the store: full-object SHA-256 on a PutObject, a CRC32 per part on a multipart upload, checked there', async () => {
    const small = new FakeS3();
    const bytes = randomBytes(PART - 1);
    await pipeline(chunked(bytes, 4096), writer(small));
    assert.equal(small.objects.get(`lifeboat/${KEY}`)?.input['ChecksumSHA256'], sha256(bytes));
    const large = new FakeS3();
    const parts = partChecksums(large, 'ChecksumCRC32', 'ChecksumSHA256');
    const more = randomBytes(2 * PART + 5);
    const w = writer(large);
    await pipeline(chunked(more, 4096), w);
    assert.equal(large.objects.get(`lifeboat/${KEY}`)?.input['ChecksumAlgorithm'], 'CRC32');
    assert.deepEqual(
      parts,
      threeParts(more).map((p) => [crc32Base64(p), undefined]),
    );
    assert.ok(large.object('lifeboat', KEY)?.equals(more));
    assert.equal(
      w.stored().sha256,
      createHash('sha256').update(more).digest('hex'),
      "the archive's own SHA-256 covers every byte",
    );
  });

  it('over plain http (partChecksum SHA256) each part carries its SHA-256, declared for the upload', async () => {
    const fake = new FakeS3();
    const parts = partChecksums(fake, 'ChecksumSHA256', 'ChecksumCRC32');
    const bytes = randomBytes(2 * PART + 5);
    await pipeline(chunked(bytes, 4096), writer(fake, { partChecksum: 'SHA256' }));
    assert.equal(fake.objects.get(`lifeboat/${KEY}`)?.input['ChecksumAlgorithm'], 'SHA256');
    assert.deepEqual(
      parts,
      threeParts(bytes).map((p) => [sha256(p), undefined]),
    );
    assert.ok(fake.object('lifeboat', KEY)?.equals(bytes));
  });

  it('an empty archive is refused: nothing is written', async () => {
    const fake = new FakeS3();
    await assert.rejects(pipeline(Readable.from([]), writer(fake)), /empty/);
    assert.deepEqual(fake.calls, []);
  });

  it('part sizes step up as parts are used: 100 GiB and 5 TiB fit in 10,000 parts, each within 5 MiB–5 GiB', () => {
    assert.ok(partsFor(100 * GiB, 8 * MiB) <= MAX_PARTS, `100 GiB: ${partsFor(100 * GiB, 8 * MiB)} parts`);
    assert.ok(partsFor(5 * TiB, 8 * MiB) <= MAX_PARTS, `5 TiB: ${partsFor(5 * TiB, 8 * MiB)} parts`);
    assert.equal(partsFor(1000 * 8 * MiB, 8 * MiB), 1000);
    assert.equal(partsFor(1000 * 8 * MiB + 1, 8 * MiB), 1001);
    for (let n = 1; n <= MAX_PARTS; n++) {
      const size = partSizeAt(n, 8 * MiB);
      assert.ok(size >= 5 * MiB && size <= 5 * GiB, `part ${n}: ${size}`);
    }
    assert.equal(partSizeAt(1000, 8 * MiB), 8 * MiB, 'the first 1,000 parts keep the size asked for');
    assert.equal(partSizeAt(1001, 8 * MiB), 16 * MiB);
    assert.equal(partSizeAt(MAX_PARTS, 1 * GiB), 5 * GiB, 'never above the S3 maximum');
    // The documented memory: a 100 GiB archive ends on 64 MiB parts, (2 + 1) × 64 MiB of buffers.
    assert.equal(partSizeAt(partsFor(100 * GiB, 8 * MiB), 8 * MiB), 64 * MiB);
    assert.equal(partSizeAt(partsFor(5 * TiB, 8 * MiB), 8 * MiB), 4 * GiB);
  });

  it('the writer follows the steps; buffers: queueSize + 1 of the size in use, and the previous size still in flight', async () => {
    const fake = new FakeS3();
    const sizes: number[] = [];
    fake.fault = (command, input) =>
      command === 'UploadPart' ? void sizes.push((input['Body'] as Buffer).length) : undefined;
    const bytes = randomBytes(3 * PART + 3 * 2 * PART + 100);
    const w = writer(fake, { growEvery: 3 });
    await pipeline(chunked(bytes, 10_000), w);
    assert.deepEqual(sizes, [PART, PART, PART, 2 * PART, 2 * PART, 2 * PART, 100]);
    assert.ok(fake.object('lifeboat', KEY)?.equals(bytes));
    assert.ok(w.peakBufferBytes <= 3 * 2 * PART + 2 * PART, `buffers held at most ${w.peakBufferBytes} bytes`);
  });
});
