// Restore: one restore into an existing Cluster.
import { Type, type Static } from '@sinclair/typebox';
import { FAILURE_REASON_NAMES } from './failure-reasons.js';
import { recoveryFields } from './recovery-types.js';
import { Bool, Conditions, LocalRef, Str, StringEnum, Strict } from './schema-helpers.js';

export const RestoreSpec = Strict(
  {
    cluster: LocalRef('The Cluster to restore into; source names one of its externalClusters.'),
    ...recoveryFields,
    overwrite: Type.Optional(
      Bool({ description: 'Restore even when the target already has user tables, replacing them.' }),
    ),
  },
  {
    description: 'What to restore, and into which Cluster.',
    'x-kubernetes-validations': [
      { rule: 'has(self.backup) != has(self.source)', message: 'LB101: set exactly one of backup or source' },
    ],
  },
);

export const RestoreStatus = Strict(
  {
    phase: Type.Optional(
      StringEnum(['pending', 'running', 'completed', 'failed'] as const, {
        description: 'Where the Restore is in its life.',
      }),
    ),
    backupId: Type.Optional(Str({ description: 'The backup that was restored.', maxLength: 253 })),
    sha256Verified: Type.Optional(
      Bool({ description: 'The archive matched its recorded SHA-256 before anything was applied.' }),
    ),
    startedAt: Type.Optional(Str({ description: 'When the restore started.', format: 'date-time' })),
    stoppedAt: Type.Optional(Str({ description: 'When the restore ended.', format: 'date-time' })),
    error: Type.Optional(Str({ description: 'Why the restore failed, and what to do about it.', maxLength: 32768 })),
    reason: Type.Optional(StringEnum(FAILURE_REASON_NAMES, { description: 'Machine-readable failure reason.' })),
    conditions: Type.Optional(Conditions()),
  },
  { description: 'What happened to this Restore.' },
);

export type RestoreSpecType = Static<typeof RestoreSpec>;
