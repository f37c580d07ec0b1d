// Which object store a piece of work uses, decided once beside the types and called by the
// mutation, the policies, the Job builder and the workers alike. No I/O.
import type { ObjectStoreSpec } from './object-store-types.js';

interface WithObjectStore {
  readonly spec: { readonly objectStore?: ObjectStoreSpec | undefined };
}

interface ClusterStores {
  readonly spec: {
    readonly backup?: { readonly objectStore?: ObjectStoreSpec | undefined } | undefined;
    readonly externalClusters?:
      readonly { readonly name: string; readonly objectStore?: ObjectStoreSpec }[] | undefined;
  };
}

/**
 * A Backup's own objectStore, else its Cluster's spec.backup.objectStore. The mutating webhook
 * copies the Cluster's into a new Backup, so a stored Backup normally has its own; the fallback
 * serves Backups admitted without the webhook.
 */
export function effectiveObjectStore(
  backup: WithObjectStore,
  cluster: ClusterStores | undefined,
): ObjectStoreSpec | undefined {
  return backup.spec.objectStore ?? cluster?.spec.backup?.objectStore;
}

/** The externalClusters entry named `source`, if the Cluster has one. */
export function externalCluster(
  cluster: ClusterStores,
  source: string,
): { readonly name: string; readonly objectStore?: ObjectStoreSpec } | undefined {
  return cluster.spec.externalClusters?.find((entry) => entry.name === source);
}
