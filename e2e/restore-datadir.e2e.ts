// restore-datadir on the real stack: a mariabackup of the standalone server (and of a Galera
// member), written to MinIO exactly as the worker writes a backup (uploadArchive, then
// metadata.json), restored by the built CLI into a new data directory, and mariadbd started on it
// by hack/datadir-server.sh: every user table's CHECKSUM TABLE … EXTENDED equals the source's.
// Then the bad inputs: a flipped byte, a non-empty DIR, a DIR already restored, a missing ID.
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { METADATA_FORMAT_VERSION } from '../crds/api-constants.js';
import type { BackupMetadataType } from '../crds/backup-metadata-types.js';
import { archiveKey, metadataKey, newBackupId, type BackupLocation, type Compression } from '../crds/object-keys.js';
import { createLogger } from '../lib/logger.js';
import { uploadArchive } from '../runner/data-path/archive-upload.js';
import { writeBackupMetadata } from '../runner/data-path/backup-metadata.js';
import { staticInstances, type DbInstance } from '../runner/engine/instance-list.js';
import { findTool, toolArgs, toolEnv } from '../runner/engine/tool-commands.js';
import { writeToolOptions } from '../runner/engine/tool-options.js';
import { spawnTool } from '../runner/engine/tool-process.js';
import {
  credentials,
  emptyRestoreTarget,
  galeraNodes,
  restoreTarget,
  standalone,
  withConnection,
} from './support/databases.js';
import { createNamespace, type KubeObject } from './support/kube.js';
import { runLifeboat, type CliRun } from './support/lifeboat-cli.js';
import { TcpProxy } from './support/tcp-proxy.js';
import {
  backupOf,
  createStackSecrets,
  minioClient,
  minioStore,
  removePrefix,
  stackCluster,
  waitForPhase,
  waitForRecord,
} from './support/stack-objects.js';
import { REPO_ROOT, requireVar } from './support/stack.js';

const SYSTEM_SCHEMAS = "('mysql','information_schema','performance_schema','sys')";

/** The built CLI as a user runs it, the MinIO keys in its environment (never in argv). */
function lifeboat(args: readonly string[], whileRunning?: (child: ChildProcess) => void): Promise<CliRun> {
  const env = {
    ...process.env,
    LIFEBOAT_LOG_LEVEL: 'warn',
    LIFEBOAT_S3_ACCESS_KEY_ID: requireVar('S3_ACCESS_KEY', 'MinIO'),
    LIFEBOAT_S3_SECRET_ACCESS_KEY: requireVar('S3_SECRET_KEY', 'MinIO'),
    KUBECONFIG: requireVar('KUBECONFIG', 'kube-apiserver'),
  };
  return runLifeboat(args, whileRunning ? { env, whileRunning } : { env });
}

function datadirServer(args: readonly string[]): void {
  const r = spawnSync('bash', [join(REPO_ROOT, 'hack', 'datadir-server.sh'), ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`hack/datadir-server.sh ${args.join(' ')} failed: ${r.stderr}`);
}

/** CHECKSUM TABLE … EXTENDED of every user base table, keyed by `schema`.`table`. */
async function checksums(instance: DbInstance): Promise<Record<string, string>> {
  return withConnection(instance, async (c) => {
    const tables = await c.query(
      `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN ${SYSTEM_SCHEMAS} ORDER BY 1, 2`,
    );
    const sums: Record<string, string> = {};
    for (const row of tables) {
      const name = `\`${String(row['s'])}\`.\`${String(row['t'])}\``;
      const [sum] = await c.query(`CHECKSUM TABLE ${name} EXTENDED`);
      sums[name] = String(sum?.['Checksum']);
    }
    return sums;
  });
}

/** A database of the test's own on the source: InnoDB with 20,000 rows, Aria, a view. */
async function createSourceData(instance: DbInstance, db: string): Promise<void> {
  await withConnection(instance, async (c) => {
    await c.query(`CREATE DATABASE \`${db}\``);
    await c.query(
      `CREATE TABLE \`${db}\`.orders (id INT PRIMARY KEY AUTO_INCREMENT, note VARCHAR(64), amount DECIMAL(10,2)) ENGINE=InnoDB`,
    );
    await c.query(
      `INSERT INTO \`${db}\`.orders (note, amount) SELECT CONCAT('order-', seq), seq / 7 FROM \`${db}\`.seq_1_to_20000`,
    );
    await c.query(`CREATE TABLE \`${db}\`.audit (id INT PRIMARY KEY, what TEXT) ENGINE=Aria`);
    await c.query(`INSERT INTO \`${db}\`.audit SELECT seq, REPEAT('x', seq % 100) FROM \`${db}\`.seq_1_to_500`);
    await c.query(`CREATE VIEW \`${db}\`.big_orders AS SELECT * FROM \`${db}\`.orders WHERE amount > 100`);
  });
}

interface MadeBackup {
  readonly metadata: BackupMetadataType;
  readonly loc: BackupLocation;
}

/**
 * A physical backup as the worker makes one: the command line of tool-commands, stdout through
 * uploadArchive (hashed as stored), then metadata.json.
 */
async function physicalBackup(
  instance: DbInstance,
  s3: { client: S3Client; bucket: string; path: string; cluster: string },
  opts: { compression: Compression; galera: boolean },
): Promise<MadeBackup> {
  const started = new Date();
  const loc: BackupLocation = {
    path: s3.path,
    cluster: s3.cluster,
    backupName: 'physical',
    backupId: newBackupId(started),
  };
  const [row] = await withConnection(instance, (c) => c.query('SELECT @@datadir AS d, VERSION() AS v'));
  const scratch = await mkdtemp(join(tmpdir(), 'lifeboat-e2e-mariabackup-'));
  const { user, password } = credentials();
  const options = await writeToolOptions(credentials());
  const args = toolArgs({
    method: 'mariabackup',
    engine: 'mariadb',
    instance,
    user,
    options,
    datadir: String(row?.['d']),
    targetDir: scratch,
    galera: opts.galera,
  });
  const logger = createLogger('e2e');
  logger.level = 'warn';
  try {
    const tool = spawnTool({
      name: 'mariabackup',
      binary: findTool('mariabackup', 'mariadb'),
      args,
      env: toolEnv(),
      secrets: [password],
      logger,
    });
    const key = archiveKey(loc, 'mariabackup', opts.compression);
    const stored = await uploadArchive({
      client: s3.client,
      bucket: s3.bucket,
      key,
      source: tool.stdout,
      compression: opts.compression,
      sourceDone: tool.exit.then(() => undefined),
    });
    const metadata: BackupMetadataType = {
      formatVersion: METADATA_FORMAT_VERSION,
      cluster: s3.cluster,
      namespace: 'e2e',
      backupName: loc.backupName,
      backupId: loc.backupId,
      engine: 'mariadb',
      serverVersion: String(row?.['v']),
      method: 'mariabackup',
      sourceInstance: instance.name,
      objectKey: key,
      size: stored.size,
      sha256: stored.sha256,
      compression: opts.compression,
      startedAt: started.toISOString(),
      stoppedAt: new Date().toISOString(),
    };
    await writeBackupMetadata({ client: s3.client, bucket: s3.bucket, key: metadataKey(loc), metadata });
    return { metadata, loc };
  } finally {
    await options.remove();
    await rm(scratch, { recursive: true, force: true });
  }
}

/** A copy of the backup under another ID with one byte flipped, beside the original metadata's sha256. */
async function corruptedCopy(made: MadeBackup, s3: { client: S3Client; bucket: string }): Promise<string> {
  const got = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: made.metadata.objectKey }));
  const bytes = Buffer.from(await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
  const at = Math.floor(bytes.length / 2);
  bytes[at] = (bytes[at] ?? 0) ^ 0x01;
  const backupId = newBackupId(new Date(Date.parse(made.metadata.startedAt) + 3_600_000));
  const loc = { ...made.loc, backupName: 'flipped', backupId };
  const key = archiveKey(loc, 'mariabackup', made.metadata.compression);
  await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: bytes }));
  const metadata = { ...made.metadata, backupName: 'flipped', backupId, objectKey: key };
  await writeBackupMetadata({ client: s3.client, bucket: s3.bucket, key: metadataKey(loc), metadata });
  return backupId;
}

function storeArgs(path: string, cluster: string, endpoint = requireVar('S3_ENDPOINT', 'MinIO')): string[] {
  return [
    '--bucket',
    requireVar('S3_BUCKET', 'MinIO'),
    '--endpoint',
    endpoint,
    '--region',
    requireVar('S3_REGION', 'MinIO'),
    '--force-path-style',
    ...(endpoint.startsWith('http://') ? ['--insecure'] : []),
    '--path',
    path,
    '--cluster',
    cluster,
  ];
}

/**
 * A Cluster on 127.0.0.1:PORT whose bootstrap restores from the backups of `source` under `path`:
 * a stack Cluster on another port, its object store lent to an externalClusters entry.
 */
function recoveringCluster(name: string, port: number, path: string, source: string): KubeObject {
  const cluster = stackCluster(name, 'standalone', minioStore(path));
  const spec = cluster.spec as Record<string, unknown>;
  const { objectStore } = spec['backup'] as { objectStore: Record<string, unknown> };
  spec['instances'] = { static: [{ name: `${name}-0`, host: '127.0.0.1', port }] };
  spec['externalClusters'] = [{ name: source, objectStore }];
  spec['bootstrap'] = { recovery: { source } };
  return cluster;
}

/** The restored server as the tests reach it: the source's `lifeboat` account, over TCP. */
function restoredInstance(port: number): DbInstance {
  const [db] = staticInstances([{ name: 'restored', host: '127.0.0.1', port }]);
  if (!db) throw new Error('no instance');
  return db;
}

/** A free port: one the kernel hands out and takes back (only our own later bind may race it). */
function freePort(): number {
  const r = spawnSync(process.execPath, [
    '-e',
    "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})",
  ]);
  return Number(r.stdout.toString().trim());
}

function describeRoundTrip(what: string, source: () => DbInstance, galera: boolean, compression: Compression): void {
  describe(`restore-datadir: ${what}`, function () {
    this.timeout(600_000);
    const db = `restore_datadir_${randomBytes(3).toString('hex')}`;
    const path = `e2e/restore-datadir-${randomBytes(4).toString('hex')}`;
    const cluster = 'shop';
    let client: S3Client;
    let bucket: string;
    let root: string;
    let made: MadeBackup;
    let sourceSums: Record<string, string>;
    const servers: string[] = [];

    before(async () => {
      client = minioClient();
      bucket = requireVar('S3_BUCKET', 'MinIO');
      root = await mkdtemp(join(tmpdir(), 'lifeboat-e2e-datadir-'));
      await createSourceData(source(), db);
      sourceSums = await checksums(source());
      made = await physicalBackup(source(), { client, bucket, path, cluster }, { compression, galera });
      assert.deepEqual(await checksums(source()), sourceSums, 'the source did not change during the backup');
    });

    after(async () => {
      for (const dir of servers) datadirServer(['down', dir]);
      await withConnection(source(), (c) => c.query(`DROP DATABASE IF EXISTS \`${db}\``));
      await removePrefix(client, bucket, `${path}/`);
      client.destroy();
      await rm(root, { recursive: true, force: true });
    });

    it('restores into a new DIR; mariadbd on it has every user table with the source’s checksum', async () => {
      const to = join(root, 'data');
      const t = Date.now();
      const r = await lifeboat(['restore-datadir', '--to', to, ...storeArgs(path, cluster)]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(
        r.stdout,
        new RegExp(`restored backup ${made.metadata.backupId} .* sha256 ${made.metadata.sha256} verified`),
      );
      console.log(`      restore-datadir of ${made.metadata.size} bytes (${compression}) took ${Date.now() - t} ms`);
      assert.deepEqual(
        (await readdir(root)).filter((n) => n.startsWith('.lifeboat-')),
        [],
        'no staging left',
      );
      if (galera) assert.ok(existsSync(join(to, 'xtrabackup_galera_info')), 'the Galera state is kept for a bootstrap');
      const port = freePort();
      datadirServer(['up', to, String(port)]);
      servers.push(to);
      const restored = await checksums(restoredInstance(port));
      assert.ok(Object.keys(restored).length >= 2, 'the test tables are there');
      assert.deepEqual(restored, sourceSums);
    });

    it('--from-cluster: the backup a Cluster’s bootstrap.recovery names, read through the API server; the bootstrap completes once mariadbd runs on it', async () => {
      const ns = await createNamespace('datadir-from-cluster');
      try {
        await createStackSecrets(ns);
        const port = freePort();
        await ns.create('clusters', recoveringCluster('rebuilt', port, path, cluster));
        const to = join(root, 'from-cluster');
        const r = await lifeboat(['restore-datadir', '--to', to, '--from-cluster', `${ns.name}/rebuilt`]);
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`restored backup ${made.metadata.backupId} `));
        // The runner's bootstrap waits for the database, which starts only now, as after an init container.
        datadirServer(['up', to, String(port)]);
        servers.push(to);
        const done = await waitForRecord(ns, 'clusters', 'rebuilt', ['completed', 'failed'], 120_000);
        const record = (done.status?.['bootstrap'] ?? {}) as Record<string, unknown>;
        assert.equal(record['phase'], 'completed', JSON.stringify(record));
        assert.equal(record['backupId'], made.metadata.backupId);
        const ready = (record['conditions'] as Record<string, unknown>[]).find((c) => c['type'] === 'Ready');
        assert.match(String(ready?.['message']), /physical backup .*restored by lifeboat restore-datadir/);
        assert.deepEqual(await checksums(restoredInstance(port)), sourceSums);
      } finally {
        await ns.cleanup();
      }
    });

    it('a DIR that already holds a data directory: exit 0, nothing restored', async () => {
      const to = join(root, 'data');
      const r = await lifeboat(['restore-datadir', '--to', to, ...storeArgs(path, cluster)]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /already holds a data directory.*nothing restored/);
    });

    it('a flipped byte: exit 1, ChecksumMismatch, DIR not created, no staging left', async () => {
      const backupId = await corruptedCopy(made, { client, bucket });
      const to = join(root, 'flipped');
      const r = await lifeboat(['restore-datadir', '--to', to, '--backup-id', backupId, ...storeArgs(path, cluster)]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /\(ChecksumMismatch\): .*nothing was written to/);
      assert.equal(existsSync(to), false);
      assert.deepEqual(
        (await readdir(root)).filter((n) => n.startsWith('.lifeboat-')),
        [],
      );
    });

    it('a non-empty DIR without --overwrite: exit 1, TargetNotEmpty, DIR untouched', async () => {
      const to = join(root, 'occupied');
      await mkdir(to);
      await writeFile(join(to, 'notes.txt'), 'mine');
      const r = await lifeboat(['restore-datadir', '--to', to, ...storeArgs(path, cluster)]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /\(TargetNotEmpty\)/);
      assert.deepEqual(await readdir(to), ['notes.txt']);
    });

    it('--overwrite --chown mysql: the old contents replaced, all owned by mysql, checksums equal', async () => {
      const to = join(root, 'replaced');
      await mkdir(to);
      await writeFile(join(to, 'old.txt'), 'old');
      // By ID: the flipped copy above is the newest backup in the bucket now.
      const r = await lifeboat([
        'restore-datadir',
        '--to',
        to,
        '--overwrite',
        '--chown',
        'mysql',
        '--backup-id',
        made.metadata.backupId,
        ...storeArgs(path, cluster),
      ]);
      assert.equal(r.status, 0, r.stderr);
      const names = await readdir(to);
      assert.ok(!names.includes('old.txt') && names.includes('ibdata1'), names.join(' '));
      assert.deepEqual(
        names.filter((n) => n.startsWith('.lifeboat-')),
        [],
      );
      const mysqlUid = Number(spawnSync('id', ['-u', 'mysql'], { encoding: 'utf8' }).stdout.trim());
      const owners = spawnSync('find', [to, '-mindepth', '1', '!', '-uid', String(mysqlUid)], { encoding: 'utf8' });
      assert.equal(owners.stdout, '', 'every restored file belongs to mysql');
      const port = freePort();
      datadirServer(['up', to, String(port)]);
      servers.push(to);
      assert.deepEqual(await checksums(restoredInstance(port)), sourceSums);
    });

    it('a download the object store drops mid-way is resumed where it stopped; mariadbd on DIR has every checksum', async () => {
      const minio = new URL(requireVar('S3_ENDPOINT', 'MinIO'));
      const proxy = await TcpProxy.start({
        targetHost: minio.hostname,
        targetPort: Number(minio.port),
        cutReplyAfterBytes: Math.floor(made.metadata.size / 2),
      });
      try {
        const to = join(root, 'resumed');
        const endpoint = `http://127.0.0.1:${proxy.port}`;
        const args = ['--to', to, '--backup-id', made.metadata.backupId, ...storeArgs(path, cluster, endpoint)];
        const r = await lifeboat(['restore-datadir', ...args]);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(proxy.repliesCut, 1);
        assert.match(r.stderr, /reading the archive broke off; resuming it from the byte where it stopped/);
        const port = freePort();
        datadirServer(['up', to, String(port)]);
        servers.push(to);
        assert.deepEqual(await checksums(restoredInstance(port)), sourceSums);
      } finally {
        await proxy.close();
      }
    });

    it('SIGTERM while it extracts or prepares: exit 1, staging deleted, DIR not created', async () => {
      const to = join(root, 'stopped');
      let signalled = false;
      // The staging directory exists from the first byte extracted until the move: stop it then.
      const stopOnStaging = (child: ChildProcess): void => {
        const poll = setInterval(() => {
          void readdir(root).then((names) => {
            if (signalled || !names.some((n) => n.startsWith('.lifeboat-restore-stopped-'))) return;
            signalled = true;
            child.kill('SIGTERM');
          });
        }, 10);
        child.on('close', () => clearInterval(poll));
      };
      const args = ['restore-datadir', '--to', to, '--backup-id', made.metadata.backupId, ...storeArgs(path, cluster)];
      const r = await lifeboat(args, stopOnStaging);
      assert.ok(signalled, 'SIGTERM was sent while the staging directory existed');
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /stopped by SIGTERM.*nothing was written/);
      assert.equal(existsSync(to), false);
      assert.deepEqual(
        (await readdir(root)).filter((n) => n.startsWith('.lifeboat-')),
        [],
      );
    });

    it('a backup ID that is not in the bucket: exit 1, BackupIDNotFound', async () => {
      const to = join(root, 'missing');
      const r = await lifeboat([
        'restore-datadir',
        '--to',
        to,
        '--backup-id',
        '20000101T000000Z',
        ...storeArgs(path, cluster),
      ]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /\(BackupIDNotFound\)/);
      assert.equal(existsSync(to), false);
    });
  });
}

describeRoundTrip('a mariabackup of the standalone server (gzip)', () => standalone(), false, 'gzip');
describeRoundTrip('a mariabackup of a Galera member', () => galeraNode(), true, 'none');

function galeraNode(): DbInstance {
  const [node] = galeraNodes();
  if (!node) throw new Error('Galera: no node in GALERA_PORTS');
  return node;
}

// A Cluster taking both kinds of backup (nightly mariabackup, hourly dumps) is common; each kind of
// restore must take the newest backup it can put in place, and restore-datadir --from-cluster must
// agree with the bootstrap worker, which takes the newest of either kind complete when the Cluster
// was created — also when a backup completes between the two.
describe('restore-datadir and Restores, with backups of both kinds in the bucket', function () {
  this.timeout(600_000);
  const db = `restore_kinds_${randomBytes(3).toString('hex')}`;
  const path = `e2e/restore-kinds-${randomBytes(4).toString('hex')}`;
  let ns: Awaited<ReturnType<typeof createNamespace>>;
  let client: S3Client;
  let bucket: string;
  let root: string;
  let sourceSums: Record<string, string>;
  const ids: Record<'logical1' | 'physical' | 'logical2', string> = { logical1: '', physical: '', logical2: '' };
  const logical2Folder = (): string => `${path}/shop/logical2/${ids.logical2}/`;
  let clonedPort = 0;

  /** A Backup of the standalone by the stack's runner, one second after the last at least (IDs are per second). */
  async function backUp(name: keyof typeof ids, method: string): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await ns.create('backups', backupOf(name, 'shop', { method }));
    const status = (await waitForPhase(ns, name, ['completed', 'failed'], 300_000)).status ?? {};
    assert.equal(status['phase'], 'completed', JSON.stringify(status));
    ids[name] = String(status['backupId']);
  }

  before(async () => {
    client = minioClient();
    bucket = requireVar('S3_BUCKET', 'MinIO');
    root = await mkdtemp(join(tmpdir(), 'lifeboat-e2e-kinds-'));
    await createSourceData(standalone(), db);
    sourceSums = await checksums(standalone());
    ns = await createNamespace('restore-kinds');
    await createStackSecrets(ns);
    await ns.create('clusters', stackCluster('shop', 'standalone', minioStore(path)));
    await backUp('logical1', 'mariadb-dump');
    await backUp('physical', 'mariabackup');
    // Created now, its server not up yet (as while its pod starts): its bootstrap waits for it.
    clonedPort = freePort();
    await ns.create('clusters', recoveringCluster('cloned', clonedPort, path, 'shop'));
    await backUp('logical2', 'mariadb-dump');
    await emptyRestoreTarget();
  });

  const servers: string[] = [];

  /** The Cluster's status.bootstrap once `ready` says so (30 s at most). */
  async function bootstrapRecord(
    name: string,
    ready: (record: Record<string, unknown>) => boolean,
  ): Promise<Record<string, unknown>> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const record = ((await ns.get('clusters', name)).status?.['bootstrap'] ?? {}) as Record<string, unknown>;
      if (ready(record) || Date.now() > deadline) return record;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  after(async () => {
    for (const dir of servers) datadirServer(['down', dir]);
    await ns?.cleanup();
    await emptyRestoreTarget();
    await withConnection(standalone(), (c) => c.query(`DROP DATABASE IF EXISTS \`${db}\``));
    await removePrefix(client, bucket, `${path}/`);
    client.destroy();
    await rm(root, { recursive: true, force: true });
  });

  it('restore-datadir by flags takes the newest physical backup, passing a newer logical one', async () => {
    const to = join(root, 'by-flags');
    const r = await lifeboat(['restore-datadir', '--to', to, '--no-sync', ...storeArgs(path, 'shop')]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^restored backup ${ids.physical} from s3://${bucket}/${path}/shop/physical/`));
    assert.ok(existsSync(join(to, 'ibdata1')));
  });

  it('a dump completed after the Cluster was created: restore-datadir --from-cluster and the bootstrap both take the physical backup newest then', async () => {
    // Chosen and recorded while it waits for its server, so that retention keeps that backup.
    const chosen = await bootstrapRecord('cloned', (r) => r['backupId'] !== undefined);
    assert.deepEqual([chosen['phase'], chosen['backupId']], ['running', ids.physical], JSON.stringify(chosen));
    const to = join(root, 'cloned');
    const r = await lifeboat(['restore-datadir', '--to', to, '--no-sync', '--from-cluster', `${ns.name}/cloned`]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^restored backup ${ids.physical} `));
    datadirServer(['up', to, String(clonedPort)]);
    servers.push(to);
    const done = await waitForRecord(ns, 'clusters', 'cloned', ['completed', 'failed'], 120_000);
    const record = (done.status?.['bootstrap'] ?? {}) as Record<string, unknown>;
    assert.equal(record['phase'], 'completed', JSON.stringify(record));
    assert.equal(record['backupId'], ids.physical);
    const ready = (record['conditions'] as Record<string, unknown>[]).find((c) => c['type'] === 'Ready');
    assert.match(String(ready?.['message']), new RegExp(`^physical backup ${ids.physical} `));
    const ours = (sums: Record<string, string>): [string, string][] =>
      Object.entries(sums).filter(([t]) => t.startsWith(`\`${db}\``));
    assert.deepEqual(ours(await checksums(restoredInstance(clonedPort))), ours(sourceSums));
  });

  it('--from-cluster with a logical newest backup: exit 0 and DIR left empty; the bootstrap applies that backup', async () => {
    await ns.create('clusters', recoveringCluster('rebuilt', restoreTarget().port, path, 'shop'));
    const to = join(root, 'from-cluster');
    const r = await lifeboat(['restore-datadir', '--to', to, '--from-cluster', `${ns.name}/rebuilt`]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(
      r.stdout,
      `backup ${ids.logical2} from s3://${bucket}/${logical2Folder()}backup.sql is a logical backup: nothing restored into ${to}; ` +
        `the runner's bootstrap of Cluster ${ns.name}/rebuilt applies it once the server runs on an empty data directory\n`,
    );
    assert.equal(existsSync(to), false, 'DIR is left for the server to create');
    const done = await waitForRecord(ns, 'clusters', 'rebuilt', ['completed', 'failed'], 300_000);
    const record = (done.status?.['bootstrap'] ?? {}) as Record<string, unknown>;
    assert.equal(record['phase'], 'completed', JSON.stringify(record));
    assert.equal(record['backupId'], ids.logical2);
    const restored = await checksums(restoreTarget());
    for (const [table, sum] of Object.entries(sourceSums).filter(([t]) => t.startsWith(`\`${db}\``))) {
      assert.equal(restored[table], sum, table);
    }
  });

  it('a Restore from source takes the newest logical backup, passing a newer physical one', async () => {
    // The newest backup is now the physical one.
    await removePrefix(client, bucket, logical2Folder());
    await ns.create('restores', {
      apiVersion: 'lifeboat.dev/v1alpha1',
      kind: 'Restore',
      metadata: { name: 'again' },
      spec: { cluster: { name: 'rebuilt' }, source: 'shop', overwrite: true },
    });
    const done = await waitForRecord(ns, 'restores', 'again', ['completed', 'failed'], 300_000);
    assert.equal(done.status?.['phase'], 'completed', JSON.stringify(done.status));
    assert.equal(done.status?.['backupId'], ids.logical1);
  });
});
