// Which backup a restore takes, with an API server in memory (fake API) and an object store in
// memory (fake S3). resolveRestoreSource makes its own S3 client with createS3Client and takes no
// client from its caller, so the only seam is the SDK itself: every S3Client's send is routed to
// the fake S3 while a test runs, and the client the code made is kept to check how it was built.
import assert from 'node:assert/strict';
import { S3Client } from '@aws-sdk/client-s3';
import type { BackupMetadataType } from '../../../crds/backup-metadata-types.js';
import type { Cluster } from '../../../crds/kinds.js';
import { metadataKey } from '../../../crds/object-keys.js';
import type { RecoverySpec } from '../../../crds/recovery-types.js';
import type { StoredSecret } from '../../../lib/kube-client.js';
import { refusePointInTime, resolveRestoreSource, type SourceInputs } from '../../../runner/restores/restore-source.js';
import {
  BackupIdNotFoundError,
  ChecksumMismatchError,
  DownloadFailedError,
  NoBackupsFoundError,
  SourceHasNoObjectStoreError,
  SourceNotFoundError,
  UnsupportedMethodError,
  WorkFailure,
} from '../../../runner/work-failures.js';
import { cluster as clusterManifest, toObject } from '../../helpers.js';
import { FakeS3 } from '../data-path/fake-s3.js';
import { FakeLifeboatApi } from '../reconcile/fakes.js';
import { BUCKET, putBackup, sampleMetadata } from './backup-fixtures.js';

const ARCHIVE = Buffer.from('-- a dump\nCREATE TABLE t (id INT);\nINSERT INTO t VALUES (1);\n');
const ENDPOINT = 'https://minio.shop.svc:9000';
const SECRET_KEYS = { id: 'AKIDSECRET', key: 'secret-from-the-secret' };

/** An object store with credentials in Secret s3-keys; its bucket is not the one the backup records. */
const STORE = {
  bucket: 'today-bucket',
  path: 'p',
  endpoint: ENDPOINT,
  forcePathStyle: true,
  credentials: {
    accessKeyId: { name: 's3-keys', key: 'id' },
    secretAccessKey: { name: 's3-keys', key: 'key' },
  },
};

const META = sampleMetadata({}, ARCHIVE);
const META_KEY = metadataKey({ path: 'p', cluster: 'shop', backupName: 'shop-1', backupId: META.backupId });

/** Routes every S3Client's send to `fake`; remembers the clients that sent. */
function routeS3To(fake: FakeS3): { senders: S3Client[]; restore: () => void } {
  const proto = S3Client.prototype as unknown as Record<string, unknown>;
  const own = Object.getOwnPropertyDescriptor(proto, 'send');
  const senders: S3Client[] = [];
  const viaFake = fake.client('WHEN_REQUIRED');
  proto['send'] = function (this: S3Client, command: unknown): Promise<unknown> {
    senders.push(this);
    return (viaFake.send as (c: unknown) => Promise<unknown>)(command);
  };
  return {
    senders,
    restore: () => {
      if (own) Object.defineProperty(proto, 'send', own);
      else delete proto['send'];
    },
  };
}

interface World {
  fake: FakeS3;
  api: FakeLifeboatApi;
  secretReads: string[];
  senders: S3Client[];
  inputs: (recovery: RecoverySpec, extra?: Partial<SourceInputs>) => SourceInputs;
  /** The GetObject / ListObjectsV2 requests, as [command, Bucket, Key or Prefix]. */
  requests: () => string[][];
}

let unroute: (() => void) | undefined;

function world(clusterSpec: Record<string, unknown> = {}): World {
  const fake = new FakeS3();
  const requests: string[][] = [];
  fake.fault = (command, input) => {
    requests.push([command, String(input['Bucket']), String(input['Key'] ?? input['Prefix'] ?? '')]);
    return undefined;
  };
  const routed = routeS3To(fake);
  unroute = routed.restore;
  const api = new FakeLifeboatApi();
  // JSON drops the keys a test sets to undefined (a Cluster without spec.backup).
  const manifest = JSON.parse(
    JSON.stringify({
      ...clusterManifest({ backup: { objectStore: STORE }, ...clusterSpec }),
      metadata: { name: 'shop', namespace: 'shop' },
    }),
  ) as unknown;
  const cluster = toObject(manifest) as Cluster;
  api.put('Cluster', cluster as unknown as Record<string, unknown>);
  const secretReads: string[] = [];
  const secrets: Record<string, Record<string, string>> = { 's3-keys': SECRET_KEYS };
  const kube: SourceInputs['kube'] = {
    getLifeboat: (kind, ns, name) => api.getLifeboat(kind, ns, name),
    readSecret: async (ns, name): Promise<StoredSecret | undefined> => {
      secretReads.push(`${ns}/${name}`);
      const data = secrets[name];
      return data ? { data, resourceVersion: '1' } : undefined;
    },
  };
  return {
    fake,
    api,
    secretReads,
    senders: routed.senders,
    inputs: (recovery, extra = {}) => ({ kube, cluster, recovery, ...extra }),
    requests: () => requests,
  };
}

/** A completed Backup "nightly" whose status agrees with META at BUCKET. */
function completedStatus(change: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    phase: 'completed',
    startedAt: '2026-11-30T18:15:00Z',
    stoppedAt: '2026-11-30T18:17:42Z',
    backupId: META.backupId,
    sha256: META.sha256,
    size: META.size,
    location: {
      bucket: BUCKET,
      endpoint: ENDPOINT,
      path: 'p',
      archiveKey: META.objectKey,
      metadataKey: META_KEY,
    },
    ...change,
  };
}

function putBackupObject(
  w: World,
  status: Record<string, unknown> | undefined,
  spec: Record<string, unknown> = { objectStore: STORE },
): void {
  w.api.put('Backup', {
    apiVersion: 'lifeboat.dev/v1alpha1',
    kind: 'Backup',
    metadata: { name: 'nightly', namespace: 'shop' },
    spec: { cluster: { name: 'shop' }, ...spec },
    ...(status ? { status } : {}),
  });
}

async function endpointOf(client: S3Client): Promise<string> {
  const ep = await client.config.endpoint?.();
  return `${ep?.protocol ?? ''}//${ep?.hostname ?? ''}:${ep?.port ?? ''}`;
}

function rejectsWith<E extends WorkFailure>(
  type: abstract new (...args: never[]) => E,
  message: string | RegExp,
): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof type, `expected ${type.name}, got ${String(err)}`);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  };
}

afterEach(() => {
  unroute?.();
  unroute = undefined;
});

describe('restore source: point-in-time targets', () => {
  it('a targetTime or targetGTID is refused UnsupportedMethod, naming the field; targetImmediate and none pass', () => {
    const refusal = (site: string, field: string) => (err: unknown) =>
      err instanceof UnsupportedMethodError &&
      err.message ===
        `${site}.recoveryTarget.${field}: point-in-time recovery is not available in this version of Lifeboat (it archives no binary logs yet): only a backup as it was taken can be restored; remove this target`;
    assert.throws(
      () => refusePointInTime({ source: 'old', recoveryTarget: { targetTime: '2026-05-01T12:00:00Z' } }, 'spec'),
      refusal('spec', 'targetTime'),
    );
    assert.throws(
      () => refusePointInTime({ source: 'old', recoveryTarget: { targetGTID: '0-1-5' } }, 'spec.bootstrap.recovery'),
      refusal('spec.bootstrap.recovery', 'targetGTID'),
    );
    refusePointInTime({ source: 'old', recoveryTarget: { targetImmediate: true } }, 'spec');
    refusePointInTime({ backup: { name: 'nightly' } }, 'spec');
  });
});

describe('restore source: spec.backup (fake API, fake S3)', () => {
  it('reads metadata.json where the Backup’s status.location says, with the store’s endpoint and Secret keys', async () => {
    const w = world();
    putBackup(w.fake, META, ARCHIVE);
    putBackupObject(w, completedStatus());
    const source = await resolveRestoreSource(w.inputs({ backup: { name: 'nightly' } }));
    assert.deepEqual(source.metadata, META);
    assert.equal(source.bucket, BUCKET, 'the recorded bucket, not the store’s bucket of today');
    assert.equal(source.folder, `s3://${BUCKET}/p/shop/shop-1/${META.backupId}/`);
    assert.deepEqual(w.requests(), [['GetObject', BUCKET, META_KEY]]);
    assert.deepEqual(w.senders, [source.client], 'the client returned is the one that read metadata.json');
    assert.equal(await endpointOf(source.client), 'https://minio.shop.svc:9000');
    const creds = await source.client.config.credentials();
    assert.equal(creds.accessKeyId, SECRET_KEYS.id);
    assert.equal(creds.secretAccessKey, SECRET_KEYS.key);
    assert.deepEqual(w.secretReads, ['shop/s3-keys', 'shop/s3-keys']);
  });

  it('in a Job, takes the S3 keys from the worker’s environment and reads no Secret', async () => {
    const w = world();
    putBackup(w.fake, META, ARCHIVE);
    putBackupObject(w, completedStatus());
    const s3 = { accessKeyId: 'AKIDJOB', secretAccessKey: 'from-the-job-env' };
    const source = await resolveRestoreSource(w.inputs({ backup: { name: 'nightly' } }, { s3 }));
    const creds = await source.client.config.credentials();
    assert.equal(creds.accessKeyId, 'AKIDJOB');
    assert.equal(creds.secretAccessKey, 'from-the-job-env');
    assert.deepEqual(w.secretReads, []);
  });

  it('a Backup without an objectStore of its own is read with the one its Cluster lends', async () => {
    const w = world();
    putBackup(w.fake, META, ARCHIVE);
    putBackupObject(w, completedStatus(), {});
    const source = await resolveRestoreSource(w.inputs({ backup: { name: 'nightly' } }));
    assert.equal(source.metadata.backupId, META.backupId);
    assert.equal(await endpointOf(source.client), 'https://minio.shop.svc:9000');
  });

  it('reads at the endpoint and region status.location records, not at those of the Cluster today', async () => {
    // docs/design.md: "read from where its status.location says it was written"; docs/runner.md:
    // restores "never ... consult the Cluster as it is today". The Cluster has moved to another store
    // since; its credentials are still the way in, the recorded endpoint is where the backup is.
    const w = world({
      backup: { objectStore: { ...STORE, endpoint: 'https://new-store.shop.svc:9000', region: 'eu-west-1' } },
    });
    putBackup(w.fake, META, ARCHIVE);
    const status = completedStatus();
    (status['location'] as Record<string, unknown>)['region'] = 'us-east-1';
    putBackupObject(w, status, {});
    const source = await resolveRestoreSource(w.inputs({ backup: { name: 'nightly' } }));
    assert.equal(await endpointOf(source.client), 'https://minio.shop.svc:9000');
    assert.equal(await source.client.config.region(), 'us-east-1');
  });

  it('neither the Backup nor its Cluster names an objectStore: DownloadFailed, restore with spec.source', async () => {
    const w = world({ backup: undefined });
    putBackup(w.fake, META, ARCHIVE);
    putBackupObject(w, completedStatus(), {});
    await assert.rejects(
      resolveRestoreSource(w.inputs({ backup: { name: 'nightly' } })),
      rejectsWith(
        DownloadFailedError,
        'Backup nightly names no objectStore and its Cluster shop lends none; restore with spec.source',
      ),
    );
    assert.deepEqual(w.requests(), []);
  });

  it('a missing Backup: NoBackupsFound naming it, its namespace, and what to do', async () => {
    const w = world();
    await assert.rejects(
      resolveRestoreSource(w.inputs({ backup: { name: 'nightly' } })),
      rejectsWith(
        NoBackupsFoundError,
        'Backup nightly does not exist in namespace shop; name a completed Backup in spec.backup, or restore from the bucket with spec.source',
      ),
    );
    assert.deepEqual(w.requests(), [], 'nothing is read from the object store');
  });

  for (const [what, status, says] of [
    [
      'failed',
      { phase: 'failed', reason: 'UploadFailed', error: 'bucket gone' },
      'Backup nightly is failed (UploadFailed), not completed; name a completed Backup in spec.backup',
    ],
    [
      'failed without a reason',
      { phase: 'failed' },
      'Backup nightly is failed (no reason), not completed; name a completed Backup in spec.backup',
    ],
    [
      'running',
      { phase: 'running', startedAt: '2026-11-30T18:15:00Z', jobName: 'host-1/7' },
      'Backup nightly is running, not completed; name a completed Backup in spec.backup',
    ],
    [
      'pending',
      { phase: 'pending' },
      'Backup nightly is pending, not completed; name a completed Backup in spec.backup',
    ],
    ['not started', undefined, 'Backup nightly is not started, not completed; name a completed Backup in spec.backup'],
  ] as const) {
    it(`a Backup that is ${what}: NoBackupsFound saying so and what to do`, async () => {
      const w = world();
      putBackup(w.fake, META, ARCHIVE);
      putBackupObject(w, status);
      await assert.rejects(
        resolveRestoreSource(w.inputs({ backup: { name: 'nightly' } })),
        rejectsWith(NoBackupsFoundError, says),
      );
      assert.deepEqual(w.requests(), []);
    });
  }

  it('an expired Backup (retention deleted its objects): NoBackupsFound saying so, before the bucket is asked', async () => {
    const w = world();
    putBackupObject(w, {
      ...completedStatus(),
      conditions: [
        {
          type: 'Expired',
          status: 'True',
          reason: 'RetentionExpired',
          message: 'older than maxAge 7d',
          lastTransitionTime: '2026-12-01T00:00:00Z',
        },
      ],
    });
    await assert.rejects(
      resolveRestoreSource(w.inputs({ backup: { name: 'nightly' } })),
      rejectsWith(
        NoBackupsFoundError,
        'Backup nightly expired: retention deleted its archive and metadata.json (older than maxAge 7d); name a newer completed Backup in spec.backup',
      ),
    );
    assert.deepEqual(w.requests(), []);
  });

  it('a completed Backup without status.location: NoBackupsFound, restore it with spec.source', async () => {
    const w = world();
    putBackup(w.fake, META, ARCHIVE);
    const status = completedStatus();
    delete status['location'];
    putBackupObject(w, status);
    await assert.rejects(
      resolveRestoreSource(w.inputs({ backup: { name: 'nightly' } })),
      rejectsWith(
        NoBackupsFoundError,
        'Backup nightly does not record where it was written (status.location); restore it with spec.source from its object store',
      ),
    );
    assert.deepEqual(w.requests(), []);
  });

  const OTHER_SHA = 'f'.repeat(64);
  for (const [what, change, fields] of [
    ['sha256', { sha256: OTHER_SHA }, 'sha256'],
    ['size', { size: META.size + 1 }, 'size'],
    [
      'archive key',
      {
        location: {
          bucket: BUCKET,
          archiveKey: 'p/shop/shop-1/20261130T181500Z/other.sql.gz',
          metadataKey: META_KEY,
        },
      },
      'archive key',
    ],
    [
      'all three',
      {
        sha256: OTHER_SHA,
        size: 1,
        location: { bucket: BUCKET, archiveKey: 'p/shop/x.sql.gz', metadataKey: META_KEY },
      },
      'sha256, size, archive key',
    ],
  ] as const) {
    it(`metadata.json disagreeing with the Backup's status (${what}): ChecksumMismatch naming what differs`, async () => {
      const w = world();
      putBackup(w.fake, META, ARCHIVE);
      putBackupObject(w, completedStatus(change));
      await assert.rejects(
        resolveRestoreSource(w.inputs({ backup: { name: 'nightly' } })),
        rejectsWith(
          ChecksumMismatchError,
          `metadata.json of Backup nightly disagrees with its status (${fields}); the object store was changed after the backup: nothing was applied; restore another backup`,
        ),
      );
    });
  }

  it('metadata.json changed in the bucket after the backup (another sha256): ChecksumMismatch', async () => {
    const w = world();
    const tampered: BackupMetadataType = { ...META, sha256: 'a'.repeat(64) };
    putBackup(w.fake, tampered, ARCHIVE);
    putBackupObject(w, completedStatus());
    await assert.rejects(
      resolveRestoreSource(w.inputs({ backup: { name: 'nightly' } })),
      rejectsWith(ChecksumMismatchError, /disagrees with its status \(sha256\)/),
    );
  });

  it('a status without sha256 and size is checked on the archive key alone', async () => {
    const w = world();
    putBackup(w.fake, META, ARCHIVE);
    const status = completedStatus();
    delete status['sha256'];
    delete status['size'];
    putBackupObject(w, status);
    const source = await resolveRestoreSource(w.inputs({ backup: { name: 'nightly' } }));
    assert.equal(source.metadata.sha256, META.sha256);
  });

  it('metadata.json missing where status.location points: DownloadFailed naming the object', async () => {
    const w = world();
    putBackupObject(w, completedStatus());
    await assert.rejects(
      resolveRestoreSource(w.inputs({ backup: { name: 'nightly' } })),
      rejectsWith(
        DownloadFailedError,
        `reading s3://${BUCKET}/${META_KEY} failed: no such object: the backup is incomplete or the key is wrong`,
      ),
    );
  });
});

describe('restore source: spec.source (fake API, fake S3)', () => {
  /** Cluster shop with externalClusters old-shop, whose backups are in BUCKET under p/old-shop/. */
  const OLD_SHOP = {
    externalClusters: [{ name: 'old-shop', objectStore: { ...STORE, bucket: BUCKET } }, { name: 'bare' }],
  };

  function putOldShop(w: World, name: string, id: string, archive: Buffer | null = ARCHIVE): BackupMetadataType {
    const metadata = sampleMetadata({ cluster: 'old-shop', backupName: name, backupId: id }, ARCHIVE);
    putBackup(w.fake, metadata, archive);
    return metadata;
  }

  it('a source naming no externalClusters entry: SourceNotFound, naming it and the Cluster', async () => {
    const w = world(OLD_SHOP);
    await assert.rejects(
      resolveRestoreSource(w.inputs({ source: 'nope' })),
      rejectsWith(
        SourceNotFoundError,
        'source nope names no externalClusters entry of Cluster shop; add one with that name, or fix the source',
      ),
    );
    assert.deepEqual(w.requests(), []);
  });

  it('an entry without an objectStore: SourceHasNoObjectStore, add the store', async () => {
    const w = world({ externalClusters: [{ name: 'bare' }] });
    await assert.rejects(
      resolveRestoreSource(w.inputs({ source: 'bare' })),
      rejectsWith(
        SourceHasNoObjectStoreError,
        'externalClusters entry bare of Cluster shop has no objectStore; add the object store its backups are in',
      ),
    );
    assert.deepEqual(w.requests(), []);
  });

  it('takes the newest complete backup under <path>/<source>/, skipping a newer incomplete one', async () => {
    const w = world(OLD_SHOP);
    putOldShop(w, 'old-1', '20261128T000000Z');
    const newest = putOldShop(w, 'old-2', '20261129T000000Z');
    putOldShop(w, 'old-3', '20261130T000000Z', null);
    // Another cluster's newer backup in the same bucket is not this source's.
    putBackup(w.fake, sampleMetadata({ cluster: 'shop', backupId: '20261201T000000Z' }, ARCHIVE), ARCHIVE);
    const source = await resolveRestoreSource(w.inputs({ source: 'old-shop' }));
    assert.deepEqual(source.metadata, newest);
    assert.equal(source.bucket, BUCKET);
    assert.equal(source.folder, `s3://${BUCKET}/p/old-shop/old-2/20261129T000000Z/`);
    assert.ok(
      w.requests().some(([c, b, prefix]) => c === 'ListObjectsV2' && b === BUCKET && prefix === 'p/old-shop/'),
      JSON.stringify(w.requests()),
    );
    assert.ok(w.senders.every((c) => c === source.client));
    const creds = await source.client.config.credentials();
    assert.equal(creds.accessKeyId, SECRET_KEYS.id);
  });

  it('with kind logical (a Restore into a running server), passes a newer physical backup for the newest logical one', async () => {
    const w = world(OLD_SHOP);
    const logical = putOldShop(w, 'old-1', '20261128T000000Z');
    const physical = sampleMetadata(
      { cluster: 'old-shop', backupName: 'old-2', backupId: '20261129T000000Z', method: 'mariabackup' },
      ARCHIVE,
    );
    putBackup(w.fake, physical, ARCHIVE);
    const source = await resolveRestoreSource(w.inputs({ source: 'old-shop' }, { kind: 'logical' }));
    assert.deepEqual(source.metadata, logical);
    const any = await resolveRestoreSource(w.inputs({ source: 'old-shop' }));
    assert.deepEqual(any.metadata, physical, 'without a kind, the newest of either');
  });

  it('takes exactly backupID, not the newest', async () => {
    const w = world(OLD_SHOP);
    const asked = putOldShop(w, 'old-1', '20261128T000000Z');
    putOldShop(w, 'old-2', '20261129T000000Z');
    const source = await resolveRestoreSource(w.inputs({ source: 'old-shop', backupID: '20261128T000000Z' }));
    assert.deepEqual(source.metadata, asked);
    assert.equal(source.folder, `s3://${BUCKET}/p/old-shop/old-1/20261128T000000Z/`);
  });

  it('a backupID that is not there: BackupIDNotFound naming where it looked', async () => {
    const w = world(OLD_SHOP);
    putOldShop(w, 'old-2', '20261129T000000Z');
    await assert.rejects(
      resolveRestoreSource(w.inputs({ source: 'old-shop', backupID: '20260101T000000Z' })),
      rejectsWith(
        BackupIdNotFoundError,
        `backup ID 20260101T000000Z is not under s3://${BUCKET}/p/old-shop/ (the newest there: 20261129T000000Z); fix backupID`,
      ),
    );
  });

  it('no backups under the source: NoBackupsFound naming where it looked', async () => {
    const w = world(OLD_SHOP);
    await assert.rejects(
      resolveRestoreSource(w.inputs({ source: 'old-shop' })),
      rejectsWith(NoBackupsFoundError, new RegExp(`^no backups under s3://${BUCKET}/p/old-shop/; `)),
    );
  });

  it('in a Job, the source’s store is read with the S3 keys of the worker’s environment', async () => {
    const w = world(OLD_SHOP);
    putOldShop(w, 'old-1', '20261128T000000Z');
    const s3 = { accessKeyId: 'AKIDJOB', secretAccessKey: 'from-the-job-env' };
    const source = await resolveRestoreSource(w.inputs({ source: 'old-shop' }, { s3 }));
    assert.equal((await source.client.config.credentials()).accessKeyId, 'AKIDJOB');
    assert.deepEqual(w.secretReads, []);
  });
});
