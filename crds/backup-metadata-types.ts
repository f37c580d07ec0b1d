// metadata.json: the record written beside each archive (docs/design.md). Its presence marks a backup
// complete, and its sha256 is what a restore verifies the archive against, so a restore needs
// nothing but the bucket. No I/O.
import { Type, type Static } from '@sinclair/typebox';
import {
  BACKUP_METHODS,
  CLUSTER_NAME_MAX,
  COMPRESSIONS,
  ENGINES,
  METADATA_FORMAT_VERSION,
  NAME_MAX,
} from './api-constants.js';
import { positionFields } from './backup-types.js';
import { BACKUP_ID_PATTERN } from './object-keys.js';
import { Int, Str, StringEnum } from './schema-helpers.js';

export const BackupMetadata = Type.Object(
  {
    formatVersion: Type.Literal(METADATA_FORMAT_VERSION, {
      description: 'Version of this file format; readers refuse versions they do not know.',
    }),
    cluster: Str({ description: 'The Cluster the backup was taken of.', minLength: 1, maxLength: CLUSTER_NAME_MAX }),
    namespace: Str({ description: 'Namespace of the Cluster and the Backup.', minLength: 1, maxLength: 63 }),
    backupName: Str({ description: 'Name of the Backup object.', minLength: 1, maxLength: NAME_MAX }),
    backupId: Str({ description: 'UTC start time, YYYYMMDDTHHMMSSZ; the folder name.', pattern: BACKUP_ID_PATTERN }),
    engine: StringEnum(ENGINES, { description: 'Database engine the backup was taken from.' }),
    serverVersion: Str({ description: 'Server version as SELECT VERSION() reports it.', maxLength: 256 }),
    method: StringEnum(BACKUP_METHODS, { description: 'The tool that produced the archive.' }),
    sourceInstance: Str({ description: 'The instance the backup was taken from.', minLength: 1, maxLength: 253 }),
    objectKey: Str({ description: 'Key of the archive in the bucket.', minLength: 1, maxLength: 1024 }),
    size: Int({ description: 'Size of the archive as stored (after compression), in bytes.', minimum: 0 }),
    sha256: Str({
      description: 'SHA-256 of the archive as stored; the integrity source of truth.',
      pattern: '^[0-9a-f]{64}$',
    }),
    compression: StringEnum(COMPRESSIONS, { description: 'Compression applied to the archive.' }),
    startedAt: Str({ description: 'When the backup started.', format: 'date-time' }),
    stoppedAt: Str({ description: 'When the archive was complete.', format: 'date-time' }),
    ...positionFields,
  },
  {
    description: 'metadata.json of one backup.',
    // Unknown fields are tolerated so that a later writer can add optional fields without a new
    // formatVersion and older restores still read its backups.
    additionalProperties: true,
  },
);

export type BackupMetadataType = Static<typeof BackupMetadata>;
