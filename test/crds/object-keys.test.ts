// The object layout of docs/design.md, derived in one place: keys, prefixes, ids and their parsing.
import assert from 'node:assert/strict';
import {
  archiveExtension,
  archiveExtensionOf,
  completedBy,
  archiveKey,
  backupIdTime,
  backupNamePrefix,
  backupPrefix,
  binlogKey,
  binlogPrefix,
  clusterPrefix,
  compressionSuffix,
  destinationPath,
  isBackupId,
  metadataKey,
  newBackupId,
  normalizePath,
  parseMetadataKey,
  preflightProbeKey,
  newerBackupFirst,
  type BackupLocation,
} from '../../crds/object-keys.js';

const loc = (path?: string): BackupLocation => ({
  path,
  cluster: 'shop',
  backupName: 'shop-nightly',
  backupId: '20261130T181500Z',
});

describe('object keys', () => {
  it('newBackupId is the UTC start time to the second, YYYYMMDDTHHMMSSZ', () => {
    assert.equal(newBackupId(new Date('2026-11-30T18:15:00.987Z')), '20261130T181500Z');
    assert.equal(newBackupId(new Date('2027-01-02T03:04:05+02:00')), '20270102T010405Z');
    assert.throws(() => newBackupId(new Date('nonsense')), RangeError);
  });

  it('backup ids round-trip to their time and sort in time order', () => {
    const t = new Date('2026-11-30T18:15:07Z');
    assert.equal(backupIdTime(newBackupId(t)).toISOString(), t.toISOString());
    const ids = ['2026-12-01T00:00:00Z', '2026-11-30T23:59:59Z', '2025-12-31T12:00:00Z'].map((d) =>
      newBackupId(new Date(d)),
    );
    assert.deepEqual([...ids].sort(), ['20251231T120000Z', '20261130T235959Z', '20261201T000000Z']);
    assert.ok(isBackupId('20261130T181500Z'));
    for (const bad of ['20261130T1815Z', '2026-11-30T18:15:00Z', '20261130T181500', 'x20261130T181500Z']) {
      assert.ok(!isBackupId(bad), bad);
    }
    assert.throws(() => backupIdTime('latest'), /not a backup id/);
  });

  const archives = [
    ['mariabackup', 'none', 'backup.xbstream'],
    ['xtrabackup', 'gzip', 'backup.xbstream.gz'],
    ['mariadb-dump', 'zstd', 'backup.sql.zst'],
    ['mysqldump', 'gzip', 'backup.sql.gz'],
    ['mariadb-dump', 'none', 'backup.sql'],
  ] as const;
  for (const [method, compression, file] of archives) {
    it(`archive of ${method} with compression ${compression} is ${file}`, () => {
      assert.equal(
        archiveKey(loc('backups'), method, compression),
        `backups/shop/shop-nightly/20261130T181500Z/${file}`,
      );
    });
  }

  it('reads the archive extension back from a key; another key has none', () => {
    assert.equal(archiveExtensionOf('backups/shop/n/20261130T181500Z/backup.xbstream.zst'), 'xbstream');
    assert.equal(archiveExtensionOf('backup.sql'), 'sql');
    assert.equal(archiveExtensionOf('backups/shop/n/20261130T181500Z/backup.sql.gz'), 'sql');
    assert.equal(archiveExtensionOf('backups/shop/n/20261130T181500Z/metadata.json'), undefined);
    assert.equal(archiveExtensionOf('backups/shop/n/x/mybackup.sql'), undefined);
  });

  it('orders backups as a restore takes them: greater backup ID first, then the greater Backup name', () => {
    const b = (backupId: string, backupName: string): { backupId: string; backupName: string } => ({
      backupId,
      backupName,
    });
    const sorted = [
      b('20261130T181500Z', 'b'),
      b('20261201T000000Z', 'a'),
      b('20261130T181500Z', 'c'),
      b('20261130T181500Z', 'B'),
    ].sort(newerBackupFirst);
    assert.deepEqual(
      sorted.map((x) => `${x.backupId}/${x.backupName}`),
      ['20261201T000000Z/a', '20261130T181500Z/c', '20261130T181500Z/b', '20261130T181500Z/B'],
    );
  });

  it('counts a backup complete at an instant to the second, as a creationTimestamp is written', () => {
    const created = new Date('2026-12-01T00:10:00Z');
    assert.equal(completedBy(new Date('2026-12-01T00:10:00.999Z'), created), true);
    assert.equal(completedBy(new Date('2026-12-01T00:09:59Z'), created), true);
    assert.equal(completedBy(new Date('2026-12-01T00:10:01Z'), created), false);
  });

  it('extensions and suffixes', () => {
    assert.equal(archiveExtension('mariabackup'), 'xbstream');
    assert.equal(archiveExtension('mysqldump'), 'sql');
    assert.deepEqual(
      (['none', 'gzip', 'zstd'] as const).map((c) => compressionSuffix(c)),
      ['', '.gz', '.zst'],
    );
  });

  const paths: ReadonlyArray<[string | undefined, string]> = [
    [undefined, ''],
    ['', ''],
    ['/', ''],
    ['prod', 'prod/'],
    ['/prod/', 'prod/'],
    ['//prod//eu///', 'prod/eu/'],
  ];
  for (const [path, want] of paths) {
    it(`path ${JSON.stringify(path)} gives keys under "${want}" with no "//" and no leading "/"`, () => {
      const keys = [
        archiveKey(loc(path), 'mariabackup', 'gzip'),
        metadataKey(loc(path)),
        binlogKey(path, 'shop', 1, 'mariadb-bin.000042'),
        clusterPrefix(path, 'shop'),
      ];
      for (const key of keys) {
        assert.ok(key.startsWith(`${want}shop/`), key);
        assert.ok(!key.includes('//') && !key.startsWith('/'), key);
      }
      assert.equal(normalizePath(path), want.replace(/\/$/, ''));
    });
  }

  it('the layout of docs/design.md', () => {
    assert.equal(metadataKey(loc('b')), 'b/shop/shop-nightly/20261130T181500Z/metadata.json');
    assert.equal(backupPrefix(loc('b')), 'b/shop/shop-nightly/20261130T181500Z/');
    assert.equal(backupNamePrefix('b', 'shop', 'shop-nightly'), 'b/shop/shop-nightly/');
    assert.equal(clusterPrefix('b', 'shop'), 'b/shop/');
    assert.equal(binlogPrefix('b', 'shop'), 'b/shop/binlogs/');
    assert.equal(binlogPrefix('b', 'shop', 3), 'b/shop/binlogs/3/');
    assert.equal(binlogKey('b', 'shop', 3, 'mariadb-bin.000042'), 'b/shop/binlogs/3/mariadb-bin.000042');
    assert.equal(preflightProbeKey(loc('b')), 'b/shop/shop-nightly/20261130T181500Z/.lifeboat-preflight');
  });

  it('destinationPath is the s3:// URL of the backup folder', () => {
    assert.equal(destinationPath('lifeboat', loc('/prod/')), 's3://lifeboat/prod/shop/shop-nightly/20261130T181500Z/');
    assert.equal(destinationPath('lifeboat', loc()), 's3://lifeboat/shop/shop-nightly/20261130T181500Z/');
  });

  it('refuses names that would change the layout', () => {
    assert.throws(() => clusterPrefix('', 'a/b'), /cluster "a\/b"/);
    assert.throws(() => backupNamePrefix('', 'shop', ''), /backup name ""/);
    assert.throws(() => binlogKey('', 'shop', 1, '../x'), /binlog file/);
    assert.throws(() => metadataKey({ ...loc(), backupId: 'latest' }), /backup id "latest"/);
    assert.throws(() => archiveKey(loc('a/../b'), 'mariabackup', 'none'), /contains "\.\."/);
    assert.throws(() => destinationPath('', loc()), /bucket/);
  });

  it('parseMetadataKey finds the backups in a listing of the cluster prefix, and nothing else', () => {
    const listing = [
      metadataKey(loc('/p/')),
      archiveKey(loc('p'), 'mariabackup', 'none'),
      'p/shop/other/20250101T000000Z/metadata.json',
      'p/shop/other/not-an-id/metadata.json',
      binlogKey('p', 'shop', 1, 'metadata.json'),
      'p/shop/x/20250101T000000Z/sub/metadata.json',
      'p/shopx/other/20250101T000000Z/metadata.json',
    ];
    const found = listing.map((k) => parseMetadataKey(k, 'p', 'shop')).filter((x) => x !== undefined);
    assert.deepEqual(found, [
      { backupName: 'shop-nightly', backupId: '20261130T181500Z' },
      { backupName: 'other', backupId: '20250101T000000Z' },
    ]);
  });
});
