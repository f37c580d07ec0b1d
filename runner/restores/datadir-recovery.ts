// restore-datadir's API mode: the backup a Cluster's spec.bootstrap.recovery names, resolved the
// same way the bootstrap worker resolves it (restore-source.ts), for an init container of the
// Cluster's database pod. The archive is verified as it is extracted.
import type { KubeClient } from '../../lib/kube-client.js';
import { jobCredentials, decodeAs } from '../worker/worker-inputs.js';
import { BackupIdNotFoundError, ClusterNotFoundError, NoBackupsFoundError } from '../work-failures.js';
import type { ResolvedBackup } from './datadir-restore.js';
import { backupFromStore } from './datadir-source.js';
import { bootstrapChoiceTime, refusePointInTime, resolveRestoreSource } from './restore-source.js';

export interface ClusterRef {
  readonly namespace: string;
  readonly name: string;
}

/**
 * The backup the Cluster's spec.bootstrap.recovery names, chosen as its bootstrap worker chooses
 * it (the newest of either kind complete when the Cluster was created); `backupID` (a flag)
 * overrides its own.
 */
export async function backupFromCluster(
  kube: Pick<KubeClient, 'getLifeboat' | 'readSecret'>,
  ref: ClusterRef,
  opts: { backupID?: string | undefined; signal?: AbortSignal; env?: NodeJS.ProcessEnv },
): Promise<ResolvedBackup> {
  const cluster = decodeAs('Cluster', await kube.getLifeboat('Cluster', ref.namespace, ref.name));
  if (!cluster) {
    throw new ClusterNotFoundError(
      `Cluster ${ref.namespace}/${ref.name} does not exist or does not pass its schema; fix --from-cluster`,
    );
  }
  const recovery = cluster.spec.bootstrap?.recovery;
  if (!recovery) {
    throw new NoBackupsFoundError(
      `Cluster ${ref.namespace}/${ref.name} has no spec.bootstrap.recovery; add one naming a backup or a source, or give the object store by flags`,
    );
  }
  refusePointInTime(recovery, `Cluster ${ref.namespace}/${ref.name}: spec.bootstrap.recovery`);
  if (opts.backupID !== undefined && recovery.backup) {
    throw new BackupIdNotFoundError(
      `--backup-id chooses among the backups of a source, but Cluster ${ref.namespace}/${ref.name}'s spec.bootstrap.recovery names Backup ${recovery.backup.name}: drop --backup-id, or give the object store by flags`,
    );
  }
  const wanted = opts.backupID === undefined ? recovery : { ...recovery, backupID: opts.backupID };
  const source = await resolveRestoreSource({
    kube,
    cluster,
    recovery: wanted,
    completedBy: bootstrapChoiceTime(cluster),
    s3: jobCredentials(opts.env ?? process.env).s3,
    signal: opts.signal,
  });
  const found = backupFromStore(source);
  // The bootstrap worker takes the same backup (the newest of either kind); a logical one is its to
  // apply, into the server that starts on the empty data directory this leaves.
  if (opts.backupID !== undefined) return found;
  return { ...found, appliedByRunner: `the runner's bootstrap of Cluster ${ref.namespace}/${ref.name}` };
}
