// Backup: one backup of a Cluster, immutable once it has started.
import { Type, type Static } from '@sinclair/typebox';
import { BACKUP_METHODS, CLUSTER_NAME_MAX, COMPRESSIONS } from './api-constants.js';
import { FAILURE_REASON_NAMES } from './failure-reasons.js';
import { ObjectStore } from './object-store-types.js';
import { Bool, Int, LocalRef, outcomeFields, Str, StringEnum, Strict } from './schema-helpers.js';

/** The fields of a Backup spec, shared with ScheduledBackup.spec.backupTemplate. */
export const backupSpecFields = {
  cluster: LocalRef('The Cluster to back up, in the same namespace.', CLUSTER_NAME_MAX),
  method: Type.Optional(
    StringEnum(BACKUP_METHODS, {
      description: 'How to back up; from the Cluster, or the engine default (mariabackup for MariaDB), when absent.',
    }),
  ),
  target: Type.Optional(
    Str({
      description: 'Which instance to back up: prefer-standby (default), primary, or an instance name.',
      maxLength: 253,
    }),
  ),
  online: Type.Optional(
    Bool({
      description:
        'Back up while the database serves traffic: true, the default and the only value admitted. Lifeboat does not stop databases it does not run, so online: false is refused (policy LB507).',
    }),
  ),
  objectStore: Type.Optional(ObjectStore),
  allowUnsafe: Type.Optional(
    Bool({
      description: 'Back up even when the cluster is not healthy. Needs the annotation lifeboat.dev/unsafe-reason.',
    }),
  ),
  compression: Type.Optional(
    StringEnum(COMPRESSIONS, { description: 'Compression of the archive; none when absent.' }),
  ),
};

export const BackupSpec = Strict(backupSpecFields, { description: 'What to back up, how, and where to.' });

/** Where in the binary log a backup begins and is consistent; in status and in metadata.json alike. */
export const positionFields = {
  beginGTID: Type.Optional(Str({ description: 'GTID position when the backup started.', maxLength: 4096 })),
  endGTID: Type.Optional(Str({ description: 'GTID position the backup is consistent at.', maxLength: 4096 })),
  beginBinlog: Type.Optional(
    Str({ description: 'Binary log file and position when the backup started.', maxLength: 512 }),
  ),
  endBinlog: Type.Optional(
    Str({ description: 'Binary log file and position the backup is consistent at.', maxLength: 512 }),
  ),
};

/**
 * Where a backup was written, recorded by its worker before the first byte: restores and clean-ups
 * read it rather than parse status.destinationPath or consult the Cluster as it is today.
 */
export const ArchiveLocation = Strict(
  {
    bucket: Str({ description: 'The bucket.', minLength: 1, maxLength: 255 }),
    endpoint: Type.Optional(Str({ description: 'The object store endpoint; absent for AWS S3.', maxLength: 2048 })),
    region: Type.Optional(Str({ description: 'The region the client used.', maxLength: 64 })),
    path: Type.Optional(Str({ description: 'ObjectStore.path (the key prefix) as it was.', maxLength: 1024 })),
    archiveKey: Str({ description: 'Key of the archive.', minLength: 1, maxLength: 1024 }),
    metadataKey: Str({ description: 'Key of metadata.json, written last.', minLength: 1, maxLength: 1024 }),
    objectLock: Type.Optional(
      Strict(
        {
          mode: StringEnum(['GOVERNANCE', 'COMPLIANCE'] as const, { description: 'The S3 Object Lock mode.' }),
          retainUntil: Str({
            description: 'Until when the archive and metadata.json are locked; retention leaves them until then.',
            format: 'date-time',
          }),
        },
        { description: 'The Object Lock both objects were written with (ObjectStore.objectLock).' },
      ),
    ),
  },
  { description: 'Where the archive and its metadata.json are stored.' },
);

export type ArchiveLocationType = Static<typeof ArchiveLocation>;

export const BackupStatus = Strict(
  {
    ...outcomeFields('backup', FAILURE_REASON_NAMES),
    instanceName: Type.Optional(Str({ description: 'The instance the backup was taken from.', maxLength: 253 })),
    method: Type.Optional(StringEnum(BACKUP_METHODS, { description: 'The method used.' })),
    backupId: Type.Optional(Str({ description: 'Identifier of the backup in the object store.', maxLength: 253 })),
    jobName: Type.Optional(Str({ description: 'The Job or process that ran the backup.', maxLength: 253 })),
    destinationPath: Type.Optional(Str({ description: 'The object store URL of the backup folder.', maxLength: 2048 })),
    sha256: Type.Optional(
      Str({ description: 'SHA-256 of the archive, as recorded in metadata.json.', pattern: '^[0-9a-f]{64}$' }),
    ),
    size: Type.Optional(Int({ description: 'Size of the archive in bytes.', minimum: 0 })),
    location: Type.Optional(ArchiveLocation),
    compression: Type.Optional(StringEnum(COMPRESSIONS, { description: 'Compression of the stored archive.' })),
    serverVersion: Type.Optional(
      Str({ description: 'Version of the server the backup was taken from (SELECT VERSION()).', maxLength: 256 }),
    ),
    ...positionFields,
  },
  { description: 'What happened to this Backup.' },
);

export type BackupSpecType = Static<typeof BackupSpec>;
