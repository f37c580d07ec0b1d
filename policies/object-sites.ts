// Where the shared shapes sit inside each kind, so one policy covers every place a shape appears.
import type { ObjectStoreSpec } from '../crds/object-store-types.js';
import type { RecoverySpec } from '../crds/recovery-types.js';
import type { BackupSpecType } from '../crds/backup-types.js';
import type { Cluster, LifeboatObject } from '../crds/kinds.js';
import type { FieldPath, PolicyContext } from './policy-types.js';

export interface Site<T> {
  readonly path: FieldPath;
  readonly value: T;
}

// Eight object-store policies ask for the same sites of the same object; compute them once.
const storeSites = new WeakMap<LifeboatObject, Site<ObjectStoreSpec>[]>();

export function objectStoreSites(obj: LifeboatObject): Site<ObjectStoreSpec>[] {
  let sites = storeSites.get(obj);
  if (!sites) {
    sites = findObjectStoreSites(obj);
    storeSites.set(obj, sites);
  }
  return sites;
}

function findObjectStoreSites(obj: LifeboatObject): Site<ObjectStoreSpec>[] {
  const sites: Site<ObjectStoreSpec>[] = [];
  const add = (path: FieldPath, value: ObjectStoreSpec | undefined): void => {
    if (value) sites.push({ path, value });
  };
  switch (obj.kind) {
    case 'Cluster':
      add(['spec', 'backup', 'objectStore'], obj.spec.backup?.objectStore);
      obj.spec.externalClusters?.forEach((e, i) => add(['spec', 'externalClusters', i, 'objectStore'], e.objectStore));
      break;
    case 'Backup':
      add(['spec', 'objectStore'], obj.spec.objectStore);
      break;
    case 'ScheduledBackup':
      add(['spec', 'backupTemplate', 'objectStore'], obj.spec.backupTemplate.objectStore);
      break;
    case 'Restore':
      break;
  }
  return sites;
}

/** A Backup spec, or the template a ScheduledBackup stamps Backups from. */
export function backupSpecSite(obj: LifeboatObject): Site<BackupSpecType> | undefined {
  if (obj.kind === 'Backup') return { path: ['spec'], value: obj.spec };
  if (obj.kind === 'ScheduledBackup') return { path: ['spec', 'backupTemplate'], value: obj.spec.backupTemplate };
  return undefined;
}

export interface RecoverySite extends Site<RecoverySpec> {
  /** The Cluster whose externalClusters `source` refers to; undefined when it cannot be found. */
  readonly owner: Cluster | undefined;
}

export function recoverySite(ctx: PolicyContext): RecoverySite | undefined {
  const obj = ctx.object;
  if (obj.kind === 'Cluster') {
    const recovery = obj.spec.bootstrap?.recovery;
    return recovery ? { path: ['spec', 'bootstrap', 'recovery'], value: recovery, owner: obj } : undefined;
  }
  if (obj.kind === 'Restore') {
    return { path: ['spec'], value: obj.spec, owner: ctx.neighbours.cluster(ctx.namespace, obj.spec.cluster.name) };
  }
  return undefined;
}

const owners = new WeakMap<PolicyContext, { cluster: Cluster | undefined }>();

/** The Cluster an object belongs to, looked up among its neighbours (once per review). */
export function ownerCluster(ctx: PolicyContext): Cluster | undefined {
  let owner = owners.get(ctx);
  if (!owner) {
    owner = { cluster: findOwnerCluster(ctx) };
    owners.set(ctx, owner);
  }
  return owner.cluster;
}

function findOwnerCluster(ctx: PolicyContext): Cluster | undefined {
  if (ctx.object.kind === 'Cluster') return ctx.object;
  const name = clusterRefName(ctx.object);
  return name === undefined ? undefined : ctx.neighbours.cluster(ctx.namespace, name);
}

export function clusterRefName(obj: LifeboatObject): string | undefined {
  if (obj.kind === 'Backup' || obj.kind === 'Restore') return obj.spec.cluster.name;
  if (obj.kind === 'ScheduledBackup') return obj.spec.backupTemplate.cluster.name;
  return undefined;
}
