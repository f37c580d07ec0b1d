// A backup never replaces another and is never completed from incomplete output, on the real stack
// (kube-apiserver, MariaDB, MinIO) with real `lifeboat worker backup` processes of this tree. The
// stack's runner is stopped for the describe: each test claims its Backups itself (status running,
// with the startedAt it chooses) and starts the worker, as the runner would.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { createNamespace, type TestNamespace } from './support/kube.js';
import {
  backupOf,
  createStackSecrets,
  listKeys,
  minioStore,
  namespaceAndPathPerTest,
  objectSha256,
  openUploads,
  stackCluster,
} from './support/stack-objects.js';
import { REPO_ROOT, requireVar, withoutStackRunner } from './support/stack.js';

type Status = Record<string, unknown>;
const BIN = join(REPO_ROOT, 'dist', 'cmd', 'lifeboat.js');
const BUCKET = (): string => requireVar('S3_BUCKET', 'MinIO');

/** Claims the Backup as a runner does, with `startedAt` (its backup ID), and runs its worker to the end. */
async function runWorker(ns: TestNamespace, name: string, startedAt: string, path?: string): Promise<Status> {
  await ns.patchStatus('backups', name, { phase: 'running', startedAt });
  const env = {
    ...process.env,
    KUBECONFIG: requireVar('KUBECONFIG', 'kube-apiserver'),
    ...(path ? { PATH: path } : {}),
  };
  const child = spawn(process.execPath, [BIN, 'worker', 'backup', `${ns.name}/${name}`], { env, stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  return (await ns.get('backups', name)).status ?? {};
}

/** The Cluster `db` of the standalone server backing up under `path`, and its Backup `b1`. */
async function clusterAndBackup(ns: TestNamespace, path: string): Promise<void> {
  await createStackSecrets(ns);
  await ns.create('clusters', stackCluster('db', 'standalone', minioStore(path)));
  await ns.create('backups', backupOf('b1', 'db', { method: 'mariadb-dump' }));
}

function location(status: Status): { archiveKey: string; metadataKey: string } {
  return status['location'] as { archiveKey: string; metadataKey: string };
}

describe('backup integrity (real kube-apiserver, MariaDB, MinIO; workers of this tree)', function () {
  this.timeout(240_000);
  withoutStackRunner();
  let ns: TestNamespace;
  let path = '';
  let s3: S3Client;
  namespaceAndPathPerTest((created, its, client) => ((ns = created), (path = its), (s3 = client)));

  // Admission refuses a second writer of one key prefix while the first Cluster exists (LB801); once
  // it is deleted (a Cluster moved to another namespace), only the data path stands between the
  // new Cluster's backups and the old one's.
  it('a Cluster of the same name, bucket and path re-created in another namespace after the first was deleted: its Backup fails UploadFailed naming the key; the first backup stays byte-identical', async function () {
    const other = await createNamespace('integrity-other');
    try {
      const startedAt = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString();
      await clusterAndBackup(ns, path);
      const first = await runWorker(ns, 'b1', startedAt);
      assert.equal(first['phase'], 'completed', JSON.stringify(first));
      const { archiveKey, metadataKey } = location(first);
      const before = [await objectSha256(s3, BUCKET(), archiveKey), await objectSha256(s3, BUCKET(), metadataKey)];

      await ns.delete('clusters', 'db');
      await clusterAndBackup(other, path);
      const second = await runWorker(other, 'b1', startedAt);
      assert.equal(second['phase'], 'failed', JSON.stringify(second));
      assert.equal(second['reason'], 'UploadFailed', String(second['error']));
      assert.equal(location(second).archiveKey, archiveKey, 'both wrote the same keys');
      assert.match(
        String(second['error']),
        new RegExp(
          `s3://${BUCKET()}/${archiveKey} already exists at \\S+, and Lifeboat never overwrites a backup: .*give each Cluster its own spec\\.backup\\.objectStore\\.path`,
        ),
      );
      const after = [await objectSha256(s3, BUCKET(), archiveKey), await objectSha256(s3, BUCKET(), metadataKey)];
      assert.deepEqual(after, before, "the first backup's archive and metadata.json are unchanged");
      assert.deepEqual(await openUploads(s3, BUCKET(), archiveKey), []);
    } finally {
      await other.cleanup();
    }
  });

  it('a dump cut short (mariadb-dump whose output ends early, exit 0): DumpFailed saying so, no archive in MinIO', async function () {
    const bin = mkdtempSync(join(tmpdir(), 'lifeboat-cut-dump-'));
    try {
      // The real mariadb-dump, its output cut after 4 KiB, exiting 0 as a broken proxy or pipe might.
      writeFileSync(join(bin, 'mariadb-dump'), '#!/bin/sh\n/usr/bin/mariadb-dump "$@" | head -c 4096\nexit 0\n');
      chmodSync(join(bin, 'mariadb-dump'), 0o755);
      await clusterAndBackup(ns, path);
      const status = await runWorker(ns, 'b1', new Date().toISOString(), `${bin}:${process.env['PATH'] ?? ''}`);
      assert.equal(status['phase'], 'failed', JSON.stringify(status));
      assert.equal(status['reason'], 'DumpFailed', String(status['error']));
      assert.match(
        String(status['error']),
        /mariadb-dump exited 0 but its output ends without the closing '-- Dump completed' line: the dump is incomplete, so the upload was aborted/,
      );
      const keys = await listKeys(s3, BUCKET(), `${path}/`);
      assert.deepEqual(
        keys.filter((k) => /backup\.sql|metadata\.json/.test(k)),
        [],
        'no archive, no metadata.json',
      );
      assert.deepEqual(await openUploads(s3, BUCKET(), location(status).archiveKey), []);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });
});
