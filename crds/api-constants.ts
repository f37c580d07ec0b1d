// Names that manifests, policies and the runner share. No I/O.

export const GROUP = 'lifeboat.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

/** The kinds this version serves; kinds.ts defines their schemas (a test keeps the two in step). */
export const KIND_NAMES = ['Cluster', 'Backup', 'ScheduledBackup', 'Restore'] as const;

/** Each kind's resource name, as URLs and RBAC rules spell it. */
export const KIND_PLURALS = {
  Cluster: 'clusters',
  Backup: 'backups',
  ScheduledBackup: 'scheduledbackups',
  Restore: 'restores',
} as const satisfies Record<(typeof KIND_NAMES)[number], string>;

/**
 * The finalizer the runner puts on a Backup, a Restore or a bootstrapping Cluster when it claims the
 * work, before its worker starts: deleting the object then waits until the worker has stopped and
 * cleaned up (its upload aborted). The runner removes it then, and as soon as the work finishes.
 */
export const FINALIZER_WORKER = `${GROUP}/worker`;

/** A lowercase RFC 1123 subdomain, which the API server demands of every object name. */
export const DNS_SUBDOMAIN_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

/** Durations written the way people write retention periods: `30d`, `26h`, `1h30m`, `90s`. */
export const DURATION_PATTERN = '^([0-9]+(ms|s|m|h|d|w))+$';

export const ENGINES = ['mariadb', 'mysql', 'percona-xtradb'] as const;
export type Engine = (typeof ENGINES)[number];

export const TOPOLOGIES = ['standalone', 'replication', 'galera'] as const;

export const BACKUP_METHODS = ['mariabackup', 'xtrabackup', 'mysqldump', 'mariadb-dump'] as const;
export type BackupMethod = (typeof BACKUP_METHODS)[number];

/** Physical methods copy the data directory (an xbstream); the others write SQL. */
export function isPhysicalMethod(method: BackupMethod): boolean {
  return method === 'mariabackup' || method === 'xtrabackup';
}

/**
 * What a backup can be restored into: a logical one into a running server (a Restore), a physical
 * one into a data directory (restore-datadir).
 */
export type BackupKind = 'logical' | 'physical';

export function backupKind(method: BackupMethod): BackupKind {
  return isPhysicalMethod(method) ? 'physical' : 'logical';
}

export const COMPRESSIONS = ['none', 'gzip', 'zstd'] as const;

export const BACKUP_PHASES = ['pending', 'running', 'completed', 'failed'] as const;

/**
 * The condition a Backup from Git gets when retention deleted its archive and metadata.json: it
 * stays completed (a GitOps tool would re-create a deleted one) but can no longer be restored.
 */
export const EXPIRED_CONDITION = 'Expired';
export type BackupPhase = (typeof BACKUP_PHASES)[number];

/** Labels and annotations Lifeboat reads or writes. */
export const LABEL_CLUSTER = `${GROUP}/cluster`;
export const ANNOTATION_UNSAFE_REASON = `${GROUP}/unsafe-reason`;
/** On a Namespace, set by a platform administrator: `"true"` lets its objects use inheritFromIAMRole. */
export const LABEL_ALLOW_IAM_ROLE = `${GROUP}/allow-iam-role`;
/** On a database pod: `writer` marks the instance that takes writes (else the first instance is). */
export const LABEL_ROLE = `${GROUP}/role`;
export const ROLE_WRITER = 'writer';

/** The physical method each engine is backed up with when nothing else is said. */
export const DEFAULT_METHOD: Readonly<Record<Engine, BackupMethod>> = {
  mariadb: 'mariabackup',
  mysql: 'xtrabackup',
  'percona-xtradb': 'xtrabackup',
};

export const DEFAULT_TARGET = 'prefer-standby';

/** Cluster names become label values (lifeboat.dev/cluster), which Kubernetes caps at 63 characters. */
export const CLUSTER_NAME_MAX = 63;
/** Object names: RFC 1123 subdomains. */
export const NAME_MAX = 253;

/** metadata.json's formatVersion; bumped only for changes an older reader would misread. */
export const METADATA_FORMAT_VERSION = 1;

/**
 * The label on every Backup a ScheduledBackup created: the schedule's name (up to 63 characters,
 * else cut and suffixed with a hash). Retention deletes such Backups; others, which came from Git,
 * it only expires. The ownerReference is the authority; the label is there to select by.
 */
export const SCHEDULE_LABEL = 'lifeboat.dev/scheduled-backup';
