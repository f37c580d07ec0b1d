// Which backup a restore from a bucket takes: a table of listings and what each must choose or
// refuse, with the reason and the words a user acts on.
import assert from 'node:assert/strict';
import type { BackupMetadataType } from '../../../crds/backup-metadata-types.js';
import { chooseBackup, type BackupWanted } from '../../../runner/restores/backup-choice.js';
import type { ListedBackup } from '../../../runner/restores/backup-listing.js';
import { BackupIdNotFoundError, NoBackupsFoundError } from '../../../runner/work-failures.js';
import { sampleMetadata } from './backup-fixtures.js';

const WHERE = 's3://lifeboat/p/shop/';

function backup(
  backupName: string,
  backupId: string,
  problems: string[] = [],
  method: BackupMetadataType['method'] = 'mariadb-dump',
): ListedBackup {
  const metadata: BackupMetadataType = sampleMetadata({ backupName, backupId, method }, Buffer.from('x'));
  return { metadataKey: `p/shop/${backupName}/${backupId}/metadata.json`, backupName, backupId, metadata, problems };
}

function invalid(backupName: string, backupId: string): ListedBackup {
  return {
    metadataKey: `p/shop/${backupName}/${backupId}/metadata.json`,
    backupName,
    backupId,
    problems: ['metadata.json is not valid: not JSON'],
  };
}

const A = backup('shop-a', '20260101T000000Z');
const B = backup('shop-b', '20260201T000000Z');
const B2 = backup('shop-c', '20260201T000000Z');
const C_TRUNCATED = backup('shop-d', '20260301T000000Z', ['archive is 5 bytes, metadata says 9']);
const D_INVALID = invalid('shop-e', '20260401T000000Z');
const P = backup('shop-phys', '20260501T000000Z', [], 'mariabackup');
const P_OLD = backup('shop-phys-old', '20251201T000000Z', [], 'mariabackup');
/** A backup that completed at `stoppedAt`. */
function completedAt(b: ListedBackup, stoppedAt: string): ListedBackup {
  return { ...b, metadata: { ...b.metadata!, stoppedAt } };
}
const EARLY = completedAt(backup('early', '20261201T000000Z'), '2026-12-01T00:05:00Z');
const LATE = completedAt(backup('late', '20261201T010000Z', [], 'mariabackup'), '2026-12-01T01:05:00Z');
const LATE_SAME_SECOND = completedAt(LATE, '2026-12-01T01:00:00.900Z');
const CREATED = { at: new Date('2026-12-01T01:00:00Z'), what: 'Cluster shop/db was created' };
const P_TRUNCATED = backup('shop-phys-cut', '20260601T000000Z', ['archive … is missing'], 'mariabackup');

interface Chooses {
  readonly name: string;
  readonly listed: ListedBackup[];
  readonly want?: Omit<BackupWanted, 'where'>;
  readonly chosen: ListedBackup;
}

const CHOOSES: Chooses[] = [
  { name: 'the newest of one', listed: [A], chosen: A },
  { name: 'the newest by backup ID, whatever the order given', listed: [B, A], chosen: B },
  { name: 'skipping newer incomplete ones', listed: [A, C_TRUNCATED, D_INVALID], chosen: A },
  { name: 'a tie on the ID goes to the greater name', listed: [B, B2, A], chosen: B2 },
  { name: 'an exact ID', listed: [A, B, C_TRUNCATED], want: { backupID: A.backupId }, chosen: A },
  {
    name: 'an ID shared with an incomplete backup: the complete one',
    listed: [backup('x', A.backupId, ['archive … is missing']), A],
    want: { backupID: A.backupId },
    chosen: A,
  },
  {
    name: 'an ID two Backups share, with --backup naming one',
    listed: [B, B2],
    want: { backupID: B.backupId, backupName: 'shop-b' },
    chosen: B,
  },
  { name: 'the newest of one Backup name', listed: [A, B, B2], want: { backupName: 'shop-a' }, chosen: A },
  { name: 'the newest of either kind, when no kind is asked for', listed: [A, B, P], chosen: P },
  {
    name: 'the newest logical one, passing a newer physical one',
    listed: [A, B, P],
    want: { kind: 'logical' },
    chosen: B,
  },
  {
    name: 'the newest physical one, passing newer logical ones and an incomplete physical one',
    listed: [P_OLD, A, B, P_TRUNCATED],
    want: { kind: 'physical' },
    chosen: P_OLD,
  },
  {
    name: 'the newest complete when a Cluster was created, passing one that completed later',
    listed: [EARLY, LATE],
    want: { completedBy: CREATED },
    chosen: EARLY,
  },
  {
    name: 'one that completed within the second the Cluster was created (a creationTimestamp has no fraction)',
    listed: [EARLY, LATE_SAME_SECOND],
    want: { completedBy: CREATED },
    chosen: LATE_SAME_SECOND,
  },
  {
    name: 'an exact ID that completed after the Cluster was created',
    listed: [EARLY, LATE],
    want: { completedBy: CREATED, backupID: LATE.backupId },
    chosen: LATE,
  },
  {
    name: 'an exact ID of the other kind (the caller says why it cannot restore it)',
    listed: [A, P],
    want: { backupID: P.backupId, kind: 'logical' },
    chosen: P,
  },
];

interface Refuses {
  readonly name: string;
  readonly listed: ListedBackup[];
  readonly want?: Omit<BackupWanted, 'where'>;
  readonly error: typeof NoBackupsFoundError | typeof BackupIdNotFoundError;
  readonly message: RegExp;
}

const REFUSES: Refuses[] = [
  {
    name: 'nothing listed',
    listed: [],
    error: NoBackupsFoundError,
    message:
      /^no backups under s3:\/\/lifeboat\/p\/shop\/; check the source's objectStore path and name, or take a backup first$/,
  },
  {
    name: 'only incomplete backups, naming each and why',
    listed: [C_TRUNCATED, D_INVALID],
    error: NoBackupsFoundError,
    message:
      /^no complete backup under s3:\/\/lifeboat\/p\/shop\/: shop-e\/20260401T000000Z \(metadata\.json is not valid: not JSON\); shop-d\/20260301T000000Z \(archive is 5 bytes, metadata says 9\); take a new backup/,
  },
  {
    name: 'an ID that is not there, naming the newest that are',
    listed: [A, B, C_TRUNCATED],
    want: { backupID: '20250101T000000Z' },
    error: BackupIdNotFoundError,
    message:
      /^backup ID 20250101T000000Z is not under s3:\/\/lifeboat\/p\/shop\/ \(the newest there: 20260301T000000Z, 20260201T000000Z, 20260101T000000Z\); fix backupID$/,
  },
  {
    name: 'an ID in an empty bucket',
    listed: [],
    want: { backupID: '20250101T000000Z' },
    error: BackupIdNotFoundError,
    message: /\(there are no backups there\)/,
  },
  {
    name: 'an ID that is there but incomplete, saying why',
    listed: [A, C_TRUNCATED],
    want: { backupID: C_TRUNCATED.backupId },
    error: BackupIdNotFoundError,
    message:
      /^backup shop-d\/20260301T000000Z \(archive is 5 bytes, metadata says 9\) under .* cannot be restored; choose another backup ID/,
  },
  {
    name: 'an ID two complete Backups share',
    listed: [A, B, B2],
    want: { backupID: B.backupId },
    error: BackupIdNotFoundError,
    message:
      /^backup ID 20260201T000000Z under .* is shared by Backups "shop-c", "shop-b"; restore from the Backup object/,
  },
  {
    name: 'an ID that is not one',
    listed: [A],
    want: { backupID: 'latest' },
    error: BackupIdNotFoundError,
    message: /^backup ID "latest" is not a backup ID; write it as YYYYMMDDTHHMMSSZ, e\.g\. 20260101T000000Z$/,
  },
  {
    name: 'a logical one when all complete backups are physical, naming the newest and what to do',
    listed: [P_OLD, P, P_TRUNCATED],
    want: { kind: 'logical' },
    error: NoBackupsFoundError,
    message:
      /^no complete logical backup under s3:\/\/lifeboat\/p\/shop\/: all 2 complete backups there are physical \(newest: shop-phys\/20260501T000000Z, mariabackup\), which a running server cannot take: restore one into the data directory of a new Cluster \(spec\.bootstrap\.recovery with lifeboat restore-datadir\), or take a logical backup \(method mariadb-dump\) first$/,
  },
  {
    name: 'a physical one when the only complete backup is logical',
    listed: [A, P_TRUNCATED],
    want: { kind: 'physical' },
    error: NoBackupsFoundError,
    message:
      /^no complete physical backup under .*: the one complete backup there is logical \(newest: shop-a\/20260101T000000Z, mariadb-dump\), which restore-datadir cannot put in a data directory: restore one into a running server .*, or take a physical backup \(method mariabackup\) first$/,
  },
  {
    name: 'a backup of the asked-for kind when none is complete: the incomplete ones, as without a kind',
    listed: [P_TRUNCATED],
    want: { kind: 'logical' },
    error: NoBackupsFoundError,
    message: /^no complete backup under .*: shop-phys-cut\/20260601T000000Z \(archive … is missing\)/,
  },
  {
    name: 'the newest when every complete backup completed after the Cluster was created',
    listed: [LATE],
    want: { completedBy: CREATED },
    error: NoBackupsFoundError,
    message:
      /^no backup under s3:\/\/lifeboat\/p\/shop\/ had completed when Cluster shop\/db was created \(2026-12-01T01:00:00\.000Z\); the newest there, late\/20261201T010000Z, completed at 2026-12-01T01:05:00Z: set backupID to restore it$/,
  },
  {
    name: 'a Backup name with no backups',
    listed: [A],
    want: { backupName: 'nope' },
    error: NoBackupsFoundError,
    message: /^no backups of Backup "nope" under /,
  },
];

describe('backup choice', () => {
  for (const c of CHOOSES) {
    it(`chooses ${c.name}`, () => {
      const chosen = chooseBackup(c.listed, { ...c.want, where: WHERE });
      assert.equal(chosen, c.chosen);
      assert.ok(chosen.metadata.sha256);
    });
  }
  for (const c of REFUSES) {
    it(`refuses ${c.name}`, () => {
      assert.throws(
        () => chooseBackup(c.listed, { ...c.want, where: WHERE }),
        (err: unknown) => {
          assert.ok(err instanceof c.error, String(err));
          assert.match(err.message, c.message);
          return true;
        },
      );
    });
  }

  it('names at most five incomplete backups and counts the rest', () => {
    const many = Array.from({ length: 7 }, (_, i) => invalid(`b${i}`, `2026010${i + 1}T000000Z`));
    assert.throws(() => chooseBackup(many, { where: WHERE }), /and 2 more; take a new backup/);
  });
});
