// `lifeboat backups list|verify`: disaster recovery's first look at a bucket, with nothing but the
// bucket and a Cluster manifest (or flags): which backups are there and complete, and does one
// archive still hash to what its metadata.json records. The AWS SDK and the data path load inside
// the actions, so that the other subcommands start without them.
import { Command, Option } from 'commander';
import type { ListedBackup } from '../runner/restores/backup-listing.js';
import { addStoreOptions, storeFromOptions, type StoreOptions } from './object-store-source.js';

const OUTPUTS = ['table', 'json'] as const;
type Output = (typeof OUTPUTS)[number];

const UNITS = ['KiB', 'MiB', 'GiB', 'TiB'] as const;

/** 1536 → "1.5 KiB"; bytes below 1 KiB as they are. */
export function humanSize(bytes: number | undefined): string {
  if (bytes === undefined) return '-';
  if (bytes < 1024) return `${bytes} B`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** A GTID set cut to fit a column: multi-domain sets can run to hundreds of characters. */
function shortGtid(gtid: string | undefined, max = 24): string {
  if (!gtid) return '?';
  return gtid.length <= max ? gtid : `${gtid.slice(0, max - 1)}…`;
}

function gtidRange(b: ListedBackup): string {
  const m = b.metadata;
  if (!m || (!m.beginGTID && !m.endGTID)) return '-';
  return `${shortGtid(m.beginGTID)}→${shortGtid(m.endGTID)}`;
}

function completeness(b: ListedBackup): string {
  const [first, ...rest] = b.problems;
  if (first === undefined) return 'yes';
  return `no: ${first}${rest.length > 0 ? ` (and ${rest.length} more)` : ''}`;
}

/** The listing as a table, newest first, one line per backup. */
export function formatBackupTable(listed: readonly ListedBackup[]): string {
  const rows = listed.map((b) => [
    b.backupId,
    b.backupName,
    b.metadata?.method ?? '?',
    humanSize(b.metadata?.size ?? b.archiveSize),
    gtidRange(b),
    completeness(b),
  ]);
  const header = ['BACKUP ID', 'BACKUP', 'METHOD', 'SIZE', 'GTID', 'COMPLETE'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  // The last column is not padded: it holds free text and would only trail spaces.
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ');
  return `${[header, ...rows].map(line).join('\n')}\n`;
}

async function runList(opts: StoreOptions & { output: Output }): Promise<void> {
  const store = await storeFromOptions(opts);
  const { listBackups } = await import('../runner/restores/backup-listing.js');
  const listed = await listBackups(store);
  if (opts.output === 'json') {
    process.stdout.write(`${JSON.stringify(listed, null, 2)}\n`);
    return;
  }
  // An empty listing is an answer, not a failure: the user asked what is there.
  process.stdout.write(listed.length === 0 ? `no backups under ${store.where}\n` : formatBackupTable(listed));
}

/**
 * The backup `verify` re-hashes: as chooseBackup would take it, except that one whose only
 * problems are with its archive is still read, so that the user sees the size or hash verdict.
 */
export async function backupToVerify(
  listed: readonly ListedBackup[],
  want: { backupID: string; backupName?: string | undefined; where: string },
): Promise<ListedBackup & { metadata: NonNullable<ListedBackup['metadata']> }> {
  const verifiable = listed.filter(
    (b): b is ListedBackup & { metadata: NonNullable<ListedBackup['metadata']> } =>
      b.backupId === want.backupID &&
      (want.backupName === undefined || b.backupName === want.backupName) &&
      b.metadata !== undefined &&
      b.problems.every((p) => p.startsWith('archive ')),
  );
  const [only, second] = verifiable;
  if (only && !second) return only;
  const { chooseBackup } = await import('../runner/restores/backup-choice.js');
  return chooseBackup(listed, want);
}

async function runVerify(backupID: string, opts: StoreOptions & { backup?: string }): Promise<void> {
  const store = await storeFromOptions(opts);
  const [{ listBackups }, { verifyArchive }, { createLogger }] = await Promise.all([
    import('../runner/restores/backup-listing.js'),
    import('../runner/data-path/archive-download.js'),
    import('../lib/logger.js'),
  ]);
  const listed = await listBackups(store);
  const chosen = await backupToVerify(listed, { backupID, backupName: opts.backup, where: store.where });
  // Only a read that broke off and was resumed logs (on stderr); the verdict is on stdout.
  const log = createLogger('backups');
  const verified = await verifyArchive(
    { client: store.client, bucket: store.bucket, metadata: chosen.metadata },
    { log },
  );
  process.stdout.write(
    `s3://${store.bucket}/${chosen.metadata.objectKey}: ${verified.size} bytes, sha256 ${verified.sha256} matches metadata.json\n`,
  );
}

export function backupsCommand(root: Command): void {
  const backups = root
    .command('backups')
    .description('list and verify the backups in an object store, with no Kubernetes API needed');
  addStoreOptions(backups.command('list'))
    .description('list the backups under <path>/<cluster>/, newest first, and whether each is complete')
    .addOption(new Option('-o, --output <format>', 'output format').choices(OUTPUTS).default('table'))
    .action(runList);
  addStoreOptions(backups.command('verify'))
    .description("re-hash one backup's archive and compare it with its metadata.json (exit 1 when it differs)")
    .argument('<backup-id>', 'the backup ID, YYYYMMDDTHHMMSSZ, as `lifeboat backups list` shows it')
    .option('--backup <name>', 'the Backup name, when several share the ID')
    .action(runVerify);
}
