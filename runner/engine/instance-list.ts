// The members of a Cluster as the backup sees them: a name, an address and an ordinal, with one
// writer. Pure: listing pods is the caller's job, so the same mapping serves static lists, pods
// from the API and tests.
import { LABEL_ROLE, ROLE_WRITER } from '../../crds/api-constants.js';
import type { Cluster } from '../../crds/kinds.js';
import { NoHealthySourceError } from '../work-failures.js';

export const DEFAULT_DB_PORT = 3306;

/** One database instance a backup can be taken from. */
export interface DbInstance {
  readonly name: string;
  /** Host name or IP; empty when the pod has no IP yet, which makes it unreachable. */
  readonly host: string;
  readonly port: number;
  /** Position among the members: the list index for static instances, the pod name's suffix for pods. */
  readonly ordinal: number;
  /** Exactly one instance of a list is the writer. */
  readonly writer: boolean;
}

/** What the mapping needs of a pod; the caller lists pods matching instances.selector. */
export interface PodLike {
  readonly name: string;
  readonly podIP?: string | undefined;
  readonly labels?: Readonly<Record<string, string>> | undefined;
}

type ClusterSpec = Cluster['spec'];

/** `host:port`, the way messages name an instance. */
export function address(instance: Pick<DbInstance, 'host' | 'port'>): string {
  return `${instance.host === '' ? '<no address>' : instance.host}:${instance.port}`;
}

/** instances.static in order; the first is the writer. */
export function staticInstances(list: NonNullable<ClusterSpec['instances']['static']>): DbInstance[] {
  return list.map((s, index) => ({
    name: s.name,
    host: s.host,
    port: s.port ?? DEFAULT_DB_PORT,
    ordinal: index,
    writer: index === 0,
  }));
}

/** The StatefulSet-style ordinal of a pod name (`db-2` → 2); -1 when the name has no numeric suffix. */
export function podOrdinal(name: string): number {
  const match = /-(\d+)$/.exec(name);
  return match?.[1] === undefined ? -1 : Number(match[1]);
}

/**
 * Pods as instances, ordered by ordinal (then name). The writer is the pod labelled
 * lifeboat.dev/role=writer (the lowest ordinal if several are), else the first by ordinal.
 * Pods without an IP are kept, so a cluster with a member not yet running still counts it.
 */
export function podInstances(pods: readonly PodLike[], port: number = DEFAULT_DB_PORT): DbInstance[] {
  const sorted = pods
    .map((pod) => ({ pod, ordinal: podOrdinal(pod.name) }))
    .sort((a, b) => a.ordinal - b.ordinal || a.pod.name.localeCompare(b.pod.name));
  const labelled = sorted.findIndex(({ pod }) => pod.labels?.[LABEL_ROLE] === ROLE_WRITER);
  const writerIndex = labelled === -1 ? 0 : labelled;
  return sorted.map(({ pod, ordinal }, index) => ({
    name: pod.name,
    host: pod.podIP ?? '',
    port,
    ordinal,
    writer: index === writerIndex,
  }));
}

/**
 * The instances of a Cluster: instances.static, or the given pods for instances.selector.
 * Throws NoHealthySourceError when there is none to back up from.
 */
export function clusterInstances(clusterName: string, spec: ClusterSpec, pods: readonly PodLike[] = []): DbInstance[] {
  const { instances } = spec;
  const list = instances.static ? staticInstances(instances.static) : podInstances(pods, instances.port);
  if (list.length === 0) {
    throw new NoHealthySourceError(
      `Cluster ${clusterName}: spec.instances.selector matches no pods; check the selector's labels against the database pods`,
    );
  }
  return list;
}

/** The writer of a list made by this module. */
export function writerOf(instances: readonly DbInstance[]): DbInstance {
  const writer = instances.find((i) => i.writer) ?? instances[0];
  if (!writer) throw new NoHealthySourceError('the cluster has no instances to back up from');
  return writer;
}
