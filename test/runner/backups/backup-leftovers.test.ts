// The runner's clean-up after a dead backup worker, with a fake API and an in-memory S3 (fake S3):
// the archive's unfinished upload is found by the key the worker recorded, in the store the Backup
// inherits, with the credentials of its Secret; nothing is touched before the worker recorded it.
import assert from 'node:assert/strict';
import type { S3Access } from '../../../lib/s3-client.js';
import type { ObjectStoreSpec } from '../../../crds/object-store-types.js';
import type { StoredBackup } from '../../../runner/executors/executor.js';
import { backupLeftovers, type LeftoverKube, type Leftovers } from '../../../runner/backups/backup-leftovers.js';
import { backup, cluster } from '../../helpers.js';
import { FakeS3 } from '../data-path/fake-s3.js';
import { silentLog } from '../reconcile/fakes.js';

const FOLDER = 'prod/shop/nightly/20261130T181500Z/';
const STORE = {
  bucket: 'lifeboat',
  path: 'prod',
  endpoint: 'http://127.0.0.1:9000',
  credentials: { accessKeyId: { name: 's3', key: 'id' }, secretAccessKey: { name: 's3', key: 'secret' } },
};

function locationOf(archive: string): Record<string, string> {
  return { bucket: 'lifeboat', archiveKey: `${FOLDER}${archive}`, metadataKey: `${FOLDER}metadata.json` };
}

function stored(spec: Record<string, unknown> = {}, status: Record<string, unknown> = {}): StoredBackup {
  const b = backup(spec, { name: 'nightly', namespace: 'shop', resourceVersion: '7', uid: 'u1' });
  return {
    ...b,
    status: { phase: 'running', method: 'mariabackup', location: locationOf('backup.xbstream'), ...status },
  } as unknown as StoredBackup;
}

function kube(withCluster = true): LeftoverKube & { secretReads: string[] } {
  const secretReads: string[] = [];
  const shop = { ...cluster({ backup: { objectStore: STORE } }), metadata: { name: 'shop', namespace: 'shop' } };
  return {
    secretReads,
    listPods: async () => [],
    listLifeboat: async () => ({ items: [], resourceVersion: '1' }),
    getLifeboat: async (kind) => (kind === 'Cluster' && withCluster ? structuredClone(shop) : undefined),
    readSecret: async (_ns, name) => {
      secretReads.push(name);
      return name === 's3' ? { data: { id: 'AKID', secret: 'shh' }, resourceVersion: '1' } : undefined;
    },
  };
}

function withFake(fake: FakeS3): {
  s3Client: (store: ObjectStoreSpec, access?: S3Access) => ReturnType<FakeS3['client']>;
  seen: S3Access[];
} {
  const seen: S3Access[] = [];
  return {
    seen,
    s3Client: (_store, access = {}) => {
      seen.push(access);
      return fake.client();
    },
  };
}

/** The one clause said, or undefined when nothing was said. */
function saidOf(left: Leftovers): string | undefined {
  assert.ok(left.said.length <= 1, left.said.join(' | '));
  assert.deepEqual(left.conditions, []);
  return left.said[0];
}

function open(fake: FakeS3, key: string): void {
  fake.uploads.set(`upload-${fake.uploads.size + 1}`, { key: `lifeboat/${key}`, input: {}, parts: new Map() });
}

describe('backup leftovers (fake API, fake S3)', () => {
  it('aborts the unfinished upload of the archive in the store the Backup inherits, with its Secret', async () => {
    const fake = new FakeS3();
    open(fake, `${FOLDER}backup.xbstream`);
    const s3 = withFake(fake);
    const k = kube();
    const said = saidOf(await backupLeftovers(k, silentLog, { ...s3, retryMs: 1 })(stored()));
    assert.equal(said, `its unfinished upload of s3://lifeboat/${FOLDER}backup.xbstream was aborted`);
    assert.equal(fake.uploads.size, 0);
    assert.deepEqual(k.secretReads, ['s3', 's3']);
    assert.equal(s3.seen[0]?.credentials?.accessKeyId, 'AKID');
  });

  it('aborts the archive key the worker recorded: a gzip dump is backup.sql.gz', async () => {
    const fake = new FakeS3();
    open(fake, `${FOLDER}backup.sql.gz`);
    open(fake, `${FOLDER}backup.sql`);
    const said = saidOf(
      await backupLeftovers(kube(), silentLog, { ...withFake(fake), retryMs: 1 })(
        stored({ compression: 'gzip' }, { method: 'mariadb-dump', location: locationOf('backup.sql.gz') }),
      ),
    );
    assert.match(said ?? '', /backup\.sql\.gz was aborted$/);
    assert.deepEqual(
      [...fake.uploads.values()].map((u) => u.key),
      [`lifeboat/${FOLDER}backup.sql`],
    );
  });

  it('says nothing when no upload was left open', async () => {
    const fake = new FakeS3();
    const said = saidOf(await backupLeftovers(kube(), silentLog, { ...withFake(fake), retryMs: 1 })(stored()));
    assert.equal(said, undefined);
    assert.deepEqual(fake.calls, ['ListMultipartUploads']);
  });

  it('touches nothing before the worker recorded where it writes', async () => {
    const fake = new FakeS3();
    const k = kube();
    const said = saidOf(
      await backupLeftovers(k, silentLog, { ...withFake(fake), retryMs: 1 })(stored({}, { location: undefined })),
    );
    assert.equal(said, undefined);
    assert.deepEqual(fake.calls, []);
    assert.deepEqual(k.secretReads, []);
  });

  it('uses the Backup’s own objectStore when its Cluster is gone', async () => {
    const fake = new FakeS3();
    open(fake, `${FOLDER}backup.xbstream`);
    const said = saidOf(
      await backupLeftovers(kube(false), silentLog, { ...withFake(fake), retryMs: 1 })(stored({ objectStore: STORE })),
    );
    assert.match(said ?? '', /was aborted$/);
    assert.equal(fake.uploads.size, 0);
  });

  it('says what may remain, and why, when the credentials cannot be read', async () => {
    const fake = new FakeS3();
    const k: LeftoverKube = { ...kube(), readSecret: async () => undefined };
    const said = saidOf(await backupLeftovers(k, silentLog, { ...withFake(fake), retryMs: 1 })(stored()));
    assert.match(
      said ?? '',
      new RegExp(`^an unfinished upload of s3://lifeboat/${FOLDER}backup.xbstream may remain \\(`),
    );
    assert.match(said ?? '', /Secret "s3"/);
    assert.match(said ?? '', /AbortIncompleteMultipartUpload/);
    assert.deepEqual(fake.calls, []);
  });

  it('says so when neither the Backup nor a Cluster names a store', async () => {
    const said = saidOf(
      await backupLeftovers(kube(false), silentLog, { ...withFake(new FakeS3()), retryMs: 1 })(stored()),
    );
    assert.match(
      said ?? '',
      /^an unfinished upload of s3:\/\/lifeboat\/.*backup\.xbstream may remain \(Cluster shop does not exist and the Backup names no objectStore/,
    );
  });
});
