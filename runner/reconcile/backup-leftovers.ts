// What a worker that died (SIGKILL, OOM, a lost node) leaves behind, cleaned up by the runner when it
// fails the Backup for it: the Galera member it desynced (desync-leftover.ts), and the multipart
// upload of the archive, which only the worker could otherwise abort. The worker recorded where it
// writes (status.destinationPath, method, backupId) before its upload began, so the exact key is
// known; without that record nothing was uploaded.
import { BACKUP_METHODS, type BackupMethod } from '../../crds/api-constants.js';
import { archiveFileName, type Compression } from '../../crds/object-keys.js';
import type { ObjectStoreSpec } from '../../crds/object-store-types.js';
import type { Logger } from '../../lib/logger.js';
import { createS3Client, resolveS3Access } from '../../lib/s3-client.js';
import { abortOpenUploads, LIFECYCLE_HINT, type AbortOptions } from '../data-path/upload-abort.js';
import type { StoredBackup } from '../executors/executor.js';
import { decodeAs, secretKeyReader } from '../worker/backup-inputs.js';
import { planBackup } from '../worker/backup-plan.js';
import type { ConditionInput } from './conditions.js';
import { releaseDesync, type DesyncKube, type DesyncReleaseOptions } from './desync-leftover.js';

export type LeftoverKube = DesyncKube;

/** What the runner did after a dead worker: clauses for the failure message, and conditions to set. */
export interface Leftovers {
  readonly said: readonly string[];
  readonly conditions: readonly ConditionInput[];
}

/** Cleans up after a Backup's dead worker. Never throws: what could not be done is said. */
export type ReleaseLeftovers = (backup: StoredBackup) => Promise<Leftovers>;

/** Where the worker wrote: its folder, from what the worker recorded; undefined before it recorded it. */
function recordedFolder(stored: StoredBackup): { bucket: string; folder: string; method: BackupMethod } | undefined {
  const { destinationPath, method } = stored.status ?? {};
  const m = /^s3:\/\/([^/]+)\/(.*)$/.exec(destinationPath ?? '');
  if (!m?.[1] || !BACKUP_METHODS.includes(method as BackupMethod)) return undefined;
  return { bucket: m[1], folder: m[2] ?? '', method: method as BackupMethod };
}

interface Written {
  readonly store?: ObjectStoreSpec;
  readonly compression: Compression;
  readonly why?: string;
}

/** The objectStore and compression the worker used: the Backup's own, or what its Cluster lends it. */
async function writtenWith(kube: LeftoverKube, stored: StoredBackup): Promise<Written> {
  const backup = decodeAs('Backup', stored);
  if (!backup) return { compression: 'none', why: 'the Backup no longer passes its schema' };
  const namespace = backup.metadata.namespace ?? 'default';
  const cluster = decodeAs('Cluster', await kube.getLifeboat('Cluster', namespace, backup.spec.cluster.name));
  try {
    const plan = planBackup({ backup, cluster, secrets: new Map(), secretsKnown: false });
    return { store: plan.objectStore, compression: plan.compression };
  } catch (err) {
    // The Cluster may be gone or changed since; the Backup's own objectStore still says where it wrote.
    const compression = backup.spec.compression ?? 'none';
    if (backup.spec.objectStore) return { store: backup.spec.objectStore, compression };
    return { compression, why: err instanceof Error ? err.message : String(err) };
  }
}

export interface LeftoverOptions extends AbortOptions, DesyncReleaseOptions {
  /** Default the one S3 factory; tests pass a fake. */
  readonly s3Client?: typeof createS3Client;
}

export function backupLeftovers(kube: LeftoverKube, log: Logger, opts: LeftoverOptions = {}): ReleaseLeftovers {
  return async (stored) => {
    const desync = await releaseDesync(kube, stored, log, opts);
    const upload = await releaseUpload(kube, stored, log, opts);
    return {
      said: [desync?.message, upload].filter((s): s is string => s !== undefined),
      conditions: desync?.condition ? [desync.condition] : [],
    };
  };
}

async function releaseUpload(
  kube: LeftoverKube,
  stored: StoredBackup,
  log: Logger,
  opts: LeftoverOptions,
): Promise<string | undefined> {
  const makeClient = opts.s3Client ?? createS3Client;
  const recorded = recordedFolder(stored);
  if (!recorded) return undefined;
  const { namespace = 'default', name } = stored.metadata;
  const folder = `s3://${recorded.bucket}/${recorded.folder}`;
  try {
    const { store, compression, why } = await writtenWith(kube, stored);
    const archive = { bucket: recorded.bucket, key: recorded.folder + archiveFileName(recorded.method, compression) };
    const where = `s3://${archive.bucket}/${archive.key}`;
    if (!store) return `an unfinished upload of ${where} may remain (${why ?? 'no objectStore'}); ${LIFECYCLE_HINT}`;
    const client = makeClient(store, await resolveS3Access(store, secretKeyReader(kube, namespace)));
    try {
      const { aborted, leftover } = await abortOpenUploads(client, archive, opts);
      log.info({ namespace, name, object: where, aborted, leftover }, 'cleaned up after a dead backup worker');
      if (leftover) return leftover;
      return aborted > 0 ? `its unfinished upload of ${where} was aborted` : undefined;
    } finally {
      client.destroy();
    }
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    log.warn({ namespace, name, folder, err: why }, 'cannot clean up after a dead backup worker');
    return `an unfinished upload under ${folder} may remain (${why}); ${LIFECYCLE_HINT}`;
  }
}
