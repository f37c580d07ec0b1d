// Fixtures for the retention tests: a fake API server that also deletes Lifeboat objects (uid
// precondition as the real one), and completed Backups whose objects sit in a fake S3.
import { KubeConflictError } from '../../../lib/kube-client.js';
import type { LifeboatKind } from '../../../crds/kinds.js';
import { archiveKey, metadataKey } from '../../../crds/object-keys.js';
import { FakeLifeboatApi } from '../reconcile/fakes.js';
import type { FakeS3 } from '../data-path/fake-s3.js';

export const BUCKET = 'lifeboat';
export const NOW = new Date('2026-12-03T12:00:00Z');

/** FakeLifeboatApi that deletes too, and keeps one log of what was deleted where, in order. */
export class FakeRetentionApi extends FakeLifeboatApi {
  readonly log: string[] = [];
  /** Set to make the next deletes fail. */
  deleteFault: Error | undefined;

  /** Retention tests give the S3 client directly; no Secret is read. */
  async readSecret(): Promise<undefined> {
    await Promise.resolve();
    return undefined;
  }

  async deleteLifeboat(kind: LifeboatKind, namespace: string, name: string, uid: string): Promise<void> {
    await Promise.resolve();
    if (this.deleteFault) throw this.deleteFault;
    const stored = this.get(kind, namespace, name);
    if (!stored) return;
    if (stored.metadata.uid !== uid) throw new KubeConflictError(`delete ${kind} ${name}: uid differs`, 409);
    this.objects.delete(`${kind}/${namespace}/${name}`);
    this.log.push(`delete ${kind} ${name}`);
  }
}

/** Logs every S3 request that names a key into `log`, as `<Command> <key>`. */
export function logS3(s3: FakeS3, log: string[], fail: (command: string, key: string) => unknown = () => undefined) {
  s3.fault = (command, input) => {
    const key = String(input['Key'] ?? input['Prefix'] ?? '');
    const err = fail(command, key);
    if (err === undefined) log.push(`${command} ${key}`);
    return err;
  };
}

export interface BackupSetup {
  readonly name: string;
  readonly daysAgo: number;
  readonly origin?: 'schedule' | 'git';
  readonly phase?: 'completed' | 'failed';
  /** An unfinished multipart upload of the archive, as a dead worker leaves it. */
  readonly openUpload?: boolean;
  /** Write no objects (a failed Backup that never uploaded). */
  readonly noObjects?: boolean;
  /** Its objects under Object Lock (GOVERNANCE) until then; recorded in status.location unless `lockUnrecorded`. */
  readonly lockedUntil?: Date;
  /** The lock comes from the bucket's default retention: the store knows it, the status does not. */
  readonly lockUnrecorded?: boolean;
}

function backupIdAt(at: Date): string {
  return at
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}

/** A Backup of Cluster db in namespace shop, stored in the fake API, its objects in the fake S3. */
export function putBackup(api: FakeLifeboatApi, s3: FakeS3, setup: BackupSetup): void {
  const at = new Date(NOW.getTime() - setup.daysAgo * 86_400_000);
  const backupId = backupIdAt(at);
  const loc = { path: 'prod', cluster: 'db', backupName: setup.name, backupId };
  const keys = { archiveKey: archiveKey(loc, 'mariadb-dump', 'none'), metadataKey: metadataKey(loc) };
  const phase = setup.phase ?? 'completed';
  const owned = (setup.origin ?? 'schedule') === 'schedule';
  api.put('Backup', {
    metadata: {
      name: setup.name,
      namespace: 'shop',
      ...(owned
        ? { ownerReferences: [{ kind: 'ScheduledBackup', name: 'nightly', uid: 'sb-uid', controller: true }] }
        : {}),
    },
    spec: { cluster: { name: 'db' } },
    status: {
      phase,
      backupId,
      startedAt: at.toISOString(),
      stoppedAt: at.toISOString(),
      ...(setup.noObjects ? {} : { location: { bucket: BUCKET, path: 'prod', ...keys, ...recordedLock(setup) } }),
    },
  });
  if (setup.noObjects) return;
  const input = setup.lockedUntil ? { ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: setup.lockedUntil } : {};
  s3.objects.set(`${BUCKET}/${keys.archiveKey}`, { body: Buffer.from(`dump of ${setup.name}`), input });
  if (phase === 'completed') s3.objects.set(`${BUCKET}/${keys.metadataKey}`, { body: Buffer.from('{}'), input });
  if (setup.openUpload) {
    s3.uploads.set(`open-${setup.name}`, { key: `${BUCKET}/${keys.archiveKey}`, input: {}, parts: new Map() });
  }
}

function recordedLock(setup: BackupSetup): { objectLock?: { mode: string; retainUntil: string } } {
  if (!setup.lockedUntil || setup.lockUnrecorded) return {};
  return { objectLock: { mode: 'GOVERNANCE', retainUntil: setup.lockedUntil.toISOString() } };
}

/** The Cluster db in namespace shop with the given retention. */
export function putCluster(api: FakeLifeboatApi, retention?: { keep?: number; maxAge?: string }): void {
  api.put('Cluster', {
    metadata: { name: 'db', namespace: 'shop' },
    spec: {
      engine: 'mariadb',
      topology: 'standalone',
      instances: { static: [{ name: 'db-0', host: '127.0.0.1', port: 3306 }] },
      credentials: { secretRef: { name: 'db' } },
      backup: { objectStore: { bucket: BUCKET, path: 'prod' }, ...(retention ? { retention } : {}) },
    },
  });
}

/** Keys of the fake bucket under prod/db/<name>/. */
export function keysOf(s3: FakeS3, name: string): string[] {
  return [...s3.objects.keys()].filter((k) => k.startsWith(`${BUCKET}/prod/db/${name}/`));
}
