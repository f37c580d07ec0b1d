// The object-store side of the backup data path against the stack's real MinIO: streamed
// uploads verified by reading them back, failures that leave no multipart upload behind, the
// preflight, and metadata.json. Every test writes under its own random prefix and removes it.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { BackupMetadataType } from '../crds/backup-metadata-types.js';
import { archiveKey, metadataKey, newBackupId, preflightProbeKey, type BackupLocation } from '../crds/object-keys.js';
import { crc32Base64, createS3Client, s3ClientConfig } from '../lib/s3-client.js';
import { uploadArchive } from '../runner/data-path/archive-upload.js';
import { readBackupMetadata, writeBackupMetadata } from '../runner/data-path/backup-metadata.js';
import { preflightBucket } from '../runner/data-path/bucket-preflight.js';
import { UploadFailedError } from '../runner/work-failures.js';
import { minioClient, minioStore, openUploads, removePrefix } from './support/stack-objects.js';
import { requireVar } from './support/stack.js';

const MiB = 1024 * 1024;

/** `total` random bytes in 64 KiB chunks, like a tool's stdout; optionally failing part-way. */
function toolOutput(total: number, failAt?: { bytes: number; error: Error }): { stream: Readable; bytes: Buffer } {
  const bytes = randomBytes(total);
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let at = 0; at < total; at += 64 * 1024) {
      if (failAt && at >= failAt.bytes) throw failAt.error;
      yield bytes.subarray(at, Math.min(total, at + 64 * 1024));
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  return { stream: Readable.from(chunks()), bytes };
}

/** SHA-256 and size of an object as MinIO returns it, computed here, independently of the upload. */
async function readBack(client: S3Client, bucket: string, key: string): Promise<{ sha256: string; size: number }> {
  const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of got.Body as Readable) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

async function objectExists(client: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
    throw err;
  }
}

async function assertNothingLeft(client: S3Client, bucket: string, key: string): Promise<void> {
  assert.deepEqual(await openUploads(client, bucket, key), [], 'no multipart upload is left open');
  assert.equal(await objectExists(client, bucket, key), false, 'no object is stored');
}

/** The names of the commands `client` sends from now on, to show which S3 calls a run made. */
function recordCommands(client: S3Client): string[] {
  const names: string[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      names.push(String(context.commandName).replace(/Command$/, ''));
      return next(args);
    },
    { step: 'initialize', name: 'e2eRecordCommands' },
  );
  return names;
}

/** A valid metadata.json for the backup at `at`. */
function sampleMetadata(at: BackupLocation): BackupMetadataType {
  return {
    formatVersion: 1,
    cluster: at.cluster,
    namespace: 'e2e',
    backupName: at.backupName,
    backupId: at.backupId,
    engine: 'mariadb',
    serverVersion: '10.11.9-MariaDB',
    method: 'mariadb-dump',
    sourceInstance: 'shop-0',
    objectKey: archiveKey(at, 'mariadb-dump', 'none'),
    size: 1,
    sha256: '0'.repeat(64),
    compression: 'none',
    startedAt: new Date().toISOString(),
    stoppedAt: new Date().toISOString(),
  };
}

async function rejection(call: Promise<unknown>): Promise<unknown> {
  try {
    await call;
  } catch (err) {
    return err;
  }
  return assert.fail('expected a failure');
}

describe('archive upload into MinIO', () => {
  const bucket = (): string => requireVar('S3_BUCKET', 'MinIO');
  let client: S3Client;
  let path: string;
  const loc = (backupName: string): BackupLocation => ({
    path,
    cluster: 'shop',
    backupName,
    backupId: newBackupId(new Date()),
  });

  beforeEach(() => {
    client = minioClient();
    path = `/e2e/archive-upload-${randomBytes(4).toString('hex')}/`;
  });

  afterEach(async () => {
    await removePrefix(client, bucket(), path.replace(/^\/+/, ''));
    client.destroy();
  });

  it('streams 40 MiB of random bytes; the SHA-256 read back from MinIO equals the one returned', async () => {
    const key = archiveKey(loc('random'), 'mariabackup', 'none');
    const { stream, bytes } = toolOutput(40 * MiB);
    const result = await uploadArchive({ client, bucket: bucket(), key, source: stream, compression: 'none' });
    assert.equal(result.size, bytes.length);
    assert.equal(result.sha256, createHash('sha256').update(bytes).digest('hex'));
    assert.deepEqual(await readBack(client, bucket(), key), { sha256: result.sha256, size: result.size });
    assert.deepEqual(await openUploads(client, bucket(), key), []);
  });

  it('with the SDK’s default checksums, as on AWS: a CRC32 declared and checked for every part', async () => {
    // The client as the factory makes it for AWS: the SDK would add a CRC32 to every part by itself.
    const config = s3ClientConfig(minioStore(), {
      credentials: {
        accessKeyId: requireVar('S3_ACCESS_KEY', 'MinIO'),
        secretAccessKey: requireVar('S3_SECRET_KEY', 'MinIO'),
      },
    });
    const aws = new S3Client({
      ...config,
      requestChecksumCalculation: 'WHEN_SUPPORTED',
      responseChecksumValidation: 'WHEN_SUPPORTED',
    });
    try {
      const key = archiveKey(loc('crc32-parts'), 'mariabackup', 'none');
      const { stream, bytes } = toolOutput(20 * MiB);
      const result = await uploadArchive({ client: aws, bucket: bucket(), key, source: stream, compression: 'none' });
      assert.equal(result.sha256, createHash('sha256').update(bytes).digest('hex'));
      assert.deepEqual(await readBack(client, bucket(), key), { sha256: result.sha256, size: result.size });
      const head = await aws.send(new HeadObjectCommand({ Bucket: bucket(), Key: key, ChecksumMode: 'ENABLED' }));
      assert.match(head.ChecksumCRC32 ?? '', /-3$/, 'a composite CRC32 over the 3 parts');
      assert.equal(head.ChecksumType, 'COMPOSITE');
    } finally {
      aws.destroy();
    }
  });

  it('over plain http the declared SHA-256 is the signed payload hash, and MinIO refuses a body that does not match it', async () => {
    const key = `${path}/declared-hash/object`;
    const body = randomBytes(64 * 1024);
    const other = createHash('sha256').update('another body').digest('base64');
    await assert.rejects(
      client.send(new PutObjectCommand({ Bucket: bucket(), Key: key, Body: body, ChecksumSHA256: other })),
      (err: Error) => /SHA256|sha256|Digest|Checksum/i.test(`${err.name} ${err.message}`),
    );
    await assert.rejects(client.send(new HeadObjectCommand({ Bucket: bucket(), Key: key })), { name: 'NotFound' });
    const right = createHash('sha256').update(body).digest('base64');
    await client.send(new PutObjectCommand({ Bucket: bucket(), Key: key, Body: body, ChecksumSHA256: right }));
    assert.deepEqual(await readBack(client, bucket(), key), {
      sha256: createHash('sha256').update(body).digest('hex'),
      size: body.length,
    });
  });

  it('over plain http an archive part carries its CRC32 beside its signed SHA-256, and MinIO refuses a part whose CRC32 does not match', async () => {
    const key = `${path}/part-crc32/object`;
    const body = randomBytes(64 * 1024);
    const { UploadId } = await client.send(
      new CreateMultipartUploadCommand({ Bucket: bucket(), Key: key, ChecksumAlgorithm: 'CRC32' }),
    );
    try {
      const part = (checksum: string): UploadPartCommand =>
        new UploadPartCommand({
          Bucket: bucket(),
          Key: key,
          UploadId,
          PartNumber: 1,
          Body: body,
          ChecksumCRC32: checksum,
        });
      await assert.rejects(client.send(part(crc32Base64(Buffer.from('another body')))), (err: Error) =>
        /CRC32|crc32|Digest|Checksum/i.test(`${err.name} ${err.message}`),
      );
      const { ETag } = await client.send(part(crc32Base64(body)));
      assert.ok(ETag, 'the part with its own CRC32 is taken');
    } finally {
      await client.send(new AbortMultipartUploadCommand({ Bucket: bucket(), Key: key, UploadId }));
    }
  });

  it('over plain http the parts carry their SHA-256, which MinIO keeps as a composite over the parts', async () => {
    const key = archiveKey(loc('sha256-parts'), 'mariabackup', 'none');
    const { stream, bytes } = toolOutput(20 * MiB);
    const result = await uploadArchive({ client, bucket: bucket(), key, source: stream, compression: 'none' });
    assert.equal(result.sha256, createHash('sha256').update(bytes).digest('hex'));
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket(), Key: key, ChecksumMode: 'ENABLED' }));
    assert.match(head.ChecksumSHA256 ?? '', /-3$/, 'a composite SHA-256 over the 3 parts');
    assert.equal(head.ChecksumCRC32, undefined);
  });

  it('a small archive (one PutObject) carries its full-object SHA-256, which MinIO checks and keeps', async () => {
    const key = archiveKey(loc('sha256-whole'), 'mariabackup', 'none');
    const { stream, bytes } = toolOutput(1 * MiB);
    await uploadArchive({ client, bucket: bucket(), key, source: stream, compression: 'none' });
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket(), Key: key, ChecksumMode: 'ENABLED' }));
    assert.equal(head.ChecksumSHA256, createHash('sha256').update(bytes).digest('base64'));
    assert.equal(head.ChecksumType, 'FULL_OBJECT');
  });

  it('never overwrites: an archive (multipart and whole) or metadata.json at a key already written fails UploadFailed naming it; the first is unchanged', async () => {
    for (const size of [1 * MiB, 20 * MiB]) {
      const key = archiveKey(loc(`twice-${size}`), 'mariabackup', 'none');
      const first = await uploadArchive({
        client,
        bucket: bucket(),
        key,
        source: toolOutput(size).stream,
        compression: 'none',
      });
      const err = await rejection(
        uploadArchive({ client, bucket: bucket(), key, source: toolOutput(size).stream, compression: 'none' }),
      );
      assert.ok(err instanceof UploadFailedError, String(err));
      assert.ok(err.message.includes(`s3://${bucket()}/${key} already exists at `), err.message);
      assert.match(err.message, /Lifeboat never overwrites a backup/);
      assert.deepEqual(await readBack(client, bucket(), key), { sha256: first.sha256, size: first.size });
      assert.deepEqual(await openUploads(client, bucket(), key), []);
    }
    const key = metadataKey(loc('twice-metadata'));
    await client.send(new PutObjectCommand({ Bucket: bucket(), Key: key, Body: '{"first":true}' }));
    const err = await rejection(
      writeBackupMetadata({ client, bucket: bucket(), key, metadata: sampleMetadata(loc('twice-metadata')) }),
    );
    assert.ok(err instanceof UploadFailedError, String(err));
    assert.ok(err.message.includes(`s3://${bucket()}/${key} already exists at `), err.message);
    const text = await (
      await client.send(new GetObjectCommand({ Bucket: bucket(), Key: key }))
    ).Body?.transformToString();
    assert.equal(text, '{"first":true}');
  });

  it('gzip: the stored object hashes to the returned SHA-256 and gunzips to the source', async () => {
    const key = archiveKey(loc('gzip'), 'mariadb-dump', 'gzip');
    assert.match(key, /backup\.sql\.gz$/);
    const { stream, bytes } = toolOutput(6 * MiB);
    const result = await uploadArchive({ client, bucket: bucket(), key, source: stream, compression: 'gzip' });
    assert.deepEqual(await readBack(client, bucket(), key), { sha256: result.sha256, size: result.size });
    const got = await client.send(new GetObjectCommand({ Bucket: bucket(), Key: key }));
    const plain: Buffer[] = [];
    for await (const chunk of (got.Body as Readable).pipe(createGunzip())) plain.push(chunk as Buffer);
    assert.ok(Buffer.concat(plain).equals(bytes));
  });

  it('a tool failing mid-stream: its error comes back unchanged; no open multipart upload, no object', async () => {
    const key = archiveKey(loc('tool-fails'), 'mariabackup', 'none');
    const boom = new Error('mariabackup: error reading ibdata1');
    const { stream } = toolOutput(64 * MiB, { bytes: 40 * MiB, error: boom });
    const sent = recordCommands(client);
    const err = await rejection(uploadArchive({ client, bucket: bucket(), key, source: stream, compression: 'none' }));
    assert.equal(err, boom);
    assert.ok(sent.includes('CreateMultipartUpload') && sent.includes('AbortMultipartUpload'), sent.join(' '));
    await assertNothingLeft(client, bucket(), key);
  });

  it('an abort signal mid-upload: UploadFailed; no open multipart upload, no object', async () => {
    const key = archiveKey(loc('aborted'), 'mariabackup', 'gzip');
    const { stream } = toolOutput(96 * MiB);
    const controller = new AbortController();
    const sent = recordCommands(client);
    let produced = 0;
    stream.on('data', (chunk: Buffer) => {
      produced += chunk.length;
      if (produced >= 40 * MiB && !controller.signal.aborted) controller.abort(new Error('SIGTERM'));
    });
    const err = await rejection(
      uploadArchive({ client, bucket: bucket(), key, source: stream, compression: 'gzip', signal: controller.signal }),
    );
    assert.ok(err instanceof UploadFailedError, String(err));
    assert.match(err.message, /was cancelled \(upload aborted: SIGTERM\)/);
    assert.ok(sent.includes('CreateMultipartUpload') && sent.includes('AbortMultipartUpload'), sent.join(' '));
    await assertNothingLeft(client, bucket(), key);
  });

  it('a missing bucket: says to create it or fix spec.objectStore.bucket', async () => {
    const missing = `lifeboat-missing-${randomBytes(4).toString('hex')}`;
    const { stream } = toolOutput(20 * MiB);
    const err = await rejection(
      uploadArchive({ client, bucket: missing, key: 'x/backup.sql', source: stream, compression: 'none' }),
    );
    assert.ok(err instanceof UploadFailedError, String(err));
    const endpoint = requireVar('S3_ENDPOINT', 'MinIO').replace(/\/$/, '');
    assert.ok(
      err.message.includes(`bucket '${missing}' not found at ${endpoint}; create it or fix spec.objectStore.bucket`),
      err.message,
    );
  });

  it('preflight: passes on the stack bucket and leaves no probe behind', async () => {
    const probeKey = preflightProbeKey(loc('preflight'));
    await preflightBucket({ client, bucket: bucket(), probeKey });
    assert.equal(await objectExists(client, bucket(), probeKey), false);
  });

  it('preflight: a missing bucket, wrong credentials and a closed port each say what to fix', async () => {
    const probeKey = preflightProbeKey(loc('preflight'));
    const missing = `lifeboat-missing-${randomBytes(4).toString('hex')}`;
    const noBucket = await rejection(preflightBucket({ client, bucket: missing, probeKey }));
    assert.ok(noBucket instanceof UploadFailedError);
    assert.match(
      noBucket.message,
      new RegExp(`bucket '${missing}' not found at .*; create it or fix spec\\.objectStore\\.bucket`),
    );

    const wrongKey = createS3Client(minioStore(), {
      credentials: { accessKeyId: requireVar('S3_ACCESS_KEY', 'MinIO'), secretAccessKey: 'not-the-secret' },
    });
    const denied = await rejection(preflightBucket({ client: wrongKey, bucket: bucket(), probeKey }));
    wrongKey.destroy();
    assert.ok(denied instanceof UploadFailedError);
    assert.match(denied.message, /access denied|secret access key does not belong/);
    assert.doesNotMatch(denied.message, /not-the-secret/);

    const closed = createS3Client(
      { ...minioStore(), endpoint: 'http://127.0.0.1:9', insecure: true },
      {
        credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      },
    );
    const refused = await rejection(preflightBucket({ client: closed, bucket: bucket(), probeKey }));
    closed.destroy();
    assert.ok(refused instanceof UploadFailedError);
    assert.match(refused.message, /connection refused at http:\/\/127\.0\.0\.1:9: .*fix spec\.objectStore\.endpoint/);
  });

  it('metadata.json round trip, after the archive it describes', async () => {
    const at = loc('with-metadata');
    const objectKey = archiveKey(at, 'mariadb-dump', 'gzip');
    const started = new Date();
    const { stream } = toolOutput(2 * MiB);
    const archive = await uploadArchive({
      client,
      bucket: bucket(),
      key: objectKey,
      source: stream,
      compression: 'gzip',
    });
    const metadata: BackupMetadataType = {
      formatVersion: 1,
      cluster: at.cluster,
      namespace: 'e2e',
      backupName: at.backupName,
      backupId: at.backupId,
      engine: 'mariadb',
      serverVersion: '10.11.9-MariaDB',
      method: 'mariadb-dump',
      sourceInstance: 'shop-0',
      objectKey,
      size: archive.size,
      sha256: archive.sha256,
      compression: 'gzip',
      startedAt: started.toISOString(),
      stoppedAt: new Date().toISOString(),
      beginGTID: '0-1-1',
      endGTID: '0-1-1',
    };
    const key = metadataKey(at);
    await writeBackupMetadata({ client, bucket: bucket(), key, metadata });
    const read = await readBackupMetadata({ client, bucket: bucket(), key });
    assert.deepEqual(read, metadata);
    assert.deepEqual(await readBack(client, bucket(), read.objectKey), { sha256: read.sha256, size: read.size });
  });
});
