// Leader election on a coordination.k8s.io/v1 Lease, so that of several runners exactly one acts.
// Every write is a replace guarded by the resourceVersion read, so two candidates racing for an
// expired lease cannot both win. A leader that cannot renew for renewDeadline stops acting before
// the lease can expire, so an old and a new leader never act at once (with clocks in step).
import { KubeConflictError, type LeaseRecord } from '../../lib/kube-client.js';
import type { Logger } from '../../lib/logger.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';

export interface LeaseApi {
  getLease(namespace: string, name: string): Promise<LeaseRecord | undefined>;
  createLease(namespace: string, name: string, record: LeaseRecord): Promise<LeaseRecord>;
  replaceLease(namespace: string, name: string, record: LeaseRecord): Promise<LeaseRecord>;
}

export interface LeaderLeaseOptions {
  readonly namespace: string;
  readonly name: string;
  /** Unique per runner process, e.g. `<hostname>_<pid>`. */
  readonly identity: string;
  /** How long a lease stays valid after its last renewal. Default 15. */
  readonly leaseDurationSeconds?: number;
  /** How often the leader renews. Default 5 s, or a third of the lease duration when that is shorter. */
  readonly renewEveryMs?: number;
  /** How often a follower checks whether the lease is free. Default 2 s. */
  readonly retryEveryMs?: number;
  /** A leader that has not renewed for this long stops acting. Default 2/3 of the lease duration. */
  readonly renewDeadlineMs?: number;
  readonly clock?: Clock;
  readonly log: Logger;
  readonly onStartedLeading?: () => void;
  readonly onStoppedLeading?: () => void;
}

/** Whether nobody holds the lease any more: released, or not renewed within its duration. */
export function leaseExpired(record: LeaseRecord, nowMs: number): boolean {
  if (record.holderIdentity === '' || record.renewTimeMs === undefined) return true;
  return record.renewTimeMs + record.leaseDurationSeconds * 1000 < nowMs;
}

const STOP_WAIT_MS = 5_000;

export class LeaderLease {
  private leading = false;
  private lastRenewMs = 0;
  /** The lease as this candidate last wrote it; release() starts from it. */
  private held: LeaseRecord | undefined;
  private timer: TimerHandle | undefined;
  private running = false;
  private inFlight: Promise<void> = Promise.resolve();
  private readonly clock: Clock;
  private readonly durationSeconds: number;

  constructor(
    private readonly api: LeaseApi,
    private readonly options: LeaderLeaseOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.durationSeconds = options.leaseDurationSeconds ?? 15;
  }

  get identity(): string {
    return this.options.identity;
  }

  /**
   * Leading, and renewed within the renew deadline: a renewal stuck on a hung API call must not
   * keep this runner acting while another takes the expired Lease over.
   */
  isLeader(): boolean {
    return this.leading && this.clock.now() - this.lastRenewMs < this.renewDeadlineMs();
  }

  // A renewal period longer than the renew deadline would have the leader stop acting between
  // renewals (a lease of 6 s renewed every 5 s is past its 4 s deadline for a second each time).
  private renewEveryMs(): number {
    return this.options.renewEveryMs ?? Math.min(5_000, (this.durationSeconds * 1000) / 3);
  }

  private renewDeadlineMs(): number {
    return this.options.renewDeadlineMs ?? (this.durationSeconds * 1000 * 2) / 3;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /**
   * Stops competing. With `release` (a clean shutdown) a held lease is handed back at once, so
   * another runner takes over on its next check instead of after the lease duration.
   */
  async stop(options: { release: boolean } = { release: true }): Promise<void> {
    this.running = false;
    this.timer?.cancel();
    // A renewal stuck on the API must not hold up shutdown for ever.
    await Promise.race([this.inFlight, new Promise((resolve) => setTimeout(resolve, STOP_WAIT_MS).unref())]);
    if (options.release && this.leading) await this.release();
    this.setLeading(false);
  }

  private schedule(ms: number): void {
    this.timer = this.clock.after(ms, () => {
      this.inFlight = this.tick();
    });
  }

  private async tick(): Promise<void> {
    try {
      await this.acquireOrRenew();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.options.log.warn({ lease: this.leaseName(), err: message }, 'cannot read or write the leader Lease');
    }
    if (this.leading && this.clock.now() - this.lastRenewMs >= this.renewDeadlineMs()) {
      this.options.log.warn({ lease: this.leaseName() }, 'could not renew the leader Lease in time; stepping down');
      this.setLeading(false);
    }
    if (this.running) {
      this.schedule(this.leading ? this.renewEveryMs() : (this.options.retryEveryMs ?? 2_000));
    }
  }

  private async acquireOrRenew(): Promise<void> {
    const { namespace, name, identity } = this.options;
    const now = this.clock.now();
    const current = await this.api.getLease(namespace, name);
    if (!this.running) return;
    if (!current) {
      const fresh = { ...this.claim(now), leaseTransitions: 0 };
      await this.write(() => this.api.createLease(namespace, name, fresh), now);
      return;
    }
    if (current.holderIdentity === identity) {
      const renewed = { ...current, leaseDurationSeconds: this.durationSeconds, renewTimeMs: now };
      await this.write(() => this.api.replaceLease(namespace, name, renewed), now);
      return;
    }
    if (!leaseExpired(current, now)) {
      if (this.leading) this.options.log.warn({ holder: current.holderIdentity }, 'another runner holds the Lease');
      this.setLeading(false);
      return;
    }
    const takeover = {
      ...this.claim(now),
      leaseTransitions: current.leaseTransitions + 1,
      resourceVersion: current.resourceVersion,
    };
    await this.write(() => this.api.replaceLease(namespace, name, takeover), now);
  }

  private claim(now: number): LeaseRecord {
    return {
      holderIdentity: this.options.identity,
      leaseDurationSeconds: this.durationSeconds,
      acquireTimeMs: now,
      renewTimeMs: now,
      leaseTransitions: 0,
    };
  }

  /** A conflict means another candidate wrote first: not leading, check again on the next tick. */
  private async write(send: () => Promise<LeaseRecord>, now: number): Promise<void> {
    try {
      this.held = await send();
    } catch (err) {
      if (!(err instanceof KubeConflictError)) throw err;
      this.setLeading(false);
      return;
    }
    this.lastRenewMs = now;
    this.setLeading(true);
  }

  private async release(): Promise<void> {
    if (!this.held) return;
    const released = { ...this.held, holderIdentity: '', leaseDurationSeconds: 1, renewTimeMs: this.clock.now() };
    try {
      await this.api.replaceLease(this.options.namespace, this.options.name, released);
      this.options.log.info({ lease: this.leaseName() }, 'released the leader Lease');
    } catch (err) {
      // Someone else holds it already, or the API is unreachable: either way the lease expires.
      const message = err instanceof Error ? err.message : String(err);
      this.options.log.warn({ lease: this.leaseName(), err: message }, 'could not release the leader Lease');
    }
  }

  private setLeading(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    this.options.log.info({ lease: this.leaseName(), identity: this.options.identity, leading }, 'leadership changed');
    if (leading) this.options.onStartedLeading?.();
    else this.options.onStoppedLeading?.();
  }

  private leaseName(): string {
    return `${this.options.namespace}/${this.options.name}`;
  }
}
