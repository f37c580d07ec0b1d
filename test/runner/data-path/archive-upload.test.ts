// The archive leg of the data path against an in-memory S3 (fake S3): what is stored, what is
// hashed, and that every failure leaves no multipart upload behind and says whose fault it was.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import {
  PART_SIZE,
  partSizeFor,
  QUEUE_SIZE,
  uploadArchive,
  type UploadArchiveOptions,
} from '../../../runner/data-path/archive-upload.js';
import { DumpFailedError, UnsupportedMethodError, UploadFailedError } from '../../../runner/work-failures.js';
import { FAKE_ENDPOINT, FakeS3, s3Error } from './fake-s3.js';

const MiB = 1024 * 1024;
const KEY = 'p/shop/shop-1/20261130T181500Z/backup.xbstream';

/** `total` random bytes in 64 KiB chunks; the same seed gives the same bytes. */
function randomSource(total: number, failAfter?: { bytes: number; error: Error }): { stream: Readable; bytes: Buffer } {
  const bytes = randomBytes(total);
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let at = 0; at < total; at += 64 * 1024) {
      if (failAfter && at >= failAfter.bytes) throw failAfter.error;
      yield bytes.subarray(at, Math.min(total, at + 64 * 1024));
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  return { stream: Readable.from(chunks(), { objectMode: false }), bytes };
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function options(fake: FakeS3, source: Readable, extra: Partial<UploadArchiveOptions> = {}): UploadArchiveOptions {
  return { client: fake.client(), bucket: 'lifeboat', key: KEY, source, compression: 'none', ...extra };
}

async function rejection(call: Promise<unknown>): Promise<unknown> {
  try {
    await call;
  } catch (err) {
    return err;
  }
  return assert.fail('expected the upload to fail');
}

function assertNothingLeft(fake: FakeS3): void {
  assert.equal(fake.uploads.size, 0, 'no multipart upload is left open');
  assert.equal(fake.object('lifeboat', KEY), undefined, 'no object is stored');
}

describe('uploadArchive (fake S3)', () => {
  it('streams a multi-part archive; SHA-256 and size are of the stored bytes', async () => {
    const fake = new FakeS3();
    const { stream, bytes } = randomSource(5 * PART_SIZE + 123_457);
    const result = await uploadArchive(options(fake, stream));
    assert.deepEqual(result, { sha256: sha256(bytes), size: bytes.length, key: KEY });
    assert.ok(fake.object('lifeboat', KEY)?.equals(bytes), 'reused part buffers never mix parts');
    assert.equal(fake.count('UploadPart'), 6);
    assert.ok(fake.peakInFlight <= QUEUE_SIZE, `at most ${QUEUE_SIZE} parts at once (saw ${fake.peakInFlight})`);
    assert.equal(fake.uploads.size, 0);
  });

  it('declares CRC32 part checksums, where the SDK would add its own CRC32 (AWS) and where it would not', async () => {
    for (const calculation of ['WHEN_SUPPORTED', 'WHEN_REQUIRED'] as const) {
      const fake = new FakeS3();
      const { stream, bytes } = randomSource(2 * PART_SIZE + 1);
      await uploadArchive({ ...options(fake, stream), client: fake.client(calculation) });
      assert.equal(fake.objects.get(`lifeboat/${KEY}`)?.input['ChecksumAlgorithm'], 'CRC32');
      assert.ok(fake.object('lifeboat', KEY)?.equals(bytes));
    }
  });

  it('a small archive goes up in one PutObject', async () => {
    const fake = new FakeS3();
    const { stream, bytes } = randomSource(1000);
    const result = await uploadArchive(options(fake, stream));
    assert.equal(result.sha256, sha256(bytes));
    assert.deepEqual(fake.calls, ['PutObject', 'HeadObject']);
  });

  it('an empty source (even gzipped) is refused as DumpFailed: nothing is stored', async () => {
    for (const compression of ['none', 'gzip'] as const) {
      const fake = new FakeS3();
      const err = await rejection(uploadArchive(options(fake, Readable.from([]), { compression })));
      assert.ok(err instanceof DumpFailedError, String(err));
      assert.match(err.message, /the backup tool wrote nothing: an empty archive is not a backup/);
      assertNothingLeft(fake);
    }
  });

  it('an archive already at the key: UploadFailed naming s3://bucket/key and what to do; the first one unchanged', async () => {
    for (const size of [1000, 2 * PART_SIZE + 1]) {
      const fake = new FakeS3();
      const first = Buffer.from('the first backup');
      fake.objects.set(`lifeboat/${KEY}`, { body: first, input: {} });
      const err = await rejection(uploadArchive(options(fake, randomSource(size).stream)));
      assert.ok(err instanceof UploadFailedError, String(err));
      assert.match(
        err.message,
        new RegExp(
          `s3://lifeboat/${KEY} already exists .*Lifeboat never overwrites a backup.*own spec\\.backup\\.objectStore\\.path`,
        ),
      );
      assert.ok(fake.object('lifeboat', KEY)?.equals(first));
      assert.equal(fake.uploads.size, 0, 'no multipart upload is left open');
    }
  });

  it('after completion HeadObject must show the size sent; a store that reports another size fails UploadFailed (fake)', async () => {
    for (const size of [1000, 2 * PART_SIZE + 1]) {
      const fake = new FakeS3();
      fake.headLength = (actual) => actual - 1;
      const err = await rejection(uploadArchive(options(fake, randomSource(size).stream)));
      assert.ok(err instanceof UploadFailedError, String(err));
      assert.match(
        err.message,
        new RegExp(
          `the object store reports s3://lifeboat/${KEY} as ${size - 1} bytes after completing it, but ${size} were sent`,
        ),
      );
    }
  });

  it('objectLock: the archive goes up with the lock mode and retain-until date (and a checksum, which S3 then requires)', async () => {
    for (const size of [1000, 2 * PART_SIZE + 1]) {
      const fake = new FakeS3();
      fake.lockEnabled.add('lifeboat');
      const retainUntil = new Date('2026-12-04T12:00:00Z');
      await uploadArchive(
        options(fake, randomSource(size).stream, { objectLock: { mode: 'GOVERNANCE', retainUntil } }),
      );
      const input = fake.objects.get(`lifeboat/${KEY}`)?.input;
      assert.equal(input?.['ObjectLockMode'], 'GOVERNANCE');
      assert.equal(input?.['ObjectLockRetainUntilDate'], retainUntil);
      assert.ok(input?.['ChecksumSHA256'] ?? input?.['ChecksumAlgorithm'], 'a checksum goes with it');
    }
  });

  it('gzip: the object gunzips to the source; hash and size are of the compressed bytes', async () => {
    const fake = new FakeS3();
    const { stream, bytes } = randomSource(3 * MiB);
    const result = await uploadArchive(options(fake, stream, { compression: 'gzip', key: `${KEY}.gz` }));
    const stored = fake.object('lifeboat', `${KEY}.gz`)!;
    assert.ok(zlib.gunzipSync(stored).equals(bytes));
    assert.deepEqual(result, { sha256: sha256(stored), size: stored.length, key: `${KEY}.gz` });
  });

  it('zstd: needs Node >= 22.15, and says to use gzip or none on older Node', async () => {
    const fake = new FakeS3();
    const { stream } = randomSource(1000);
    const hasZstd = typeof (zlib as unknown as { createZstdCompress?: unknown }).createZstdCompress === 'function';
    if (hasZstd) {
      const result = await uploadArchive(options(fake, stream, { compression: 'zstd' }));
      assert.equal(result.size, fake.object('lifeboat', KEY)?.length);
      return;
    }
    const err = await rejection(uploadArchive(options(fake, stream, { compression: 'zstd' })));
    assert.ok(err instanceof UnsupportedMethodError);
    assert.match(err.message, /zstd needs Node\.js >= 22\.15 .*use compression gzip or none/);
    assert.deepEqual(fake.calls, []);
  });

  it('passes storage class and server-side encryption to the object', async () => {
    const fake = new FakeS3();
    const { stream } = randomSource(PART_SIZE + 1);
    await uploadArchive(
      options(fake, stream, { storageClass: 'STANDARD_IA', serverSideEncryption: { type: 'aws:kms', kmsKeyID: 'k' } }),
    );
    const input = fake.objects.get(`lifeboat/${KEY}`)?.input;
    assert.equal(input?.['StorageClass'], 'STANDARD_IA');
    assert.equal(input?.['ServerSideEncryption'], 'aws:kms');
    assert.equal(input?.['SSEKMSKeyId'], 'k');
    assert.equal(input?.['ContentEncoding'], undefined);
  });

  it('a source that fails mid-stream: its own error comes back unchanged, the upload is aborted', async () => {
    const fake = new FakeS3();
    const boom = new Error('mariabackup: read error');
    const { stream } = randomSource(3 * PART_SIZE, { bytes: PART_SIZE + MiB, error: boom });
    const err = await rejection(uploadArchive(options(fake, stream)));
    assert.equal(err, boom);
    assert.ok(fake.count('AbortMultipartUpload') >= 1);
    assertNothingLeft(fake);
  });

  it('a tool that exits non-zero after writing everything: no object, its error unchanged', async () => {
    for (const size of [1000, PART_SIZE + 1]) {
      const fake = new FakeS3();
      const exit = new Error('mariadb-dump exited 2');
      const { stream } = randomSource(size);
      const sourceDone = new Promise<void>((_resolve, reject) =>
        stream.once('end', () => setTimeout(() => reject(exit), 20)),
      );
      const err = await rejection(uploadArchive(options(fake, stream, { sourceDone })));
      assert.equal(err, exit, `size ${size}`);
      assertNothingLeft(fake);
    }
  });

  it('the object completes only once the tool has exited cleanly', async () => {
    const fake = new FakeS3();
    const { stream, bytes } = randomSource(PART_SIZE + 1);
    let exited = false;
    const sourceDone = new Promise<void>((resolve) =>
      stream.once('end', () =>
        setTimeout(() => {
          exited = true;
          resolve();
        }, 30),
      ),
    );
    fake.fault = (command) => {
      if (command === 'CompleteMultipartUpload') assert.ok(exited, 'completed before the tool exited');
      return undefined;
    };
    const result = await uploadArchive(options(fake, stream, { sourceDone }));
    assert.equal(result.sha256, sha256(bytes));
  });

  it('an abort signal mid-upload: UploadFailedError, the upload aborted, the source destroyed', async () => {
    const fake = new FakeS3();
    const { stream } = randomSource(4 * PART_SIZE);
    const controller = new AbortController();
    fake.fault = (command, input) => {
      if (command === 'UploadPart' && input['PartNumber'] === 1) controller.abort(new Error('SIGTERM'));
      return undefined;
    };
    const err = await rejection(uploadArchive(options(fake, stream, { signal: controller.signal })));
    assert.ok(err instanceof UploadFailedError);
    assert.match(err.message, /upload of s3:\/\/lifeboat\/p\/shop\/.* was cancelled \(upload aborted: SIGTERM\)/);
    assert.ok(stream.destroyed);
    assertNothingLeft(fake);
  });

  it('an already aborted signal: nothing is sent', async () => {
    const fake = new FakeS3();
    const err = await rejection(uploadArchive(options(fake, randomSource(10).stream, { signal: AbortSignal.abort() })));
    assert.ok(err instanceof UploadFailedError);
    assert.match(err.message, /cancelled before it started/);
    assert.deepEqual(fake.calls, []);
  });

  it('the store dropping the connection on a part: UploadFailedError, fails fast, nothing left', async () => {
    const fake = new FakeS3();
    const { stream } = randomSource(12 * PART_SIZE);
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    fake.fault = (command, input) => (command === 'UploadPart' && input['PartNumber'] === 2 ? reset : undefined);
    const err = await rejection(uploadArchive(options(fake, stream)));
    assert.ok(err instanceof UploadFailedError && err.retryable);
    assert.equal(err.cause, reset);
    assert.match(
      err.message,
      new RegExp(`upload of s3://lifeboat/${KEY} failed: ${FAKE_ENDPOINT} dropped the connection`),
    );
    assert.ok(fake.count('UploadPart') < 12, `stopped early (${fake.count('UploadPart')} parts sent)`);
    assert.ok(stream.destroyed, 'the source is released so the tool stops');
    assertNothingLeft(fake);
  });

  it('a missing bucket: says to create it or fix spec.objectStore.bucket', async () => {
    const fake = new FakeS3();
    const err = await rejection(
      uploadArchive({ ...options(fake, randomSource(2 * PART_SIZE).stream), bucket: 'nope' }),
    );
    assert.ok(err instanceof UploadFailedError);
    assert.match(
      err.message,
      /bucket 'nope' not found at http:\/\/fake-s3\.invalid:9000; create it or fix spec\.objectStore\.bucket/,
    );
  });

  it('when even aborting fails, says the parts may remain and how to clean them up', async () => {
    const fake = new FakeS3();
    const { stream } = randomSource(3 * PART_SIZE);
    fake.fault = (command, input) =>
      (command === 'UploadPart' && input['PartNumber'] === 2) || command === 'AbortMultipartUpload'
        ? s3Error('InternalError', 500, 'We encountered an internal error')
        : undefined;
    const err = await rejection(uploadArchive({ ...options(fake, stream), abortRetryMs: 1 }));
    assert.ok(err instanceof UploadFailedError);
    assert.match(err.message, /multipart upload upload-1 may remain .*AbortIncompleteMultipartUpload/);
    assert.ok(fake.count('AbortMultipartUpload') >= 5, 'aborting is retried');
  });

  it('part size: 8 MiB, growing for archives beyond 8 MiB × 10,000 parts', () => {
    assert.equal(partSizeFor(undefined), 8 * MiB);
    assert.equal(partSizeFor(10 * 1024 * MiB), 8 * MiB);
    const oneTiB = 1024 * 1024 * MiB;
    const part = partSizeFor(oneTiB);
    assert.ok(part % MiB === 0 && part * 10_000 >= oneTiB * 1.5);
  });
});
