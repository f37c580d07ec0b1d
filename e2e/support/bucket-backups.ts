// Backups written straight into MinIO in Lifeboat's object layout, for restore tests that need an
// archive a real backup would never produce (a flipped byte, a cut end, a damaged metadata.json, a
// dump that sleeps), or a copy of a real one under another cluster name.
import { createHash } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { archiveKey, metadataKey, type BackupLocation } from '../../crds/object-keys.js';
import { requireVar } from './stack.js';

export interface BucketBackup {
  readonly location: BackupLocation;
  readonly archiveKey: string;
  readonly metadataKey: string;
  readonly metadata: Record<string, unknown>;
}

const BUCKET = (): string => requireVar('S3_BUCKET', 'MinIO');

async function put(client: S3Client, key: string, body: Buffer | string): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: BUCKET(), Key: key, Body: body }));
}

/**
 * Writes `archive` (a plain SQL dump) and a valid metadata.json describing `described` (by default
 * the archive itself). `metadataOverride` replaces fields, `metadataText` the whole file.
 */
export async function putBucketBackup(
  client: S3Client,
  location: BackupLocation,
  archive: Buffer,
  opts: { described?: Buffer; metadataText?: string; skipMetadata?: boolean } = {},
): Promise<BucketBackup> {
  const described = opts.described ?? archive;
  const aKey = archiveKey(location, 'mariadb-dump', 'none');
  const mKey = metadataKey(location);
  const metadata = {
    formatVersion: 1,
    cluster: location.cluster,
    namespace: 'e2e',
    backupName: location.backupName,
    backupId: location.backupId,
    engine: 'mariadb',
    serverVersion: '10.11.0-MariaDB',
    method: 'mariadb-dump',
    sourceInstance: 'db-0',
    objectKey: aKey,
    size: described.length,
    sha256: createHash('sha256').update(described).digest('hex'),
    compression: 'none',
    startedAt: '2026-01-01T00:00:00Z',
    stoppedAt: '2026-01-01T00:00:01Z',
  };
  await put(client, aKey, archive);
  if (!opts.skipMetadata) await put(client, mKey, opts.metadataText ?? JSON.stringify(metadata));
  return { location, archiveKey: aKey, metadataKey: mKey, metadata };
}

/** The bytes of an object. */
export async function objectBytes(client: S3Client, key: string): Promise<Buffer> {
  const got = await client.send(new GetObjectCommand({ Bucket: BUCKET(), Key: key }));
  return Buffer.from((await got.Body?.transformToByteArray()) ?? []);
}

export { put as putObject };
