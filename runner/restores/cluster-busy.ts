// A Cluster is never backed up and restored at once, nor restored twice at once: a Backup taken
// while a restore runs would catch it half-applied, and two restores would both find the target
// empty and both report success. New work on a busy Cluster waits (pending, Ready saying why).
// Asked under the Cluster's claim lock, from fresh reads: the informer cache may not show a claim
// made a moment ago.
import type { LifeboatKind } from '../../crds/kinds.js';
import type { Blocked } from '../reconcile/run-once-reconciler.js';
import { REASONS } from '../status/conditions.js';

export interface BusyReader {
  getLifeboat(kind: LifeboatKind, namespace: string, name: string): Promise<unknown>;
  listLifeboat(kind: LifeboatKind, namespace?: string): Promise<{ readonly items: readonly unknown[] }>;
}

interface Peer {
  readonly metadata?: { readonly name?: string; readonly namespace?: string };
  readonly spec?: { readonly cluster?: { readonly name?: string } };
  readonly status?: { readonly phase?: string; readonly bootstrap?: { readonly phase?: string } };
}

export interface ClusterBusy {
  forBackup(namespace: string, cluster: string): Promise<Blocked | undefined>;
  forRestore(namespace: string, cluster: string): Promise<Blocked | undefined>;
  forBootstrap(namespace: string, cluster: string): Promise<Blocked | undefined>;
}

const because = (message: string | undefined): Blocked | undefined => (message ? { message } : undefined);

export function clusterBusy(kube: BusyReader): ClusterBusy {
  const running = async (kind: 'Backup' | 'Restore', ns: string, cluster: string): Promise<string | undefined> => {
    const { items } = await kube.listLifeboat(kind, ns);
    const found = (items as Peer[]).find((o) => o.spec?.cluster?.name === cluster && o.status?.phase === 'running');
    return found ? `${kind} ${found.metadata?.name ?? '?'} of Cluster ${cluster} is running` : undefined;
  };
  const bootstrapping = async (ns: string, cluster: string): Promise<string | undefined | 'missing'> => {
    const own = (await kube.getLifeboat('Cluster', ns, cluster)) as Peer | undefined;
    if (!own) return 'missing';
    return own.status?.bootstrap?.phase === 'running'
      ? `Cluster ${cluster} is being bootstrapped from a backup`
      : undefined;
  };
  return {
    forBackup: async (ns, cluster) => {
      const boot = await bootstrapping(ns, cluster);
      return because((await running('Restore', ns, cluster)) ?? (boot === 'missing' ? undefined : boot));
    },
    forRestore: async (ns, cluster) => {
      const boot = await bootstrapping(ns, cluster);
      // A GitOps tool may apply the Restore before its Cluster: it waits rather than fails, and a
      // Warning Event tells whoever mistyped the name.
      if (boot === 'missing') {
        return {
          message: `Cluster ${cluster} does not exist in namespace ${ns}; the Restore waits for it: create it, or fix spec.cluster.name`,
          reason: REASONS.WaitingForCluster,
          warning: true,
        };
      }
      return because(boot ?? (await running('Restore', ns, cluster)) ?? (await running('Backup', ns, cluster)));
    },
    forBootstrap: async (ns, cluster) =>
      because((await running('Restore', ns, cluster)) ?? (await running('Backup', ns, cluster))),
  };
}
