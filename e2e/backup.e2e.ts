// Backups as a user makes them: a Backup applied to the real API server, claimed by the stack's
// runner, taken by `lifeboat worker backup` from the real MariaDB or Galera into the real MinIO.
// Each test has its own namespace and its own object-store path, removed afterwards.
import assert from 'node:assert/strict';
import type { S3Client } from '@aws-sdk/client-s3';
import { kubectlOk, kube, type TestNamespace } from './support/kube.js';
import { assertAllSynced } from './support/databases.js';
import {
  createStackSecrets,
  finishedBackup,
  namespaceAndPathPerTest,
  listKeys,
  minioStore,
  objectSha256,
  objectText,
  stackCluster,
  type StackTopology,
} from './support/stack-objects.js';
import { requireVar } from './support/stack.js';

type Status = Record<string, unknown>;

const BUCKET = (): string => requireVar('S3_BUCKET', 'MinIO');

/** The archive and metadata.json a completed Backup points at, checked against each other and its status. */
async function assertArchiveMatches(client: S3Client, status: Status): Promise<Record<string, unknown>> {
  const prefix = String(status['destinationPath']).replace(`s3://${BUCKET()}/`, '');
  const keys = await listKeys(client, BUCKET(), prefix);
  const metadataKey = keys.find((k) => k.endsWith('/metadata.json'));
  assert.ok(metadataKey, `metadata.json under ${prefix}: ${keys.join(', ')}`);
  const metadata = JSON.parse(await objectText(client, BUCKET(), metadataKey)) as Record<string, unknown>;
  const archiveSha = await objectSha256(client, BUCKET(), String(metadata['objectKey']));
  assert.equal(archiveSha, status['sha256'], 'SHA-256 of the object read back from MinIO vs status.sha256');
  assert.equal(metadata['sha256'], status['sha256'], 'metadata.json sha256 vs status.sha256');
  assert.equal(metadata['size'], status['size']);
  assert.deepEqual(keys.sort(), [String(metadata['objectKey']), metadataKey].sort(), 'nothing else left behind');
  return metadata;
}

describe('backups through the runner (real API server, MariaDB, Galera, MinIO)', function () {
  this.timeout(180_000);
  let ns: TestNamespace;
  let path = '';
  let client: S3Client;
  namespaceAndPathPerTest((created, its, s3) => ((ns = created), (path = its), (client = s3)));

  beforeEach(async function () {
    await createStackSecrets(ns);
  });

  const backUp = (topology: StackTopology, spec: Record<string, unknown>): Promise<Status> =>
    finishedBackup(ns, stackCluster('db', topology, minioStore(path)), spec);

  for (const [method, format] of [
    ['mariadb-dump', 'sql'],
    ['mariabackup', 'xbstream'],
  ] as const) {
    it(`a ${method} Backup of the standalone server completes; MinIO's bytes hash to status.sha256 and metadata.json`, async function () {
      const status = await backUp('standalone', { method });
      assert.equal(status['phase'], 'completed', JSON.stringify(status));
      assert.equal(status['method'], method);
      assert.equal(status['instanceName'], 'db-0');
      assert.match(String(status['beginGTID']), /^\d+-\d+-\d+/);
      const metadata = await assertArchiveMatches(client, status);
      assert.match(String(metadata['objectKey']), new RegExp(`^${path}/db/b1/\\d{8}T\\d{6}Z/backup\\.${format}$`));
      assert.equal(metadata['sourceInstance'], 'db-0');
    });
  }

  it('a gzip mariadb-dump Backup stores backup.sql.gz whose hash matches', async function () {
    const status = await backUp('standalone', { method: 'mariadb-dump', compression: 'gzip' });
    assert.equal(status['phase'], 'completed', JSON.stringify(status));
    const metadata = await assertArchiveMatches(client, status);
    assert.match(String(metadata['objectKey']), /backup\.sql\.gz$/);
  });

  it('a physical prefer-standby Backup of Galera completes from the highest non-writer; 3 × Synced afterwards', async function () {
    const status = await backUp('galera', { method: 'mariabackup', target: 'prefer-standby' });
    assert.equal(status['phase'], 'completed', JSON.stringify(status));
    assert.equal(status['instanceName'], 'db-2');
    // The record the runner relies on after a killed worker: set before ON, cleared once back OFF.
    const conditions = (status['conditions'] ?? []) as { type: string; status: string; reason: string }[];
    const desynced = conditions.find((c) => c.type === 'SourceDesynced');
    assert.deepEqual([desynced?.status, desynced?.reason], ['False', 'DesyncRestored']);
    await assertArchiveMatches(client, status);
    await assertAllSynced();
  });

  it('kubectl get backups shows the printer columns', async function () {
    await backUp('standalone', { method: 'mariadb-dump' });
    const table = kubectlOk(['get', 'backups', '-n', ns.name]);
    const [header, row] = table.trim().split('\n');
    assert.deepEqual(header?.split(/\s+/), ['NAME', 'CLUSTER', 'METHOD', 'PHASE', 'SIZE', 'AGE']);
    assert.match(row ?? '', /^b1\s+db\s+mariadb-dump\s+completed\s+\d+\s+\d+s$/);
  });

  it('writes Events for the phase changes, and no password anywhere in status or Events', async function () {
    const status = await backUp('standalone', { method: 'mariadb-dump' });
    // The worker records its Event just after writing the status: wait for it.
    let events = await kube().core.listNamespacedEvent({ namespace: ns.name });
    for (let i = 0; i < 50 && !events.items.some((e) => e.reason === 'BackupCompleted'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      events = await kube().core.listNamespacedEvent({ namespace: ns.name });
    }
    const reasons = events.items.map((e) => e.reason);
    assert.ok(reasons.includes('BackupRunning') && reasons.includes('BackupCompleted'), reasons.join(', '));
    const everything = JSON.stringify({ status, events: events.items.map((e) => e.message) });
    for (const secret of ['MARIADB_PASSWORD', 'S3_SECRET_KEY', 'S3_ACCESS_KEY']) {
      assert.ok(!everything.includes(requireVar(secret, 'stack')), `${secret} leaked`);
    }
  });
});
