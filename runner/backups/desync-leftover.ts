// A Galera member a dead worker left desynced: the worker records SourceDesynced=True before it
// sets wsrep_desync=ON, so the runner knows which member to put back when it fails the Backup.
// A member left desynced stays out of flow control and can fall behind without anyone noticing.
import type { Backup, Cluster } from '../../crds/kinds.js';
import type { LifeboatList } from '../../lib/kube-client.js';
import type { Logger } from '../../lib/logger.js';
import { connectInstance } from '../engine/db-connection.js';
import type { DbInstance } from '../engine/instance-list.js';
import { restoreDesync } from '../engine/galera-desync.js';
import type { StoredBackup } from '../executors/executor.js';
import { TimeoutError } from '../work-failures.js';
import { databaseCredentials, decodeAs, instancesOf, type WorkerKube } from '../worker/worker-inputs.js';
import { getCondition, type ConditionInput } from '../status/conditions.js';

export type DesyncKube = Pick<WorkerKube, 'getLifeboat' | 'readSecret' | 'listPods'> & {
  listLifeboat(kind: 'Backup', namespace: string): Promise<LifeboatList>;
};

export interface DesyncOutcome {
  readonly message: string;
  readonly condition?: ConditionInput;
}

export interface DesyncReleaseOptions {
  /** How long to wait for Synced after wsrep_desync=OFF. Default 60 s: OFF is what matters. */
  readonly syncTimeoutMs?: number;
}

const FIX = 'run SET GLOBAL wsrep_desync=OFF on it';

function restored(message: string): ConditionInput {
  return { type: 'SourceDesynced', status: 'False', reason: 'DesyncRestored', message };
}

function desyncedBy(backup: unknown, instanceName: string): boolean {
  const b = backup as StoredBackup;
  return (
    b.status?.phase === 'running' &&
    b.status.instanceName === instanceName &&
    getCondition(b.status, 'SourceDesynced')?.status === 'True'
  );
}

/** Another running Backup of the same Cluster that desynced the same member: it puts it back itself. */
async function holder(kube: DesyncKube, backup: Backup, instanceName: string): Promise<string | undefined> {
  const namespace = backup.metadata.namespace ?? 'default';
  const { items } = await kube.listLifeboat('Backup', namespace);
  const other = items.find((item) => {
    const o = item as StoredBackup;
    const spec = o.spec as { cluster?: { name?: string } } | undefined;
    return (
      o.metadata.name !== backup.metadata.name &&
      spec?.cluster?.name === backup.spec.cluster.name &&
      desyncedBy(o, instanceName)
    );
  });
  return (other as StoredBackup | undefined)?.metadata.name;
}

/** The member to put back and how to reach it, or why it cannot be. */
async function memberOf(
  kube: DesyncKube,
  backup: Backup,
  instanceName: string,
): Promise<{ instance: DbInstance; cluster: Cluster } | { why: string }> {
  const namespace = backup.metadata.namespace ?? 'default';
  const cluster = decodeAs('Cluster', await kube.getLifeboat('Cluster', namespace, backup.spec.cluster.name));
  if (!cluster) return { why: `Cluster ${backup.spec.cluster.name} is gone` };
  const instance = (await instancesOf(kube, cluster)).find((i) => i.name === instanceName);
  if (!instance) return { why: `it is no longer a member of Cluster ${cluster.metadata.name}` };
  return { instance, cluster };
}

/** wsrep_desync=OFF and a short wait for Synced; what to say, and the condition when it is OFF. */
async function putBack(
  kube: DesyncKube,
  member: { instance: DbInstance; cluster: Cluster },
  log: Logger,
  opts: DesyncReleaseOptions,
): Promise<DesyncOutcome> {
  const name = member.instance.name;
  const conn = await connectInstance(member.instance, await databaseCredentials(kube, member.cluster));
  let failed: Error | undefined;
  try {
    failed = await restoreDesync(conn, name, {
      instanceName: name,
      logger: log,
      syncTimeoutMs: opts.syncTimeoutMs ?? 60_000,
    });
  } finally {
    await conn.close();
  }
  // Not Synced in time is still OFF: the member is back in flow control, only catching up.
  if (failed && !(failed instanceof TimeoutError)) return { message: failed.message };
  const message = failed?.message ?? `wsrep_desync was set back OFF on ${name}, which is Synced again`;
  return { message, condition: restored(message) };
}

/** Sets wsrep_desync back OFF on the member a dead worker desynced; undefined when it had not. */
export async function releaseDesync(
  kube: DesyncKube,
  stored: StoredBackup,
  log: Logger,
  opts: DesyncReleaseOptions = {},
): Promise<DesyncOutcome | undefined> {
  const instanceName = stored.status?.instanceName;
  if (!instanceName || !desyncedBy(stored, instanceName)) return undefined;
  const left = `wsrep_desync may still be ON on ${instanceName}`;
  try {
    const backup = decodeAs('Backup', stored);
    if (!backup) return { message: `${left} (the Backup no longer passes its schema); ${FIX}` };
    const other = await holder(kube, backup, instanceName);
    if (other) return { message: `wsrep_desync stays ON on ${instanceName} for Backup ${other}, which runs there` };
    const member = await memberOf(kube, backup, instanceName);
    if ('why' in member) return { message: `${left} (${member.why}); ${FIX}` };
    return await putBack(kube, member, log, opts);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    log.warn({ instance: instanceName, err: why }, 'cannot put back a member a dead backup worker desynced');
    return { message: `${left} (${why}); ${FIX}` };
  }
}
