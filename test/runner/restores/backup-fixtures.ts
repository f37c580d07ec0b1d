// Backups written into a fake S3 the way the backup worker lays them out, for the restore tests.
import { createHash } from 'node:crypto';
import type { BackupMetadataType } from '../../../crds/backup-metadata-types.js';
import { archiveKey, metadataKey, type Compression } from '../../../crds/object-keys.js';
import type { FakeS3 } from '../data-path/fake-s3.js';

export const BUCKET = 'lifeboat';

export interface StoredBackup {
  readonly metadata: BackupMetadataType;
  readonly archive: Buffer;
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Metadata for an archive of `archive` bytes in the folder the names give. */
export function sampleMetadata(
  at: {
    path?: string;
    cluster?: string;
    backupName?: string;
    backupId?: string;
    compression?: Compression;
    method?: BackupMetadataType['method'];
  },
  archive: Buffer,
): BackupMetadataType {
  const method = at.method ?? 'mariadb-dump';
  const loc = {
    path: at.path ?? 'p',
    cluster: at.cluster ?? 'shop',
    backupName: at.backupName ?? 'shop-1',
    backupId: at.backupId ?? '20261130T181500Z',
  };
  const compression = at.compression ?? 'gzip';
  return {
    formatVersion: 1,
    cluster: loc.cluster,
    namespace: 'default',
    backupName: loc.backupName,
    backupId: loc.backupId,
    engine: 'mariadb',
    serverVersion: '10.11.9-MariaDB-log',
    method,
    sourceInstance: 'shop-0',
    objectKey: archiveKey(loc, method, compression),
    size: archive.length,
    sha256: sha256(archive),
    compression,
    startedAt: '2026-11-30T18:15:00Z',
    stoppedAt: '2026-11-30T18:17:42Z',
    beginGTID: '0-1-100',
    endGTID: '0-1-142',
  };
}

/** Puts metadata.json (as given, or any text) and, unless `archive` is null, the archive. */
export function putBackup(
  fake: FakeS3,
  metadata: BackupMetadataType,
  archive: Buffer | null,
  opts: {
    path?: string;
    metadataText?: string;
    folder?: { cluster: string; backupName: string; backupId: string };
  } = {},
): void {
  const key = metadataKey({ path: opts.path ?? 'p', ...(opts.folder ?? metadata) });
  const text = opts.metadataText ?? JSON.stringify(metadata);
  fake.objects.set(`${BUCKET}/${key}`, { body: Buffer.from(text), input: {} });
  if (archive) fake.objects.set(`${BUCKET}/${metadata.objectKey}`, { body: archive, input: {} });
}
