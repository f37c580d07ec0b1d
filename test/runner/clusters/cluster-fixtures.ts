// Clusters and Backups for the freshness tests: a Cluster created at CREATED, Backups by phase and stoppedAt.
import type { Backup, Cluster } from '../../../crds/kinds.js';
import { CONDITION_TYPES } from '../../../runner/status/conditions.js';

export const CREATED = '2026-01-01T00:00:00Z';
export const HOUR = 3600_000;

export function cluster(rpo?: string, name = 'shop', namespace = 'prod'): Cluster {
  return {
    apiVersion: 'lifeboat.dev/v1alpha1',
    kind: 'Cluster',
    metadata: { name, namespace, creationTimestamp: CREATED } as Cluster['metadata'],
    spec: {
      engine: 'mariadb',
      topology: 'standalone',
      instances: { static: [{ name: 'db-0', host: 'db' }] },
      credentials: { secretRef: { name: 'db' } },
      ...(rpo === undefined ? {} : { backup: { rpo } }),
    },
  };
}

type Phase = 'pending' | 'running' | 'completed' | 'failed';

export function backup(
  name: string,
  phase: Phase,
  stoppedAt?: string,
  more: { cluster?: string; namespace?: string; expired?: boolean } = {},
): Backup {
  const conditions = more.expired
    ? [
        {
          type: CONDITION_TYPES.Expired,
          status: 'True' as const,
          lastTransitionTime: CREATED,
          reason: 'Expired',
          message: 'x',
        },
      ]
    : undefined;
  return {
    apiVersion: 'lifeboat.dev/v1alpha1',
    kind: 'Backup',
    metadata: { name, namespace: more.namespace ?? 'prod' },
    spec: { cluster: { name: more.cluster ?? 'shop' } },
    status: { phase, ...(stoppedAt ? { stoppedAt } : {}), ...(conditions ? { conditions } : {}) },
  };
}
