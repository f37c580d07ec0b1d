// Where a restore comes from: shared by Cluster.spec.bootstrap.recovery and Restore.spec.
import { Type, type Static } from '@sinclair/typebox';
import { Bool, LocalRef, Str, Strict } from './schema-helpers.js';

export const RecoveryTarget = Strict(
  {
    targetTime: Type.Optional(
      Str({
        description: 'Replay binary logs up to this time (RFC 3339, e.g. 2026-05-01T12:00:00Z).',
        format: 'date-time',
      }),
    ),
    targetGTID: Type.Optional(
      Str({ description: 'Replay binary logs up to and including this GTID, e.g. 0-1-4711.', maxLength: 1024 }),
    ),
    targetImmediate: Type.Optional(
      Bool({ description: 'Stop as soon as the base backup is consistent; replay no binary logs.' }),
    ),
  },
  {
    description:
      'Point in time to recover to; at most one target. Absent: the backup as it was taken. Point-in-time recovery (targetTime, targetGTID) is not available yet: policy LB106 refuses both.',
  },
);

/** The recovery fields, as plain properties so that Restore can add its own beside them. */
export const recoveryFields = {
  backup: Type.Optional(LocalRef('A completed Backup in this namespace to restore. Exclusive with source.')),
  source: Type.Optional(
    Str({
      description: 'Name of an externalClusters entry whose object store holds the backups. Exclusive with backup.',
      maxLength: 253,
    }),
  ),
  backupID: Type.Optional(
    Str({
      description: 'With source: the backup ID to restore. Empty: the latest complete backup in the object store.',
      maxLength: 253,
    }),
  ),
  recoveryTarget: Type.Optional(RecoveryTarget),
};

/**
 * The recovery rules the API server enforces itself, so that a cluster without the webhook (or with
 * it failing open) cannot store a recovery whose origin is ambiguous: the runner would pick one.
 */
export const RECOVERY_RULES = [
  { rule: 'has(self.backup) != has(self.source)', message: 'LB101: set exactly one of backup or source' },
  {
    rule: '!has(self.backupID) || has(self.source)',
    message: 'LB104: backupID is only used with source; remove it, or restore from source instead of backup',
  },
];

export const Recovery = Strict(recoveryFields, {
  description: 'Restore from a Backup object or from an external object store, as the backup was taken.',
  'x-kubernetes-validations': RECOVERY_RULES,
});

export type RecoverySpec = Static<typeof Recovery>;
