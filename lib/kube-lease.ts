// The Lease as leader election sees it, and its conversion to and from coordination.k8s.io/v1.
import type { V1Lease, V1MicroTime } from '@kubernetes/client-node';
import { clientNode } from './client-node.js';

/** A coordination.k8s.io/v1 Lease as leader election reads it; times in epoch milliseconds. */
export interface LeaseRecord {
  /** Empty when nobody holds the lease (released). */
  readonly holderIdentity: string;
  readonly leaseDurationSeconds: number;
  readonly acquireTimeMs?: number;
  readonly renewTimeMs?: number;
  readonly leaseTransitions: number;
  /** The version read; a replace with it fails with KubeConflictError if the Lease changed since. */
  readonly resourceVersion?: string;
  /** Differs once the Lease was deleted: a replace of a deleted Lease creates a new one. */
  readonly uid?: string;
}

export function toLeaseRecord(lease: V1Lease): LeaseRecord {
  const spec = lease.spec ?? {};
  return {
    holderIdentity: spec.holderIdentity ?? '',
    leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
    acquireTimeMs: spec.acquireTime ? new Date(spec.acquireTime).getTime() : undefined,
    renewTimeMs: spec.renewTime ? new Date(spec.renewTime).getTime() : undefined,
    leaseTransitions: spec.leaseTransitions ?? 0,
    resourceVersion: lease.metadata?.resourceVersion,
    ...(lease.metadata?.uid ? { uid: lease.metadata.uid } : {}),
  };
}

/** The Lease object, its times written by `time` (client-node's V1MicroTime, or a string). */
function leaseObject<T>(namespace: string, name: string, record: LeaseRecord, time: (ms: number) => T) {
  const at = (ms: number | undefined): T | undefined => (ms === undefined ? undefined : time(ms));
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace, ...(record.resourceVersion ? { resourceVersion: record.resourceVersion } : {}) },
    spec: {
      holderIdentity: record.holderIdentity,
      leaseDurationSeconds: record.leaseDurationSeconds,
      acquireTime: at(record.acquireTimeMs),
      renewTime: at(record.renewTimeMs),
      leaseTransitions: record.leaseTransitions,
    },
  };
}

// MicroTime: the API server wants six fractional digits, which only V1MicroTime serializes.
export function toLease(namespace: string, name: string, record: LeaseRecord): V1Lease {
  return leaseObject(namespace, name, record, (ms): V1MicroTime => new (clientNode().V1MicroTime)(ms));
}

/** MicroTime as JSON: RFC 3339 with six fractional digits, which the API server requires. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}

/** The Lease as plain JSON, for a transport without client-node's serializer (kube-rest.ts). */
export function leaseBody(namespace: string, name: string, record: LeaseRecord): object {
  return leaseObject(namespace, name, record, microTime);
}
