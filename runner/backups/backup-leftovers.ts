// What a worker that died (SIGKILL, OOM, a lost node) leaves behind, cleaned up by the runner when it
// fails the Backup for it: the Galera member it desynced (desync-leftover.ts) and that member's
// coordination Lease (worker/member-lease.ts), and the multipart
// upload of the archive, which only the worker could otherwise abort. The worker recorded where it
// writes (status.location) before its upload began, so the exact key is known.
import { effectiveObjectStore } from '../../crds/object-store-funcs.js';
import type { ObjectStoreSpec } from '../../crds/object-store-types.js';
import { messageOf } from '../../lib/error-message.js';
import type { Logger } from '../../lib/logger.js';
import { createS3Client, resolveS3Access } from '../../lib/s3-client.js';
import { abortOpenUploads, LIFECYCLE_HINT, type AbortOptions } from '../data-path/upload-abort.js';
import type { StoredBackup } from '../executors/executor.js';
import { memberHolder, releaseDeadHolder, type MemberLeaseApi } from '../worker/member-lease.js';
import { decodeAs, secretKeyReader } from '../worker/worker-inputs.js';
import type { Leftovers, ReleaseLeftovers } from './backup-reconciler.js';
import { releaseDesync, type DesyncKube, type DesyncReleaseOptions } from './desync-leftover.js';

/** Without Lease access (older fakes) the member's Lease is left to expire. */
export type LeftoverKube = DesyncKube & Partial<Pick<MemberLeaseApi, 'getLease' | 'deleteLease'>>;
export type { Leftovers, ReleaseLeftovers };

/** The store whose credentials reach the archive: the Backup's own objectStore, or its Cluster's. */
async function storeOf(kube: LeftoverKube, stored: StoredBackup): Promise<ObjectStoreSpec | string> {
  const backup = decodeAs('Backup', stored);
  if (!backup) return 'the Backup no longer passes its schema';
  const namespace = backup.metadata.namespace ?? 'default';
  const cluster = decodeAs('Cluster', await kube.getLifeboat('Cluster', namespace, backup.spec.cluster.name));
  const store = effectiveObjectStore(backup, cluster);
  if (store) return store;
  const name = backup.spec.cluster.name;
  return cluster
    ? `neither the Backup nor Cluster ${name} names an objectStore`
    : `Cluster ${name} does not exist and the Backup names no objectStore`;
}

export interface LeftoverOptions extends AbortOptions, DesyncReleaseOptions {
  /** Default the one S3 factory; tests pass a fake. */
  readonly s3Client?: typeof createS3Client;
}

export function backupLeftovers(kube: LeftoverKube, log: Logger, opts: LeftoverOptions = {}): ReleaseLeftovers {
  return async (stored) => {
    const desync = await releaseDesync(kube, stored, log, opts);
    await releaseMemberLease(kube, stored, log);
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
  // The worker records where it writes before its upload begins; without that record nothing was uploaded.
  const recorded = stored.status?.location;
  if (!recorded) return undefined;
  const { namespace = 'default', name } = stored.metadata;
  const where = `s3://${recorded.bucket}/${recorded.archiveKey}`;
  try {
    const store = await storeOf(kube, stored);
    const archive = { bucket: recorded.bucket, key: recorded.archiveKey };
    if (typeof store === 'string') return `an unfinished upload of ${where} may remain (${store}); ${LIFECYCLE_HINT}`;
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
    log.warn({ namespace, name, object: where, err: why }, 'cannot clean up after a dead backup worker');
    return `an unfinished upload of ${where} may remain (${why}); ${LIFECYCLE_HINT}`;
  }
}

/** Where the dead worker's member Lease is, from its record; undefined when it never held one. */
async function memberOf(
  kube: LeftoverKube,
  stored: StoredBackup,
): Promise<{ namespace: string; clusterUid: string; instance: string } | undefined> {
  const instance = stored.status?.instanceName;
  const namespace = stored.metadata.namespace ?? 'default';
  const clusterName = (stored.spec as { cluster?: { name?: string } } | undefined)?.cluster?.name;
  if (!instance || !clusterName) return undefined;
  const cluster = (await kube.getLifeboat('Cluster', namespace, clusterName)) as
    { metadata?: { uid?: string } } | undefined;
  const clusterUid = cluster?.metadata?.uid;
  return clusterUid ? { namespace, clusterUid, instance } : undefined;
}

/** The member Lease the dead worker held; only after its member was put back (releaseDesync). */
async function releaseMemberLease(kube: LeftoverKube, stored: StoredBackup, log: Logger): Promise<void> {
  const { getLease, deleteLease } = kube;
  if (!getLease || !deleteLease) return;
  const { namespace = 'default', name = '', uid } = stored.metadata;
  try {
    const where = await memberOf(kube, stored);
    if (!where) return;
    const api = { getLease: getLease.bind(kube), deleteLease: deleteLease.bind(kube) };
    if (await releaseDeadHolder(api, where, memberHolder(namespace, name, uid))) {
      log.info({ namespace, name, instance: where.instance }, 'released the member Lease of a dead backup worker');
    }
  } catch (err) {
    // It expires on its own after its duration.
    log.warn({ namespace, name, err: messageOf(err) }, 'cannot release the member Lease of a dead backup worker');
  }
}
