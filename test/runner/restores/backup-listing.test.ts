// The catalog of a bucket with a fake S3: what counts as complete, what is flagged and why, and
// which failures reject instead of hiding a backup.
import assert from 'node:assert/strict';
import type { BackupMetadataType } from '../../../crds/backup-metadata-types.js';
import { listBackups, type ListedBackup } from '../../../runner/restores/backup-listing.js';
import { DownloadFailedError } from '../../../runner/work-failures.js';
import { FakeS3, s3Error } from '../data-path/fake-s3.js';
import { BUCKET, putBackup, sampleMetadata } from './backup-fixtures.js';

const ARCHIVE = Buffer.from('-- a dump\nCREATE TABLE t (id INT);\n');

function list(fake: FakeS3, cluster = 'shop'): Promise<ListedBackup[]> {
  return listBackups({ client: fake.client(), bucket: BUCKET, path: 'p', cluster });
}

function only(listed: ListedBackup[]): ListedBackup {
  assert.equal(listed.length, 1, JSON.stringify(listed));
  return listed[0] as ListedBackup;
}

describe('backup listing (fake S3)', () => {
  it('lists complete backups newest first, across pages, ignoring binlogs and other clusters', async () => {
    const fake = new FakeS3();
    fake.listObjectsPageSize = 2;
    for (const [name, id] of [
      ['shop-1', '20261130T181500Z'],
      ['shop-2', '20261201T000000Z'],
      ['shop-0', '20261129T000000Z'],
    ] as const) {
      putBackup(fake, sampleMetadata({ backupName: name, backupId: id }, ARCHIVE), ARCHIVE);
    }
    putBackup(fake, sampleMetadata({ cluster: 'other', backupName: 'o-1' }, ARCHIVE), ARCHIVE);
    fake.objects.set(`${BUCKET}/p/shop/binlogs/1/mysql-bin.000001`, { body: Buffer.from('x'), input: {} });
    const listed = await list(fake);
    assert.deepEqual(
      listed.map((b) => [b.backupName, b.backupId, b.problems.length, b.archiveSize]),
      [
        ['shop-2', '20261201T000000Z', 0, ARCHIVE.length],
        ['shop-1', '20261130T181500Z', 0, ARCHIVE.length],
        ['shop-0', '20261129T000000Z', 0, ARCHIVE.length],
      ],
    );
    assert.ok(fake.count('ListObjectsV2') >= 3, 'paginated');
    assert.equal(fake.count('HeadObject'), 0, 'sizes come from the listing');
    assert.equal(listed[0]?.metadata?.sha256.length, 64);
  });

  it('an empty prefix lists nothing', async () => {
    assert.deepEqual(await list(new FakeS3()), []);
  });

  const flawed: Array<{ name: string; arrange: (fake: FakeS3) => void; problem: RegExp; size?: number }> = [
    {
      name: 'a missing archive',
      arrange: (fake) => putBackup(fake, sampleMetadata({}, ARCHIVE), null),
      problem: /^archive p\/shop\/shop-1\/20261130T181500Z\/backup\.sql\.gz is missing$/,
    },
    {
      name: 'a truncated archive',
      arrange: (fake) => putBackup(fake, sampleMetadata({}, ARCHIVE), ARCHIVE.subarray(0, 5)),
      problem: new RegExp(`^archive is 5 bytes, metadata says ${ARCHIVE.length}$`),
      size: 5,
    },
    {
      name: 'metadata.json that is not JSON',
      arrange: (fake) => putBackup(fake, sampleMetadata({}, ARCHIVE), ARCHIVE, { metadataText: '{oops' }),
      problem: /^metadata\.json is not valid: .*is not JSON/,
    },
    {
      name: 'metadata.json missing a field',
      arrange: (fake) => {
        const partial: Partial<BackupMetadataType> = sampleMetadata({}, ARCHIVE);
        delete partial.sha256;
        putBackup(fake, sampleMetadata({}, ARCHIVE), ARCHIVE, { metadataText: JSON.stringify(partial) });
      },
      problem: /^metadata\.json is not valid: .*must have required property 'sha256'/,
    },
    {
      name: 'metadata.json naming an archive in another folder (security)',
      arrange: (fake) => {
        const m = { ...sampleMetadata({}, ARCHIVE), objectKey: 'p/other/o-1/20261130T181500Z/backup.sql.gz' };
        putBackup(fake, m, ARCHIVE);
      },
      problem: /^metadata\.json names an archive outside its folder \(p\/other\//,
    },
    {
      name: 'metadata.json naming a nested key in its folder (security)',
      arrange: (fake) => {
        const m = sampleMetadata({}, ARCHIVE);
        putBackup(fake, { ...m, objectKey: `${m.objectKey.replace(/backup\.sql\.gz$/, '')}x/backup.sql.gz` }, ARCHIVE);
      },
      problem: /^metadata\.json names an archive outside its folder/,
    },
    {
      name: 'metadata.json whose archive name does not fit its method',
      arrange: (fake) => {
        const m = sampleMetadata({}, ARCHIVE);
        putBackup(fake, { ...m, method: 'mariabackup' }, ARCHIVE);
      },
      problem:
        /names archive .*backup\.sql\.gz, but a mariabackup backup with compression gzip is .*backup\.xbstream\.gz$/,
    },
    {
      name: 'metadata.json copied from another cluster',
      arrange: (fake) => {
        const m = sampleMetadata({ cluster: 'other' }, ARCHIVE);
        putBackup(fake, m, ARCHIVE, { folder: { cluster: 'shop', backupName: 'shop-1', backupId: m.backupId } });
      },
      problem: /^metadata\.json says cluster "other" but sits under "shop\/"$/,
    },
    {
      name: 'metadata.json with another backup ID',
      arrange: (fake) => {
        const m = sampleMetadata({}, ARCHIVE);
        putBackup(fake, m, ARCHIVE, {
          folder: { cluster: 'shop', backupName: 'shop-1', backupId: '20270101T000000Z' },
        });
      },
      problem: /^metadata\.json says backup ID 20261130T181500Z but sits in folder 20270101T000000Z\/$/,
    },
  ];
  for (const c of flawed) {
    it(`flags ${c.name}`, async () => {
      const fake = new FakeS3();
      c.arrange(fake);
      const b = only(await list(fake));
      assert.ok(b.problems.length > 0, 'flagged');
      assert.match(b.problems[0] ?? '', c.problem);
      if (c.size !== undefined) assert.equal(b.archiveSize, c.size);
    });
  }

  it('metadata.json deleted between listing and reading is flagged, not an error', async () => {
    const fake = new FakeS3();
    putBackup(fake, sampleMetadata({}, ARCHIVE), ARCHIVE);
    fake.fault = (command) => (command === 'GetObject' ? s3Error('NoSuchKey', 404) : undefined);
    assert.match(only(await list(fake)).problems[0] ?? '', /deleted while listing/);
  });

  it('a metadata.json read that fails for access rejects, so an older backup is not taken for the newest', async () => {
    const fake = new FakeS3();
    putBackup(fake, sampleMetadata({}, ARCHIVE), ARCHIVE);
    fake.fault = (command) => (command === 'GetObject' ? s3Error('AccessDenied', 403) : undefined);
    await assert.rejects(list(fake), (err: unknown) => {
      assert.ok(err instanceof DownloadFailedError);
      assert.match(err.message, /^reading s3:\/\/lifeboat\/p\/shop\/shop-1\/.*metadata\.json failed: access denied/);
      return true;
    });
  });

  const listingFailures: Array<{ name: string; error: Error; message: RegExp }> = [
    { name: 'no such bucket', error: s3Error('NoSuchBucket', 404), message: /bucket 'lifeboat' not found at/ },
    { name: 'access denied', error: s3Error('AccessDenied', 403), message: /access denied to bucket 'lifeboat'/ },
    {
      name: 'a wrong access key',
      error: s3Error('InvalidAccessKeyId', 403),
      message: /does not know the access key ID/,
    },
    {
      name: 'an unreachable endpoint',
      error: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      message: /connection refused at http:\/\/fake-s3\.invalid:9000/,
    },
  ];
  for (const c of listingFailures) {
    it(`listing with ${c.name}: DownloadFailedError saying what to fix, no secret`, async () => {
      const fake = new FakeS3();
      fake.fault = (command) => (command === 'ListObjectsV2' ? c.error : undefined);
      await assert.rejects(list(fake), (err: unknown) => {
        assert.ok(err instanceof DownloadFailedError);
        assert.match(err.message, /^listing s3:\/\/lifeboat\/p\/shop\/ failed: /);
        assert.match(err.message, c.message);
        assert.doesNotMatch(err.message, /fake-secret/);
        return true;
      });
    });
  }
});
