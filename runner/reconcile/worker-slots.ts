// At most `max` workers (Backups, Restores, bootstraps) run at once under one runner
// (`--max-workers`). The count is what the informer caches show running, plus what this runner
// claimed and the caches may not show yet; claims are taken one at a time, so two never take the
// last slot. Only the leader claims, so one runner's count is the whole count. docs/runner.md.
import { systemClock, type Clock } from './clock.js';
import { KeyedLock } from './keyed-lock.js';

/** How long a claim counts on its own before the informer cache must show it running. */
const CLAIM_VISIBLE_MS = 60_000;

export interface SlotAnswer {
  /** Whether a slot was free (and `claim` ran). */
  readonly free: boolean;
  /** Workers running, this one included when it was claimed. */
  readonly running: number;
}

export class WorkerSlots {
  private readonly lock = new KeyedLock();
  /** uid → when this runner claimed it. */
  private readonly claimed = new Map<string, number>();

  constructor(
    readonly max: number,
    /** The uids of work the caches show running. */
    private readonly running: () => Iterable<string>,
    private readonly clock: Clock = systemClock,
  ) {
    if (!Number.isInteger(max) || max < 1)
      throw new Error(`max workers must be a whole number of at least 1, not ${max}`);
  }

  /** Runs `claim` when a slot is free; `claim` answers whether it claimed the work. */
  async take(uid: string, claim: () => Promise<boolean>): Promise<SlotAnswer> {
    return this.lock.run('slots', async () => {
      const busy = this.busy();
      busy.delete(uid);
      if (busy.size >= this.max) return { free: false, running: busy.size };
      const claimed = await claim();
      if (claimed) this.claimed.set(uid, this.clock.now());
      return { free: true, running: busy.size + (claimed ? 1 : 0) };
    });
  }

  /** The work has ended (or is gone): its slot is free as soon as the caches agree. */
  release(uid: string): void {
    this.claimed.delete(uid);
  }

  private busy(): Set<string> {
    const now = this.clock.now();
    for (const [uid, at] of this.claimed) if (now - at > CLAIM_VISIBLE_MS) this.claimed.delete(uid);
    const busy = new Set(this.running());
    for (const uid of this.claimed.keys()) busy.add(uid);
    return busy;
  }
}
