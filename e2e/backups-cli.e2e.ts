// `lifeboat backups list|verify` against the stack's real MinIO, as a user in a recovery runs it:
// backups written by the real upload path, found and verified with nothing but the bucket and a
// Cluster manifest; a damaged archive and wrong keys each get one line and exit 1. Every test
// writes under its own random prefix and removes it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { BackupMetadataType } from '../crds/backup-metadata-types.js';
import { archiveKey, metadataKey, type BackupLocation } from '../crds/object-keys.js';
import { uploadArchive } from '../runner/data-path/archive-upload.js';
import { writeBackupMetadata } from '../runner/data-path/backup-metadata.js';
import type { ListedBackup } from '../runner/restores/backup-listing.js';
import { minioClient, minioStore, removePrefix } from './support/stack-objects.js';
import { runLifeboat, type CliRun } from './support/lifeboat-cli.js';
import { TcpProxy } from './support/tcp-proxy.js';
import { requireVar } from './support/stack.js';

function keysEnv(secret = requireVar('S3_SECRET_KEY', 'MinIO')): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'],
    LIFEBOAT_S3_ACCESS_KEY_ID: requireVar('S3_ACCESS_KEY', 'MinIO'),
    LIFEBOAT_S3_SECRET_ACCESS_KEY: secret,
  };
}

function lifeboat(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<CliRun> {
  return runLifeboat(args, { env: opts.env ?? keysEnv(), input: opts.input ?? '' });
}

/** Writes a gzip logical backup the way the worker does: archive through uploadArchive, then metadata.json. */
async function writeBackup(client: S3Client, loc: BackupLocation, dump: Buffer): Promise<BackupMetadataType> {
  const bucket = requireVar('S3_BUCKET', 'MinIO');
  const key = archiveKey(loc, 'mariadb-dump', 'gzip');
  const stored = await uploadArchive({ client, bucket, key, source: Readable.from([dump]), compression: 'gzip' });
  const metadata: BackupMetadataType = {
    formatVersion: 1,
    cluster: loc.cluster,
    namespace: 'e2e',
    backupName: loc.backupName,
    backupId: loc.backupId,
    engine: 'mariadb',
    serverVersion: '10.11.9-MariaDB',
    method: 'mariadb-dump',
    sourceInstance: `${loc.cluster}-0`,
    objectKey: key,
    size: stored.size,
    sha256: stored.sha256,
    compression: 'gzip',
    startedAt: '2026-12-01T00:00:00Z',
    stoppedAt: '2026-12-01T00:00:05Z',
    beginGTID: '0-1-10',
    endGTID: '0-1-20',
  };
  await writeBackupMetadata({ client, bucket, key: metadataKey(loc), metadata });
  return metadata;
}

function storeFlags(path: string, cluster: string, endpoint?: string): string[] {
  const store = minioStore(path);
  return [
    '--bucket',
    store.bucket,
    '--endpoint',
    endpoint ?? store.endpoint ?? '',
    '--region',
    store.region ?? '',
    '--path',
    path,
    '--cluster',
    cluster,
    '--force-path-style',
    ...(store.insecure ? ['--insecure'] : []),
  ];
}

describe('lifeboat backups (real MinIO)', () => {
  let client: S3Client;
  let path: string;
  let older: BackupMetadataType;
  let newer: BackupMetadataType;

  beforeEach(async () => {
    client = minioClient();
    path = `e2e/backups-cli-${randomBytes(4).toString('hex')}`;
    const dump = Buffer.from(`-- dump\n${'INSERT INTO t VALUES (1);\n'.repeat(20_000)}`);
    older = await writeBackup(
      client,
      { path, cluster: 'shop', backupName: 'shop-1', backupId: '20261201T000000Z' },
      dump,
    );
    newer = await writeBackup(
      client,
      { path, cluster: 'shop', backupName: 'shop-2', backupId: '20261202T000000Z' },
      dump,
    );
  });
  afterEach(async () => {
    await removePrefix(client, requireVar('S3_BUCKET', 'MinIO'), `${path}/`);
  });

  it('list prints the backups newest first, complete', async () => {
    const r = await lifeboat(['backups', 'list', ...storeFlags(path, 'shop')]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0] ?? '', /^BACKUP ID +BACKUP +METHOD +SIZE +GTID +COMPLETE$/);
    assert.match(lines[1] ?? '', /^20261202T000000Z +shop-2 +mariadb-dump +\d+\.\d KiB +0-1-10→0-1-20 +yes$/);
    assert.match(lines[2] ?? '', /^20261201T000000Z +shop-1 /);
  });

  it('list --output json from a Cluster manifest on stdin, with --source', async () => {
    const store = minioStore(path);
    const manifest = {
      apiVersion: 'lifeboat.dev/v1alpha1',
      kind: 'Cluster',
      metadata: { name: 'restored' },
      spec: {
        engine: 'mariadb',
        topology: 'standalone',
        instances: { static: [{ name: 'r-0', host: '127.0.0.1', port: 3306 }] },
        credentials: { secretRef: { name: 'db' } },
        externalClusters: [
          {
            name: 'shop',
            objectStore: {
              ...store,
              credentials: { accessKeyId: { name: 's3', key: 'id' }, secretAccessKey: { name: 's3', key: 'secret' } },
            },
          },
        ],
      },
    };
    const r = await lifeboat(['backups', 'list', '--cluster-manifest', '-', '--source', 'shop', '-o', 'json'], {
      input: JSON.stringify(manifest),
    });
    assert.equal(r.status, 0, r.stderr);
    const listed = JSON.parse(r.stdout) as ListedBackup[];
    assert.deepEqual(
      listed.map((b) => [b.backupId, b.problems, b.metadata?.sha256, b.archiveSize]),
      [
        [newer.backupId, [], newer.sha256, newer.size],
        [older.backupId, [], older.sha256, older.size],
      ],
    );
  });

  it('verify matches an intact archive; a flipped byte exits 1 with ChecksumMismatch', async () => {
    const ok = await lifeboat(['backups', 'verify', older.backupId, ...storeFlags(path, 'shop')]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(
      ok.stdout,
      `s3://${requireVar('S3_BUCKET', 'MinIO')}/${older.objectKey}: ${older.size} bytes, sha256 ${older.sha256} matches metadata.json\n`,
    );
    const damaged = gzipSync(Buffer.from('something else entirely'));
    const flipped = Buffer.alloc(older.size, damaged);
    await client.send(
      new PutObjectCommand({ Bucket: requireVar('S3_BUCKET', 'MinIO'), Key: older.objectKey, Body: flipped }),
    );
    const bad = await lifeboat(['backups', 'verify', older.backupId, ...storeFlags(path, 'shop')]);
    assert.equal(bad.status, 1, bad.stdout);
    assert.match(
      bad.stderr,
      /^lifeboat: s3:\/\/.*backup\.sql\.gz has SHA-256 [0-9a-f]{64} but metadata\.json records [0-9a-f]{64}; .*nothing was applied/,
    );
    assert.equal(bad.stderr.trim().split('\n').length, 1, 'one line');
  });

  it('verify goes on from where a download the store dropped stopped, and still matches', async () => {
    // Random bytes, so that gzip leaves megabytes to cut in the middle of.
    const dump = Buffer.from(`-- dump\n${randomBytes(3 * 1024 * 1024).toString('hex')}\n`);
    const loc = { path, cluster: 'shop', backupName: 'shop-3', backupId: '20261203T000000Z' };
    const big = await writeBackup(client, loc, dump);
    const minio = new URL(requireVar('S3_ENDPOINT', 'MinIO'));
    const proxy = await TcpProxy.start({
      targetHost: minio.hostname,
      targetPort: Number(minio.port),
      cutReplyAfterBytes: Math.floor(big.size / 2),
    });
    try {
      const flags = storeFlags(path, 'shop', `http://127.0.0.1:${proxy.port}`);
      const r = await lifeboat(['backups', 'verify', big.backupId, ...flags]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(proxy.repliesCut, 1, 'the download was cut once');
      assert.equal(
        r.stdout,
        `s3://${requireVar('S3_BUCKET', 'MinIO')}/${big.objectKey}: ${big.size} bytes, sha256 ${big.sha256} matches metadata.json\n`,
      );
      assert.match(r.stderr, /reading the archive broke off; resuming it from the byte where it stopped/);
    } finally {
      await proxy.close();
    }
  });

  it('wrong keys: exit 1 with what to fix, the secret nowhere', async () => {
    const secret = `wrong-${randomBytes(8).toString('hex')}`;
    const r = await lifeboat(['backups', 'list', ...storeFlags(path, 'shop')], { env: keysEnv(secret) });
    assert.equal(r.status, 1, r.stdout);
    assert.match(
      r.stderr,
      /^lifeboat: listing s3:\/\/.* failed: .*secret access key does not belong to the access key ID/,
    );
    assert.doesNotMatch(r.stderr + r.stdout, new RegExp(secret));
  });

  it('an empty prefix: exit 0 saying there are no backups', async () => {
    const r = await lifeboat(['backups', 'list', ...storeFlags(path, 'nobody')]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `no backups under s3://${requireVar('S3_BUCKET', 'MinIO')}/${path}/nobody/\n`);
  });
});
