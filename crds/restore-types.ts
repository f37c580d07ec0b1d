// Restore: one restore into an existing Cluster.
import { Type } from '@sinclair/typebox';
import { CLUSTER_NAME_MAX } from './api-constants.js';
import { FAILURE_REASON_NAMES } from './failure-reasons.js';
import { RECOVERY_RULES, recoveryFields } from './recovery-types.js';
import { Bool, Int, LocalRef, outcomeFields, Str, Strict, StringEnum } from './schema-helpers.js';

export const RestoreSpec = Strict(
  {
    cluster: LocalRef('The Cluster to restore into; source names one of its externalClusters.', CLUSTER_NAME_MAX),
    ...recoveryFields,
    overwrite: Type.Optional(
      Bool({ description: 'Restore even when the target already has user tables, replacing them.' }),
    ),
  },
  {
    description: 'What to restore, and into which Cluster.',
    'x-kubernetes-validations': RECOVERY_RULES,
  },
);

/** The two reads of a running restore's archive, in order. */
export const RESTORE_STEPS = ['verifying', 'applying'] as const;

export const RestoreProgress = Strict(
  {
    step: StringEnum(RESTORE_STEPS, {
      description:
        'verifying: the whole archive is hashed, nothing applied yet; applying: it is read again into the database.',
    }),
    bytesRead: Int({ description: 'Bytes of the archive read in this step.', minimum: 0 }),
    size: Int({ description: 'Bytes in the archive (metadata.json).', minimum: 0 }),
    percent: Int({ description: 'bytesRead as a whole percentage of size.', minimum: 0, maximum: 100 }),
    updatedAt: Str({ description: 'When this was written.', format: 'date-time' }),
  },
  {
    description:
      'How far a running restore is, written about every 10 seconds while it reads its archive; removed once it completed, kept when it failed.',
  },
);

/** What a restore records: a Restore's status, and a Cluster's status.bootstrap. */
export const restoreStatusFields = {
  ...outcomeFields('restore', FAILURE_REASON_NAMES),
  backupId: Type.Optional(Str({ description: 'The backup that was restored.', maxLength: 253 })),
  backupName: Type.Optional(
    Str({ description: 'Name of the Backup the restored backup was taken by.', maxLength: 253 }),
  ),
  restoredFrom: Type.Optional(
    Str({ description: 'The object store URL of the backup folder restored from.', maxLength: 2048 }),
  ),
  sha256Verified: Type.Optional(
    Bool({ description: 'The archive matched its recorded SHA-256 before anything was applied.' }),
  ),
  instanceName: Type.Optional(Str({ description: 'The instance the backup was applied to.', maxLength: 253 })),
  jobName: Type.Optional(Str({ description: 'The Job or process that ran the restore.', maxLength: 253 })),
  progress: Type.Optional(RestoreProgress),
};

export const RestoreStatus = Strict(restoreStatusFields, { description: 'What happened to this Restore.' });
