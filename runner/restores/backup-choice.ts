// Which backup a restore from a bucket takes (docs/design.md, "Restore data path"): a pure function over
// the listing, so the rule is tested with tables and the I/O that lists sits apart.
import type { BackupMetadataType } from '../../crds/backup-metadata-types.js';
import { backupKind, type BackupKind } from '../../crds/api-constants.js';
import { completedBy, isBackupId, newerBackupFirst } from '../../crds/object-keys.js';
import { BackupIdNotFoundError, NoBackupsFoundError } from '../work-failures.js';
import type { ListedBackup } from './backup-listing.js';

export type ChosenBackup = ListedBackup & { metadata: BackupMetadataType };

export interface BackupWanted {
  /** Exactly this backup ID; absent: the newest complete backup. */
  readonly backupID?: string | undefined;
  /** Only Backups of this name (the CLI's --backup), for an ID that several Backups share. */
  readonly backupName?: string | undefined;
  /** Where the listing came from, for messages, e.g. "s3://bucket/path/shop/". */
  readonly where: string;
  /**
   * Choosing the newest: only backups of this kind (undefined: any). An exact backupID is returned
   * whatever its kind; the caller says why it cannot restore that one.
   */
  readonly kind?: BackupKind | undefined;
  /**
   * Choosing the newest: only backups complete at this instant, e.g. when a Cluster was created,
   * so that two choosers (the bootstrap worker and restore-datadir --from-cluster) that run minutes
   * apart take the same backup whatever completed in between. `what` names the instant in messages.
   */
  readonly completedBy?: { readonly at: Date; readonly what: string } | undefined;
}

/** IDs named when the asked-for one is not there; enough to spot a typo, short enough to read. */
const IDS_SHOWN = 5;

function isComplete(b: ListedBackup): b is ChosenBackup {
  return b.metadata !== undefined && b.problems.length === 0;
}

function describe(b: ListedBackup): string {
  return `${b.backupName}/${b.backupId} (${b.problems.join('; ') || 'complete'})`;
}

/**
 * The backup to restore, complete (metadata valid, archive present with the recorded size).
 * Throws NoBackupsFoundError or BackupIdNotFoundError saying what is there and what to do.
 */
export function chooseBackup(listed: readonly ListedBackup[], want: BackupWanted): ChosenBackup {
  const candidates = want.backupName === undefined ? listed : listed.filter((b) => b.backupName === want.backupName);
  const sorted = [...candidates].sort(newerBackupFirst);
  return want.backupID === undefined ? newest(sorted, want) : exactly(want.backupID, sorted, want);
}

function newest(sorted: readonly ListedBackup[], want: BackupWanted): ChosenBackup {
  const everComplete = sorted.filter(isComplete);
  const complete = everComplete.filter((b) => completedInTime(b, want));
  const [later] = everComplete.filter((b) => !completedInTime(b, want));
  if (complete.length === 0 && later && want.completedBy) throw onlyLater(later, want.completedBy, want);
  const first = complete.find((b) => want.kind === undefined || backupKind(b.metadata.method) === want.kind);
  if (first) return first;
  const [other] = complete;
  if (other && want.kind) throw onlyOtherKind(want.kind, other, complete.length, want);
  const named = want.backupName === undefined ? '' : ` of Backup "${want.backupName}"`;
  if (sorted.length === 0) {
    throw new NoBackupsFoundError(
      `no backups${named} under ${want.where}; check the source's objectStore path and name, or take a backup first`,
    );
  }
  throw new NoBackupsFoundError(
    `no complete backup${named} under ${want.where}: ${sorted.slice(0, IDS_SHOWN).map(describe).join('; ')}` +
      `${sorted.length > IDS_SHOWN ? ` and ${sorted.length - IDS_SHOWN} more` : ''}; take a new backup or repair these`,
  );
}

function completedInTime(b: ChosenBackup, want: BackupWanted): boolean {
  return want.completedBy === undefined || completedBy(new Date(b.metadata.stoppedAt), want.completedBy.at);
}

function onlyLater(later: ChosenBackup, by: { at: Date; what: string }, want: BackupWanted): Error {
  return new NoBackupsFoundError(
    `no backup under ${want.where} had completed when ${by.what} (${by.at.toISOString()}); the newest there, ${later.backupName}/${later.backupId}, completed at ${later.metadata.stoppedAt}: set backupID to restore it`,
  );
}

const KIND_ADVICE: Record<BackupKind, string> = {
  logical:
    'which a running server cannot take: restore one into the data directory of a new Cluster (spec.bootstrap.recovery with lifeboat restore-datadir), or take a logical backup (method mariadb-dump) first',
  physical:
    'which restore-datadir cannot put in a data directory: restore one into a running server (a Restore, or spec.bootstrap.recovery of a new Cluster without restore-datadir), or take a physical backup (method mariabackup) first',
};

function onlyOtherKind(kind: BackupKind, newestThere: ChosenBackup, count: number, want: BackupWanted): Error {
  const other: BackupKind = kind === 'logical' ? 'physical' : 'logical';
  const named = want.backupName === undefined ? '' : ` of Backup "${want.backupName}"`;
  const these = count === 1 ? 'the one complete backup there is' : `all ${count} complete backups there are`;
  return new NoBackupsFoundError(
    `no complete ${kind} backup${named} under ${want.where}: ${these} ${other} (newest: ${newestThere.backupName}/${newestThere.backupId}, ${newestThere.metadata.method}), ${KIND_ADVICE[kind]}`,
  );
}

// An ID that is there but names no restorable backup is BackupIDNotFound too: the user asked for
// that exact backup and no restorable one has that ID. DownloadFailed would be retried although
// nothing will change, ChecksumMismatch would claim a hash was compared, and NoBackupsFound is
// about choosing the newest; the message says what is wrong with the one that is there.
function exactly(backupID: string, sorted: readonly ListedBackup[], want: BackupWanted): ChosenBackup {
  if (!isBackupId(backupID)) {
    throw new BackupIdNotFoundError(
      `backup ID "${backupID}" is not a backup ID; write it as YYYYMMDDTHHMMSSZ, e.g. ${sorted[0]?.backupId ?? '20260501T120000Z'}`,
    );
  }
  const matches = sorted.filter((b) => b.backupId === backupID);
  const complete = matches.filter(isComplete);
  const [only, second] = complete;
  if (only && !second) return only;
  if (only && second) {
    // Two Backups started in the same second under one cluster prefix; restoring either could be
    // the wrong one, so neither is chosen.
    throw new BackupIdNotFoundError(
      `backup ID ${backupID} under ${want.where} is shared by Backups ${complete.map((b) => `"${b.backupName}"`).join(', ')}; ` +
        'restore from the Backup object instead (or give --backup NAME on the command line)',
    );
  }
  if (matches.length > 0) {
    throw new BackupIdNotFoundError(
      `backup ${matches.map(describe).join('; ')} under ${want.where} cannot be restored; choose another backup ID or leave it empty for the newest complete one`,
    );
  }
  const ids = [...new Set(sorted.map((b) => b.backupId))].slice(0, IDS_SHOWN);
  const there = ids.length === 0 ? 'there are no backups there' : `the newest there: ${ids.join(', ')}`;
  throw new BackupIdNotFoundError(`backup ID ${backupID} is not under ${want.where} (${there}); fix backupID`);
}
