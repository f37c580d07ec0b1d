// At most one running backup per Galera member: a backup worker takes the member's coordination
// Lease before it desyncs or dumps it, renews it while it runs, and deletes it at the end. Creating
// a Lease is atomic in the API server, so of two workers choosing one member at the same moment
// exactly one gets it; the other chooses another Synced member or waits. A Lease whose holder died
// is taken over once it has gone unrenewed for its duration (a replace guarded by its
// resourceVersion). docs/runner.md, "One backup per Galera member".
import { createHash } from 'node:crypto';
import type { KubeRestCalls } from '../../lib/kube-rest.js';
import { KubeConflictError } from '../../lib/kube-errors.js';
import type { LeaseRecord } from '../../lib/kube-lease.js';
import type { Logger } from '../../lib/logger.js';
import { messageOf } from '../../lib/error-message.js';

export type MemberLeaseApi = Pick<KubeRestCalls, 'getLease' | 'createLease' | 'replaceLease' | 'deleteLease'>;

export const MEMBER_LEASE_SECONDS = 60;

/** Who holds a member for a Backup: `<namespace>/<backup>/<uid>`. */
export function memberHolder(namespace: string, backup: string, uid: string | undefined): string {
  return `${namespace}/${backup}/${uid ?? ''}`;
}

/** `lifeboat-member-<hash>`: one per member of one Cluster (its uid, so a re-created Cluster starts afresh). */
export function memberLeaseName(clusterUid: string, instance: string): string {
  const digest = createHash('sha256').update(`${clusterUid}/${instance}`).digest('hex');
  return `lifeboat-member-${digest.slice(0, 20)}`;
}

export interface MemberLeaseOptions {
  readonly api: MemberLeaseApi;
  /** The Cluster's namespace: the worker may write Leases there. */
  readonly namespace: string;
  readonly clusterUid: string;
  /** Who holds it: `<namespace>/<backup>/<uid>`. */
  readonly holder: string;
  readonly log: Logger;
  readonly durationSeconds?: number;
  readonly now?: () => number;
}

export interface MemberHold {
  readonly instance: string;
  /** Stops renewing and deletes the Lease (best effort). */
  release(): Promise<void>;
}

function seconds(opts: MemberLeaseOptions): number {
  return opts.durationSeconds ?? MEMBER_LEASE_SECONDS;
}

function nowOf(opts: MemberLeaseOptions): number {
  return (opts.now ?? Date.now)();
}

/** Held by someone else, and renewed within its duration. */
function heldByOther(lease: LeaseRecord | undefined, opts: MemberLeaseOptions): boolean {
  if (!lease || lease.holderIdentity === '' || lease.holderIdentity === opts.holder) return false;
  const renewed = lease.renewTimeMs ?? lease.acquireTimeMs ?? 0;
  return nowOf(opts) - renewed <= Math.max(lease.leaseDurationSeconds, 1) * 1000;
}

/** The members another backup holds now. */
export async function busyMembers(opts: MemberLeaseOptions, instances: readonly string[]): Promise<Set<string>> {
  const leases = await Promise.all(
    instances.map((i) => opts.api.getLease(opts.namespace, memberLeaseName(opts.clusterUid, i))),
  );
  return new Set(instances.filter((_, k) => heldByOther(leases[k], opts)));
}

function record(opts: MemberLeaseOptions, resourceVersion: string | undefined, transitions = 0): LeaseRecord {
  const now = nowOf(opts);
  return {
    holderIdentity: opts.holder,
    leaseDurationSeconds: seconds(opts),
    acquireTimeMs: now,
    renewTimeMs: now,
    leaseTransitions: transitions,
    resourceVersion,
  };
}

/** Creates the Lease, or takes over one whose holder stopped renewing; undefined when another holds it. */
async function acquire(opts: MemberLeaseOptions, name: string): Promise<LeaseRecord | undefined> {
  try {
    return await opts.api.createLease(opts.namespace, name, record(opts, undefined));
  } catch (err) {
    if (!(err instanceof KubeConflictError)) throw err;
  }
  const existing = await opts.api.getLease(opts.namespace, name);
  if (!existing || heldByOther(existing, opts)) return undefined;
  try {
    return await opts.api.replaceLease(
      opts.namespace,
      name,
      record(opts, existing.resourceVersion, existing.leaseTransitions + 1),
    );
  } catch (err) {
    if (err instanceof KubeConflictError) return undefined; // another worker took it first
    throw err;
  }
}

/** Takes the member's Lease and renews it until released; undefined when another backup holds it. */
export async function holdMember(opts: MemberLeaseOptions, instance: string): Promise<MemberHold | undefined> {
  const name = memberLeaseName(opts.clusterUid, instance);
  const first = await acquire(opts, name);
  if (!first) return undefined;
  let version = first.resourceVersion;
  let renewing: Promise<void> | undefined;
  const renew = async (): Promise<void> => {
    try {
      version = (
        await opts.api.replaceLease(opts.namespace, name, {
          ...record(opts, version),
          acquireTimeMs: first.acquireTimeMs,
        })
      ).resourceVersion;
    } catch (err) {
      opts.log.warn({ lease: name, instance, err: messageOf(err) }, 'member Lease not renewed');
    }
  };
  const timer = setInterval(
    () => (renewing ??= renew().finally(() => (renewing = undefined))),
    (seconds(opts) * 1000) / 3,
  );
  timer.unref();
  return {
    instance,
    async release(): Promise<void> {
      clearInterval(timer);
      await renewing;
      // Not one another worker took over after this one stopped renewing (a long pause).
      const now = await opts.api.getLease(opts.namespace, name).catch(() => undefined);
      if (now && now.holderIdentity !== opts.holder) return;
      await opts.api.deleteLease(opts.namespace, name).catch((err: unknown) => {
        opts.log.warn({ lease: name, instance, err: messageOf(err) }, 'member Lease not deleted; it expires');
      });
    },
  };
}

/**
 * The runner, cleaning up after a backup worker it judged dead, deletes the member's Lease that
 * worker held, so the next Backup of that member need not wait out the Lease's duration. A Lease
 * another holder has is left alone.
 */
export async function releaseDeadHolder(
  api: Pick<MemberLeaseApi, 'getLease' | 'deleteLease'>,
  where: { readonly namespace: string; readonly clusterUid: string; readonly instance: string },
  holder: string,
): Promise<boolean> {
  const name = memberLeaseName(where.clusterUid, where.instance);
  const lease = await api.getLease(where.namespace, name);
  if (lease?.holderIdentity !== holder) return false;
  await api.deleteLease(where.namespace, name);
  return true;
}
