// `lifeboat backups`: the table a user reads, which backup verify re-hashes (with a fake S3 for
// the listing), and the binary's exit codes and one-line messages for mistakes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { backupToVerify, formatBackupTable, humanSize } from '../../cmd/backups-command.js';
import { PACKAGE_ROOT } from '../../policies/cli/package-paths.js';
import { verifyArchive } from '../../runner/data-path/archive-download.js';
import { listBackups, type ListedBackup } from '../../runner/restores/backup-listing.js';
import { BackupIdNotFoundError, ChecksumMismatchError } from '../../runner/work-failures.js';
import { FakeS3 } from '../runner/data-path/fake-s3.js';
import { BUCKET, putBackup, sampleMetadata } from '../runner/restores/backup-fixtures.js';

const BIN = join(PACKAGE_ROOT, 'dist', 'cmd', 'lifeboat.js');
const WHERE = 's3://lifeboat/p/shop/';

function lifeboat(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    cwd: PACKAGE_ROOT,
    env: { PATH: process.env['PATH'], ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('backups command', () => {
  it('sizes in binary units', () => {
    assert.deepEqual([undefined, 0, 1023, 1536, 5 * 1024 ** 2, 1.25 * 1024 ** 3, 3 * 1024 ** 4].map(humanSize), [
      '-',
      '0 B',
      '1023 B',
      '1.5 KiB',
      '5.0 MiB',
      '1.3 GiB',
      '3.0 TiB',
    ]);
  });

  it('a table with one line per backup, GTIDs shortened, and why a backup is incomplete', () => {
    const ok = sampleMetadata({ backupName: 'shop-2', backupId: '20261201T000000Z' }, Buffer.alloc(3 * 1024 ** 2));
    const long = {
      ...ok,
      backupId: '20261130T181500Z',
      backupName: 'shop-1',
      endGTID: `0-1-142,${'1-2-99999,'.repeat(5)}`,
    };
    const listed: ListedBackup[] = [
      {
        metadataKey: 'k2',
        backupName: 'shop-2',
        backupId: ok.backupId,
        metadata: ok,
        archiveSize: ok.size,
        problems: [],
      },
      {
        metadataKey: 'k1',
        backupName: 'shop-1',
        backupId: long.backupId,
        metadata: long,
        problems: ['archive x is missing', 'two'],
      },
      {
        metadataKey: 'k0',
        backupName: 'shop-0',
        backupId: '20261129T000000Z',
        problems: ['metadata.json is not valid: not JSON'],
      },
    ];
    assert.equal(
      formatBackupTable(listed),
      [
        'BACKUP ID         BACKUP  METHOD        SIZE     GTID                              COMPLETE',
        '20261201T000000Z  shop-2  mariadb-dump  3.0 MiB  0-1-100→0-1-142                   yes',
        '20261130T181500Z  shop-1  mariadb-dump  3.0 MiB  0-1-100→0-1-142,1-2-99999,1-2-9…  no: archive x is missing (and 1 more)',
        '20261129T000000Z  shop-0  ?             -        -                                 no: metadata.json is not valid: not JSON',
        '',
      ].join('\n'),
    );
  });

  it('verify re-hashes a backup whose archive was damaged (with a fake S3), saying so', async () => {
    const fake = new FakeS3();
    const archive = Buffer.from('-- dump\n');
    const metadata = sampleMetadata({}, archive);
    putBackup(fake, metadata, Buffer.from('-- dumq\n'));
    const client = fake.client();
    const listed = await listBackups({ client, bucket: BUCKET, path: 'p', cluster: 'shop' });
    const chosen = await backupToVerify(listed, { backupID: metadata.backupId, where: WHERE });
    await assert.rejects(verifyArchive({ client, bucket: BUCKET, metadata: chosen.metadata }), ChecksumMismatchError);
  });

  it('verify reads a truncated archive too, so the size verdict is shown', async () => {
    const fake = new FakeS3();
    const metadata = sampleMetadata({}, Buffer.from('-- dump\n'));
    putBackup(fake, metadata, Buffer.from('-- d'));
    const client = fake.client();
    const listed = await listBackups({ client, bucket: BUCKET, path: 'p', cluster: 'shop' });
    const chosen = await backupToVerify(listed, { backupID: metadata.backupId, where: WHERE });
    await assert.rejects(
      verifyArchive({ client, bucket: BUCKET, metadata: chosen.metadata }),
      /is 4 bytes but metadata\.json records 8/,
    );
  });

  it('verify does not read an archive outside the backup folder, nor an ID that is not there', async () => {
    const fake = new FakeS3();
    const metadata = { ...sampleMetadata({}, Buffer.from('x')), objectKey: 'p/other/o/20261130T181500Z/backup.sql.gz' };
    putBackup(fake, metadata, Buffer.from('x'));
    const listed = await listBackups({ client: fake.client(), bucket: BUCKET, path: 'p', cluster: 'shop' });
    await assert.rejects(backupToVerify(listed, { backupID: metadata.backupId, where: WHERE }), /outside its folder/);
    await assert.rejects(backupToVerify(listed, { backupID: '20200101T000000Z', where: WHERE }), BackupIdNotFoundError);
  });

  const usage: Array<{ args: string[]; stderr: RegExp }> = [
    { args: ['backups', 'list'], stderr: /^lifeboat: name the object store: --bucket and --cluster/ },
    {
      args: ['backups', 'list', '--output', 'xml', '--bucket', 'b', '--cluster', 'c'],
      stderr: /argument 'xml' is invalid/,
    },
    { args: ['backups', 'verify', '--bucket', 'b', '--cluster', 'c'], stderr: /missing required argument 'backup-id'/ },
    {
      args: ['backups', 'list', '--cluster-manifest', '/nonexistent.yaml'],
      stderr: /^lifeboat: cannot read --cluster-manifest \/nonexistent\.yaml: ENOENT/,
    },
  ];
  for (const u of usage) {
    it(`${u.args.join(' ')}: exit 2, one line, no stack trace`, () => {
      const r = lifeboat(u.args);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, u.stderr);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    });
  }

  it('an unreachable endpoint: exit 1 with what to fix, no secret, no stack trace', () => {
    const secret = 'very-secret-value';
    const r = lifeboat(
      [
        'backups',
        'list',
        '--bucket',
        'b',
        '--cluster',
        'c',
        '--endpoint',
        'http://127.0.0.1:1',
        '--insecure',
        '--force-path-style',
      ],
      {
        LIFEBOAT_S3_ACCESS_KEY_ID: 'AKIDTEST',
        LIFEBOAT_S3_SECRET_ACCESS_KEY: secret,
      },
    );
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^lifeboat: listing s3:\/\/b\/c\/ failed: connection refused at http:\/\/127\.0\.0\.1:1/);
    assert.doesNotMatch(r.stderr + r.stdout, new RegExp(secret));
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });
});
