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
  };
}

// MicroTime: the API server wants six fractional digits, which only V1MicroTime serializes.
export function toLease(namespace: string, name: string, record: LeaseRecord): V1Lease {
  const micro = (ms: number | undefined): V1MicroTime | undefined =>
    ms === undefined ? undefined : new (clientNode().V1MicroTime)(ms);
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace, resourceVersion: record.resourceVersion },
    spec: {
      holderIdentity: record.holderIdentity,
      leaseDurationSeconds: record.leaseDurationSeconds,
      acquireTime: micro(record.acquireTimeMs),
      renewTime: micro(record.renewTimeMs),
      leaseTransitions: record.leaseTransitions,
    },
  };
}
