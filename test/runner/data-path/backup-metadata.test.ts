// metadata.json: checked before it is written, round-tripped through an in-memory S3 (fake S3),
// and refused with a clear message when a file is foreign, damaged or from a newer format.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { BackupMetadataType } from '../../../crds/backup-metadata-types.js';
import {
  metadataProblems,
  parseBackupMetadata,
  readBackupMetadata,
  writeBackupMetadata,
} from '../../../runner/data-path/backup-metadata.js';
import { DownloadFailedError, UploadFailedError } from '../../../runner/work-failures.js';
import { FakeS3, s3Error } from './fake-s3.js';

const KEY = 'p/shop/shop-1/20261130T181500Z/metadata.json';

const SAMPLE: BackupMetadataType = {
  formatVersion: 1,
  cluster: 'shop',
  namespace: 'default',
  backupName: 'shop-1',
  backupId: '20261130T181500Z',
  engine: 'mariadb',
  serverVersion: '10.11.9-MariaDB-log',
  method: 'mariabackup',
  sourceInstance: 'shop-1',
  objectKey: 'p/shop/shop-1/20261130T181500Z/backup.xbstream.gz',
  size: 123456,
  sha256: 'a'.repeat(64),
  compression: 'gzip',
  startedAt: '2026-11-30T18:15:00Z',
  stoppedAt: '2026-11-30T18:17:42Z',
  beginGTID: '0-1-100',
  endGTID: '0-1-142',
};

describe('backup metadata (fake S3)', () => {
  it('round trip: what is written is read back equal', async () => {
    const fake = new FakeS3();
    const client = fake.client();
    await writeBackupMetadata({ client, bucket: 'lifeboat', key: KEY, metadata: SAMPLE });
    assert.equal(fake.objects.get(`lifeboat/${KEY}`)?.input['ContentType'], 'application/json');
    assert.equal(fake.objects.get(`lifeboat/${KEY}`)?.input['StorageClass'], undefined);
    assert.deepEqual(await readBackupMetadata({ client, bucket: 'lifeboat', key: KEY }), SAMPLE);
  });

  it('never overwrites: an existing metadata.json fails UploadFailed naming it and is left as it was', async () => {
    const fake = new FakeS3();
    fake.objects.set(`lifeboat/${KEY}`, { body: Buffer.from('{"theirs":1}'), input: {} });
    await assert.rejects(
      writeBackupMetadata({ client: fake.client(), bucket: 'lifeboat', key: KEY, metadata: SAMPLE }),
      (err: unknown) =>
        err instanceof UploadFailedError &&
        err.message.includes(`s3://lifeboat/${KEY} already exists`) &&
        /Lifeboat never overwrites a backup/.test(err.message),
    );
    assert.equal(fake.object('lifeboat', KEY)?.toString(), '{"theirs":1}');
  });

  it('goes up with its full-object SHA-256, and the lock mode and retain-until date when asked', async () => {
    const fake = new FakeS3();
    fake.lockEnabled.add('lifeboat');
    const retainUntil = new Date('2026-12-04T12:00:00Z');
    const objectLock = { mode: 'COMPLIANCE', retainUntil } as const;
    await writeBackupMetadata({ client: fake.client(), bucket: 'lifeboat', key: KEY, metadata: SAMPLE, objectLock });
    const stored = fake.objects.get(`lifeboat/${KEY}`);
    assert.equal(
      stored?.input['ChecksumSHA256'],
      createHash('sha256')
        .update(stored?.body ?? '')
        .digest('base64'),
    );
    assert.equal(stored?.input['ObjectLockMode'], 'COMPLIANCE');
    assert.equal(stored?.input['ObjectLockRetainUntilDate'], retainUntil);
  });

  it('the optional GTID and binlog fields may be absent; unknown fields from a later writer are kept', () => {
    const minimal: Partial<BackupMetadataType> = { ...SAMPLE };
    delete minimal.beginGTID;
    delete minimal.endGTID;
    assert.deepEqual(metadataProblems(minimal), []);
    assert.deepEqual(metadataProblems({ ...SAMPLE, laterField: 'x' }), []);
  });

  it('refuses to write invalid metadata, before any request', async () => {
    const fake = new FakeS3();
    const metadata = { ...SAMPLE, sha256: 'not-a-hash' };
    await assert.rejects(
      writeBackupMetadata({ client: fake.client(), bucket: 'lifeboat', key: KEY, metadata }),
      /refusing to write an invalid s3:\/\/lifeboat\/.*metadata\.json: sha256 must match pattern/,
    );
    assert.deepEqual(fake.calls, []);
  });

  it('a failed write is UploadFailed with the reason in words', async () => {
    const fake = new FakeS3();
    fake.fault = () => s3Error('AccessDenied', 403);
    await assert.rejects(
      writeBackupMetadata({ client: fake.client(), bucket: 'lifeboat', key: KEY, metadata: SAMPLE }),
      (err: unknown) => err instanceof UploadFailedError && /writing s3:\/\/.* failed: access denied/.test(err.message),
    );
  });

  it('a missing metadata.json: the backup is incomplete', async () => {
    await assert.rejects(
      readBackupMetadata({ client: new FakeS3().client(), bucket: 'lifeboat', key: KEY }),
      (err: unknown) =>
        err instanceof DownloadFailedError && /no such object: the backup is incomplete/.test(err.message),
    );
  });

  const bad: ReadonlyArray<[string, string, RegExp]> = [
    ['not JSON', '<html>', /is not JSON, so not a Lifeboat metadata\.json/],
    [
      'a foreign JSON file',
      '{"Version":"2012-10-17"}',
      /not a valid Lifeboat metadata\.json \(format 1\): .*must have required property/,
    ],
    ['a JSON array', '[1,2]', /not a valid Lifeboat metadata\.json/],
    ['a damaged field', JSON.stringify({ ...SAMPLE, size: -1 }), /size must be >= 0/],
    [
      'an unknown engine',
      JSON.stringify({ ...SAMPLE, engine: 'postgres' }),
      /engine must be equal to one of the allowed values \(\["mariadb","mysql","percona-xtradb"\]\)/,
    ],
    [
      'a newer format',
      JSON.stringify({ ...SAMPLE, formatVersion: 2 }),
      /formatVersion 2; this Lifeboat reads 1: upgrade Lifeboat/,
    ],
    ['format 0', JSON.stringify({ ...SAMPLE, formatVersion: 0 }), /formatVersion must be equal to constant/],
  ];
  for (const [what, text, want] of bad) {
    it(`refuses ${what} with a clear message`, () => {
      assert.throws(
        () => parseBackupMetadata(text, `s3://lifeboat/${KEY}`),
        (err: unknown) => err instanceof DownloadFailedError && want.test(err.message),
      );
    });
  }
});
