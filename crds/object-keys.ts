// The one place S3 keys are derived (docs/design.md, "Object layout"). Backups, restores, retention
// and the preflight all build keys here, so the layout in the bucket cannot drift between them.
// No I/O.
import { isPhysicalMethod, type BackupMethod, type COMPRESSIONS } from './api-constants.js';

export type Compression = (typeof COMPRESSIONS)[number];

/** Where one backup lives: ObjectStore.path, the Cluster, the Backup and its id. */
export interface BackupLocation {
  /** ObjectStore.path as the user wrote it: may be empty or carry stray slashes. */
  readonly path?: string | undefined;
  readonly cluster: string;
  readonly backupName: string;
  readonly backupId: string;
}

export const METADATA_FILE = 'metadata.json';
/** The folder beside the backups of a cluster that holds its archived binary logs. */
export const BINLOGS_FOLDER = 'binlogs';
/** `YYYYMMDDTHHMMSSZ`: sorts lexically in time order, so "latest" is the greatest. */
export const BACKUP_ID_PATTERN = '^[0-9]{8}T[0-9]{6}Z$';
const BACKUP_ID = new RegExp(BACKUP_ID_PATTERN);

const COMPRESSION_SUFFIX: Readonly<Record<Compression, '' | '.gz' | '.zst'>> = {
  none: '',
  gzip: '.gz',
  zstd: '.zst',
};

/** Physical tools stream xbstream; logical tools write SQL. */
export function archiveExtension(method: BackupMethod): 'xbstream' | 'sql' {
  return isPhysicalMethod(method) ? 'xbstream' : 'sql';
}

export function compressionSuffix(compression: Compression): '' | '.gz' | '.zst' {
  return COMPRESSION_SUFFIX[compression];
}

/** The backup id for a backup started at `startedAt`: its UTC time to the second. */
export function newBackupId(startedAt: Date): string {
  if (Number.isNaN(startedAt.getTime())) throw new RangeError('newBackupId: invalid start date');
  // 2026-11-30T18:15:00.123Z → 20261130T181500Z
  return startedAt
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}

export function isBackupId(value: string): boolean {
  return BACKUP_ID.test(value);
}

/** The start time a backup id encodes (to the second). */
export function backupIdTime(backupId: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(backupId);
  if (!m) throw new RangeError(`"${backupId}" is not a backup id (YYYYMMDDTHHMMSSZ)`);
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  return new Date(Date.UTC(y, mo - 1, d, h, mi, s));
}

/** ObjectStore.path without empty segments: '', '/', 'a//b/' → '', '', 'a/b'. */
export function normalizePath(path: string | undefined): string {
  const segments = (path ?? '').split('/').filter((s) => s !== '');
  for (const s of segments) {
    // S3 keeps "." and ".." literally; a prefix that reads like a relative path only misleads.
    if (s === '.' || s === '..') throw new RangeError(`object store path "${path ?? ''}" contains "${s}"`);
  }
  return segments.join('/');
}

/** One key segment from a name we did not choose; a slash in it would change the layout. */
function segment(what: string, value: string): string {
  if (value === '' || value.includes('/') || value === '.' || value === '..') {
    throw new RangeError(`${what} "${value}" cannot be part of an object key`);
  }
  return value;
}

function join(...parts: string[]): string {
  return parts.filter((p) => p !== '').join('/');
}

/** `<path>/<cluster>/`: everything of one cluster, the prefix a restore lists. */
export function clusterPrefix(path: string | undefined, cluster: string): string {
  return `${join(normalizePath(path), segment('cluster', cluster))}/`;
}

/** `<path>/<cluster>/<backup-name>/`: every run of one Backup (or of one name). */
export function backupNamePrefix(path: string | undefined, cluster: string, backupName: string): string {
  return `${clusterPrefix(path, cluster)}${segment('backup name', backupName)}/`;
}

/** `<path>/<cluster>/<backup-name>/<backup-id>/`: the folder of one backup. */
export function backupPrefix(loc: BackupLocation): string {
  if (!isBackupId(loc.backupId)) throw new RangeError(`backup id "${loc.backupId}" is not YYYYMMDDTHHMMSSZ`);
  return `${backupNamePrefix(loc.path, loc.cluster, loc.backupName)}${loc.backupId}/`;
}

/** `backup.<xbstream|sql>[.gz|.zst]`: the archive's name in its backup folder. */
export function archiveFileName(method: BackupMethod, compression: Compression): string {
  return `backup.${archiveExtension(method)}${compressionSuffix(compression)}`;
}

/** `.../backup.<xbstream|sql>[.gz|.zst]`. */
export function archiveKey(loc: BackupLocation, method: BackupMethod, compression: Compression): string {
  return `${backupPrefix(loc)}${archiveFileName(method, compression)}`;
}

/**
 * The order in which a restore takes backups, newest first: the greater backup ID (the start time),
 * then, for two started in the same second, the greater Backup name. Retention keeps what this
 * order puts first, whatever ended last.
 */
export function newerBackupFirst(
  a: { readonly backupId: string; readonly backupName: string },
  b: { readonly backupId: string; readonly backupName: string },
): number {
  if (a.backupId !== b.backupId) return a.backupId < b.backupId ? 1 : -1;
  return a.backupName < b.backupName ? 1 : a.backupName > b.backupName ? -1 : 0;
}

/**
 * Whether a backup that completed at `stoppedAt` counts as complete at `at` (a bootstrap chooses as
 * of its Cluster's creation). To the second: a creationTimestamp has no fraction, so a backup that
 * completed in the second the Cluster was created counts.
 */
export function completedBy(stoppedAt: Date, at: Date): boolean {
  return Math.floor(stoppedAt.getTime() / 1000) * 1000 <= at.getTime();
}

/** The archive extension a key ends with (`backup.xbstream.zst` → xbstream); undefined for another key. */
export function archiveExtensionOf(key: string): 'xbstream' | 'sql' | undefined {
  const match = /\/backup\.(xbstream|sql)(?:\.gz|\.zst)?$/.exec(`/${key}`);
  return match?.[1] === 'xbstream' ? 'xbstream' : match?.[1] === 'sql' ? 'sql' : undefined;
}

/** `.../metadata.json`, written last: its presence marks the backup complete. */
export function metadataKey(loc: BackupLocation): string {
  return `${backupPrefix(loc)}${METADATA_FILE}`;
}

/** The object the preflight writes and deletes to prove the bucket takes writes there. */
export function preflightProbeKey(loc: BackupLocation): string {
  return `${backupPrefix(loc)}.lifeboat-preflight`;
}

/** `<path>/<cluster>/binlogs/[<server-id>/]`. */
export function binlogPrefix(path: string | undefined, cluster: string, serverId?: number | string): string {
  const base = `${clusterPrefix(path, cluster)}${BINLOGS_FOLDER}/`;
  return serverId === undefined ? base : `${base}${segment('server id', String(serverId))}/`;
}

/** `<path>/<cluster>/binlogs/<server-id>/<binlog-file>`. */
export function binlogKey(path: string | undefined, cluster: string, serverId: number | string, file: string): string {
  return `${binlogPrefix(path, cluster, serverId)}${segment('binlog file', file)}`;
}

/** The backup a `metadata.json` key belongs to, or undefined for any other key under the cluster prefix. */
export function parseMetadataKey(
  key: string,
  path: string | undefined,
  cluster: string,
): { backupName: string; backupId: string } | undefined {
  const prefix = clusterPrefix(path, cluster);
  if (!key.startsWith(prefix)) return undefined;
  const parts = key.slice(prefix.length).split('/');
  const [backupName, backupId, file] = parts;
  if (parts.length !== 3 || !backupName || !backupId || file !== METADATA_FILE || !isBackupId(backupId)) {
    return undefined;
  }
  return { backupName, backupId };
}

/** `s3://<bucket>/<backup prefix>`, the Backup's status.destinationPath. */
export function destinationPath(bucket: string, loc: BackupLocation): string {
  return `s3://${segment('bucket', bucket)}/${backupPrefix(loc)}`;
}
