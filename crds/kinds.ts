// The four Lifeboat kinds: their schemas and what the CRD says about them. The one source of truth
// for the JSON Schema (ajv), the CRD openAPIV3Schema and the TypeScript types.
import { Type, type Static, type TObject } from '@sinclair/typebox';
import { API_VERSION, CLUSTER_NAME_MAX, KIND_PLURALS, NAME_MAX } from './api-constants.js';
import { BackupSpec, BackupStatus } from './backup-types.js';
import { ClusterSpec, ClusterStatus } from './cluster-types.js';
import { RestoreSpec, RestoreStatus } from './restore-types.js';
import { ScheduledBackupSpec, ScheduledBackupStatus } from './scheduled-backup-types.js';
import { objectMeta, Strict, type TSchema } from './schema-helpers.js';

function resource<K extends string, S extends TSchema, T extends TSchema>(
  kind: K,
  spec: S,
  status: T,
  description: string,
) {
  return Strict(
    {
      apiVersion: Type.Literal(API_VERSION, { description: `API version: ${API_VERSION}.` }),
      kind: Type.Literal(kind, { description: `Kind: ${kind}.` }),
      metadata: objectMeta(kind === 'Cluster' ? CLUSTER_NAME_MAX : NAME_MAX),
      spec,
      status: Type.Optional(status),
    },
    { description },
  );
}

export const ClusterResource = resource(
  'Cluster',
  ClusterSpec,
  ClusterStatus,
  'A MySQL-family database that Lifeboat protects.',
);
export const BackupResource = resource(
  'Backup',
  BackupSpec,
  BackupStatus,
  'One backup of a Cluster to an object store.',
);
export const ScheduledBackupResource = resource(
  'ScheduledBackup',
  ScheduledBackupSpec,
  ScheduledBackupStatus,
  'Creates Backups of a Cluster on a cron schedule.',
);
export const RestoreResource = resource(
  'Restore',
  RestoreSpec,
  RestoreStatus,
  'One restore of a backup into a Cluster.',
);

export type Cluster = Static<typeof ClusterResource>;
export type Backup = Static<typeof BackupResource>;
export type ScheduledBackup = Static<typeof ScheduledBackupResource>;
export type Restore = Static<typeof RestoreResource>;
export type LifeboatObject = Cluster | Backup | ScheduledBackup | Restore;
export type LifeboatKind = LifeboatObject['kind'];

export interface PrinterColumn {
  readonly name: string;
  readonly type: 'string' | 'integer' | 'date' | 'boolean';
  readonly jsonPath: string;
  readonly description: string;
  readonly priority?: number;
}

export interface KindInfo {
  readonly kind: LifeboatKind;
  readonly plural: string;
  readonly singular: string;
  readonly shortNames: readonly string[];
  readonly schema: TObject;
  readonly printerColumns: readonly PrinterColumn[];
  /** CEL rules on the whole object: what the API server can enforce without the webhook. */
  readonly rootValidations: readonly { rule: string; message: string; fieldPath?: string }[];
  readonly maxNameLength: number;
}

const age: PrinterColumn = {
  name: 'Age',
  type: 'date',
  jsonPath: '.metadata.creationTimestamp',
  description: 'Time since creation.',
};

/**
 * Once work has started its spec is the record of what ran, and a completed or failed phase is
 * final, also through the status subresource, so a finished Backup can never be made to run again.
 */
function immutableOnceStarted(id: string, kind: string): { rule: string; message: string; fieldPath: string }[] {
  return [
    {
      rule: "!has(oldSelf.status) || !has(oldSelf.status.phase) || oldSelf.status.phase == 'pending' || self.spec == oldSelf.spec",
      message: `${id}: the spec of a ${kind} cannot change once it has started; create a new ${kind} instead`,
      fieldPath: '.spec',
    },
    {
      rule: "!has(oldSelf.status) || !has(oldSelf.status.phase) || !(oldSelf.status.phase in ['completed', 'failed']) || (has(self.status) && has(self.status.phase) && self.status.phase == oldSelf.status.phase)",
      message: `${id}: a completed or failed ${kind} keeps its phase; create a new ${kind} instead`,
      fieldPath: '.status',
    },
  ];
}

export const KINDS: readonly KindInfo[] = [
  {
    kind: 'Cluster',
    plural: KIND_PLURALS.Cluster,
    singular: 'cluster',
    shortNames: ['lbc'],
    schema: ClusterResource,
    printerColumns: [
      { name: 'Engine', type: 'string', jsonPath: '.spec.engine', description: 'Database engine.' },
      { name: 'Topology', type: 'string', jsonPath: '.spec.topology', description: 'How the instances relate.' },
      {
        name: 'Last Backup',
        type: 'date',
        jsonPath: '.status.lastSuccessfulBackupTime',
        description: 'When the newest completed Backup finished.',
      },
      {
        name: 'Ready',
        type: 'string',
        jsonPath: '.status.conditions[?(@.type=="Ready")].status',
        description: 'Whether the Cluster is protected.',
      },
      {
        name: 'Bootstrap',
        type: 'string',
        jsonPath: '.status.bootstrap.phase',
        description: 'Where the restore of spec.bootstrap.recovery is in its life.',
        priority: 1,
      },
      age,
    ],
    rootValidations: [],
    maxNameLength: CLUSTER_NAME_MAX,
  },
  {
    kind: 'Backup',
    plural: KIND_PLURALS.Backup,
    singular: 'backup',
    shortNames: ['lbb'],
    schema: BackupResource,
    printerColumns: [
      { name: 'Cluster', type: 'string', jsonPath: '.spec.cluster.name', description: 'The Cluster backed up.' },
      { name: 'Method', type: 'string', jsonPath: '.spec.method', description: 'Backup method.' },
      { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Where the Backup is in its life.' },
      { name: 'Size', type: 'integer', jsonPath: '.status.size', description: 'Archive size in bytes.' },
      { name: 'Reason', type: 'string', jsonPath: '.status.reason', description: 'Failure reason.', priority: 1 },
      age,
    ],
    rootValidations: immutableOnceStarted('LB401', 'Backup'),
    maxNameLength: NAME_MAX,
  },
  {
    kind: 'ScheduledBackup',
    plural: KIND_PLURALS.ScheduledBackup,
    singular: 'scheduledbackup',
    shortNames: ['lbsb'],
    schema: ScheduledBackupResource,
    printerColumns: [
      {
        name: 'Cluster',
        type: 'string',
        jsonPath: '.spec.backupTemplate.cluster.name',
        description: 'The Cluster backed up.',
      },
      { name: 'Schedule', type: 'string', jsonPath: '.spec.schedule', description: 'Cron schedule.' },
      {
        name: 'Suspend',
        type: 'boolean',
        jsonPath: '.spec.suspend',
        description: 'Whether the schedule is suspended.',
      },
      {
        name: 'Last Schedule',
        type: 'date',
        jsonPath: '.status.lastScheduleTime',
        description: 'When a Backup was last created.',
      },
      age,
    ],
    rootValidations: [],
    maxNameLength: NAME_MAX,
  },
  {
    kind: 'Restore',
    plural: KIND_PLURALS.Restore,
    singular: 'restore',
    shortNames: ['lbr'],
    schema: RestoreResource,
    printerColumns: [
      { name: 'Cluster', type: 'string', jsonPath: '.spec.cluster.name', description: 'The Cluster restored into.' },
      { name: 'Backup', type: 'string', jsonPath: '.spec.backup.name', description: 'The Backup restored.' },
      { name: 'Source', type: 'string', jsonPath: '.spec.source', description: 'The external cluster restored from.' },
      { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Where the Restore is in its life.' },
      { name: 'Backup ID', type: 'string', jsonPath: '.status.backupId', description: 'The backup restored.' },
      {
        name: 'Verified',
        type: 'boolean',
        jsonPath: '.status.sha256Verified',
        description: 'The archive matched its SHA-256 before anything was applied.',
      },
      {
        name: 'Progress',
        type: 'integer',
        jsonPath: '.status.progress.percent',
        description:
          'Percent of the archive read while verifying (Verified false), then while applying (Verified true).',
      },
      { name: 'Reason', type: 'string', jsonPath: '.status.reason', description: 'Failure reason.', priority: 1 },
      age,
    ],
    rootValidations: immutableOnceStarted('LB402', 'Restore'),
    maxNameLength: NAME_MAX,
  },
];

export function kindInfo(kind: string): KindInfo | undefined {
  return KINDS.find((k) => k.kind === kind);
}
