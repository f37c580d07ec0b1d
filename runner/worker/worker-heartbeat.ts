// A process worker's heartbeat: a coordination.k8s.io/v1 Lease it renews while it runs. A runner
// on another host cannot see the worker's process, so without it a worker whose host died would be
// failed only at the worker deadline, hours later; with it, once the Lease stops being renewed.
// Jobs need none: the runner reads their status from the API.
import { hostname } from 'node:os';
import type { LeaseRecord } from '../../lib/kube-lease.js';
import type { KubeRestCalls } from '../../lib/kube-rest.js';
import type { Logger } from '../../lib/logger.js';
import { KubeConflictError } from '../../lib/kube-errors.js';
import { messageOf } from '../../lib/error-message.js';

/** How the runner tells a process worker which Lease to renew: `<namespace>/<name>`. */
export const HEARTBEAT_LEASE_ENV = 'LIFEBOAT_WORKER_LEASE';
/** …and for how long a renewal counts, in seconds. */
export const HEARTBEAT_SECONDS_ENV = 'LIFEBOAT_WORKER_LEASE_SECONDS';
export const DEFAULT_HEARTBEAT_SECONDS = 60;

export interface HeartbeatLease {
  readonly namespace: string;
  readonly name: string;
  readonly durationSeconds: number;
}

/** The Lease the runner named in the environment, if any. */
export function heartbeatFromEnvironment(env: NodeJS.ProcessEnv): HeartbeatLease | undefined {
  const [namespace, name, ...rest] = (env[HEARTBEAT_LEASE_ENV] ?? '').split('/');
  if (!namespace || !name || rest.length > 0) return undefined;
  const seconds = Number(env[HEARTBEAT_SECONDS_ENV]);
  return { namespace, name, durationSeconds: seconds > 0 ? seconds : DEFAULT_HEARTBEAT_SECONDS };
}

export interface HeartbeatOptions {
  readonly kube: Pick<KubeRestCalls, 'getLease' | 'createLease' | 'replaceLease' | 'deleteLease'>;
  readonly lease: HeartbeatLease;
  readonly log: Logger;
  /**
   * Called once when the worker must presume it has been given up: a runner deleted the Lease, or
   * no renewal got through for two thirds of the lease duration (soon a runner judges it gone and
   * cleans up after it). The worker should then stop its work.
   */
  readonly onLost: (why: string) => void;
  readonly now?: () => number;
}

export interface Heartbeat {
  /** Stops renewing and deletes the Lease (best effort): the worker has written its outcome. */
  stop(): Promise<void>;
}

/**
 * Creates the Lease and renews it every third of its duration until stopped, one renewal at a
 * time. The worker gives itself up (onLost) after two thirds of the duration without a renewal,
 * before any runner would (runners wait the whole duration), so it stops before a runner cleans
 * up after it.
 */
export async function startHeartbeat(opts: HeartbeatOptions): Promise<Heartbeat> {
  const { kube, lease, log } = opts;
  const now = opts.now ?? Date.now;
  const record = (resourceVersion: string | undefined): LeaseRecord => ({
    holderIdentity: `${hostname()}/${process.pid}`,
    leaseDurationSeconds: lease.durationSeconds,
    renewTimeMs: now(),
    leaseTransitions: 0,
    resourceVersion,
  });
  // The API server updates a Lease only at the resourceVersion last read: each write's answer
  // carries the next one.
  const first = await writeFirst(kube, lease, record);
  let version = first.resourceVersion;
  let renewedAt = now();
  let renewing: Promise<void> | undefined;
  let lost = false;
  const deleteLease = (): Promise<void> =>
    kube.deleteLease(lease.namespace, lease.name).catch((err: unknown) => {
      log.warn({ lease: lease.name, err: messageOf(err) }, 'heartbeat Lease not deleted');
    });
  const giveUp = async (why: string): Promise<void> => {
    if (lost) return;
    lost = true;
    clearInterval(timer);
    await deleteLease();
    opts.onLost(why);
  };
  const renew = async (): Promise<void> => {
    try {
      const renewed = await kube.replaceLease(lease.namespace, lease.name, record(version));
      // A replace of a deleted Lease creates it anew (the API server allows that for Leases):
      // a new uid means a runner deleted it, giving this worker up. The new one must go too.
      if (renewed.uid !== first.uid) {
        await (lost ? deleteLease() : giveUp(`${which(lease)} was deleted: a runner gave this worker up`));
        return;
      }
      version = renewed.resourceVersion;
      renewedAt = now();
    } catch (err) {
      if (err instanceof KubeConflictError) {
        version = (await kube.getLease(lease.namespace, lease.name).catch(() => undefined))?.resourceVersion ?? version;
      }
      log.warn({ lease: lease.name, err: messageOf(err) }, 'heartbeat not renewed');
    }
  };
  const tick = (): void => {
    const silentMs = now() - renewedAt;
    if (silentMs > (lease.durationSeconds * 1000 * 2) / 3) {
      void giveUp(
        `${which(lease)} has not been renewed for ${(silentMs / 1000).toFixed(1)} s, and runners give a worker up after ${lease.durationSeconds} s`,
      );
      return;
    }
    renewing ??= renew().finally(() => (renewing = undefined));
  };
  const timer = setInterval(tick, (lease.durationSeconds * 1000) / 3);
  timer.unref();
  return {
    async stop(): Promise<void> {
      clearInterval(timer);
      // A renewal still on its way would create the Lease again after the delete.
      await renewing;
      await deleteLease();
    },
  };
}

function which(lease: HeartbeatLease): string {
  return `its heartbeat Lease ${lease.namespace}/${lease.name}`;
}

/** Creates the Lease, or takes over one left by an earlier start of this same claim. */
async function writeFirst(
  kube: HeartbeatOptions['kube'],
  lease: HeartbeatLease,
  record: (resourceVersion: string | undefined) => LeaseRecord,
): Promise<LeaseRecord> {
  try {
    return await kube.createLease(lease.namespace, lease.name, record(undefined));
  } catch (err) {
    if (!(err instanceof KubeConflictError)) throw err;
    const left = await kube.getLease(lease.namespace, lease.name);
    return kube.replaceLease(lease.namespace, lease.name, record(left?.resourceVersion));
  }
}
