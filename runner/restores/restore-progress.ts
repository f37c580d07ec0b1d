// How far a running restore is: the bytes of the archive read in the current step (a Restore's
// verifying, then applying, for `kubectl get restores`; restore-datadir's extracting, for its log),
// handed to a writer at most every PROGRESS_EVERY_MS. Progress is advisory: a write that fails is
// logged and the restore goes on.
import type { Static } from '@sinclair/typebox';
import type { RESTORE_STEPS, RestoreProgress } from '../../crds/restore-types.js';
import type { Logger } from '../../lib/logger.js';
import { messageOf } from '../../lib/error-message.js';
import { systemClock, type Clock, type TimerHandle } from '../reconcile/clock.js';

export type RestoreStep = (typeof RESTORE_STEPS)[number];
/** What a Restore's status holds: Progress<RestoreStep>. */
export type ProgressRecord = Static<typeof RestoreProgress>;

export interface Progress<S extends string> {
  readonly step: S;
  readonly bytesRead: number;
  readonly size: number;
  readonly percent: number;
  readonly updatedAt: string;
}

/** Often enough to watch, rare enough that a long restore costs the API server little. */
export const PROGRESS_EVERY_MS = 10_000;

export interface ProgressOptions<S extends string> {
  /** The archive's size, from metadata.json. */
  readonly size: number;
  /** Writes one record; resolves once written (or found not to be wanted any more). */
  readonly write: (progress: Progress<S>) => Promise<void>;
  readonly log: Logger;
  readonly everyMs?: number;
  readonly clock?: Clock;
}

export function percentOf(bytes: number, size: number): number {
  if (size <= 0) return 100;
  return Math.min(100, Math.floor((bytes * 100) / size));
}

export class ProgressReporter<S extends string> {
  private step: S | undefined;
  private bytes = 0;
  private written: string | undefined;
  private timer: TimerHandle | undefined;
  private writing: Promise<void> = Promise.resolve();
  private inFlight = false;
  /** Figures changed while a write was under way: written when it ends. */
  private again = false;
  private stopped = false;
  private ticking = true;
  private readonly clock: Clock;

  constructor(private readonly opts: ProgressOptions<S>) {
    this.clock = opts.clock ?? systemClock;
  }

  /**
   * Starts a step, written at once (so a watcher sees applying begin right after the verification
   * ended); returns the byte counter its read calls with the bytes read so far.
   */
  begin(step: S): (bytesRead: number) => void {
    this.step = step;
    this.bytes = 0;
    this.flush();
    this.schedule();
    return (bytesRead) => {
      if (this.step === step) this.bytes = bytesRead;
    };
  }

  /**
   * No more writes; resolves once the writes under way have ended, so that a final status comes
   * after them. `final`: first write the latest figures (a failed restore keeps them, saying how
   * far it got).
   */
  async stop(opts: { final?: boolean } = {}): Promise<void> {
    this.ticking = false;
    this.timer?.cancel();
    await this.settled();
    if (opts.final) {
      this.flush();
      await this.settled();
    }
    this.stopped = true;
  }

  private async settled(): Promise<void> {
    while (this.inFlight) await this.writing;
  }

  private schedule(): void {
    this.timer?.cancel();
    this.timer = this.clock.after(this.opts.everyMs ?? PROGRESS_EVERY_MS, () => {
      this.flush();
      if (this.ticking) this.schedule();
    });
  }

  /**
   * Writes the latest figures unless they are written already. One write at a time: figures that
   * come while one is under way are written when it ends, so a slow API server gets no pile-up.
   */
  private flush(): void {
    if (this.stopped || this.step === undefined) return;
    if (this.inFlight) {
      this.again = true;
      return;
    }
    const { size } = this.opts;
    const key = `${this.step}:${this.bytes}`;
    if (key === this.written) return;
    const record: Progress<S> = {
      step: this.step,
      bytesRead: this.bytes,
      size,
      percent: percentOf(this.bytes, size),
      updatedAt: new Date(this.clock.now()).toISOString(),
    };
    this.written = key;
    this.inFlight = true;
    this.writing = this.opts
      .write(record)
      .catch((err: unknown) => {
        this.opts.log.warn({ err: messageOf(err) }, 'could not write the restore progress; the restore goes on');
      })
      .finally(() => {
        this.inFlight = false;
        if (!this.again) return;
        this.again = false;
        this.flush();
      });
  }
}
