// Restore: one restore into an existing Cluster.
import { Type } from '@sinclair/typebox';
import { CLUSTER_NAME_MAX } from './api-constants.js';
import { FAILURE_REASON_NAMES } from './failure-reasons.js';
import { recoveryFields } from './recovery-types.js';
import { Bool, LocalRef, outcomeFields, Str, Strict } from './schema-helpers.js';

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
    'x-kubernetes-validations': [
      { rule: 'has(self.backup) != has(self.source)', message: 'LB101: set exactly one of backup or source' },
    ],
  },
);

export const RestoreStatus = Strict(
  {
    ...outcomeFields('restore', FAILURE_REASON_NAMES),
    backupId: Type.Optional(Str({ description: 'The backup that was restored.', maxLength: 253 })),
    sha256Verified: Type.Optional(
      Bool({ description: 'The archive matched its recorded SHA-256 before anything was applied.' }),
    ),
  },
  { description: 'What happened to this Restore.' },
);
