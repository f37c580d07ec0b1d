// The runner's work queue: one entry per key however often it is added, never the same key twice
// at once, retries with per-key exponential backoff, bounded concurrency (client-go's workqueue).
import { backoffMs, systemClock, type Clock, type TimerHandle } from './clock.js';

/** What a handler asks for after a run that did not fail: nothing, or another run later. */
export type WorkResult = { readonly requeueAfterMs?: number } | undefined | void;

export type WorkHandler = (key: string) => Promise<WorkResult>;

export interface WorkQueueOptions {
  readonly handler: WorkHandler;
  /** Keys handled at the same time; default 2. */
  readonly concurrency?: number;
  /** First retry after a failure; doubles per consecutive failure of the key. Default 1 s. */
  readonly baseRetryMs?: number;
  /** Longest wait between retries of one key. Default 5 minutes. */
  readonly maxRetryMs?: number;
  readonly clock?: Clock;
  /** Told of each failed run and when the key runs again. */
  readonly onError?: (key: string, err: unknown, retryInMs: number) => void;
}

interface Delayed {
  readonly at: number;
  readonly timer: TimerHandle;
}

export class WorkQueue {
  private readonly ready: string[] = [];
  /** Keys waiting to run; a key re-added while it runs waits here and runs once more after. */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly delayed = new Map<string, Delayed>();
  private readonly failures = new Map<string, number>();
  private idleWaiters: (() => void)[] = [];
  private shuttingDown = false;
  private readonly clock: Clock;
  private readonly concurrency: number;

  constructor(private readonly options: WorkQueueOptions) {
    this.clock = options.clock ?? systemClock;
    this.concurrency = Math.max(1, options.concurrency ?? 2);
  }

  /** Queues the key unless it is already waiting. */
  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (!this.processing.has(key)) this.ready.push(key);
    this.pump();
  }

  /** Queues the key after `ms`; of several pending delays for one key, the earliest wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.clock.now() + ms;
    const pending = this.delayed.get(key);
    if (pending && pending.at <= at) return;
    pending?.timer.cancel();
    const timer = this.clock.after(ms, () => {
      this.delayed.delete(key);
      this.add(key);
    });
    this.delayed.set(key, { at, timer });
  }

  /** Consecutive failures of the key so far. */
  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Keys waiting to run now, running, and waiting for a delay. */
  get size(): { readonly ready: number; readonly processing: number; readonly delayed: number } {
    return { ready: this.ready.length, processing: this.processing.size, delayed: this.delayed.size };
  }

  /** Resolves once nothing is ready or running (delayed keys may still be pending). */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Takes no new work, drops what waits, and resolves once the runs in progress have ended. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    for (const pending of this.delayed.values()) pending.timer.cancel();
    this.delayed.clear();
    this.ready.length = 0;
    this.dirty.clear();
    await this.whenIdle();
  }

  private isIdle(): boolean {
    return this.ready.length === 0 && this.processing.size === 0;
  }

  private pump(): void {
    while (this.processing.size < this.concurrency && this.ready.length > 0) {
      const key = this.ready.shift() as string;
      this.dirty.delete(key);
      this.processing.add(key);
      void this.run(key);
    }
    if (this.isIdle()) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  private async run(key: string): Promise<void> {
    try {
      const result = await this.options.handler(key);
      this.failures.delete(key);
      const after = result?.requeueAfterMs;
      if (after !== undefined) this.addAfter(key, after);
    } catch (err) {
      const failures = this.failuresOf(key) + 1;
      this.failures.set(key, failures);
      const retryIn = backoffMs(failures, this.options.baseRetryMs ?? 1_000, this.options.maxRetryMs ?? 300_000);
      this.options.onError?.(key, err, retryIn);
      this.addAfter(key, retryIn);
    } finally {
      this.processing.delete(key);
      if (this.dirty.has(key)) this.ready.push(key);
      this.pump();
    }
  }
}
