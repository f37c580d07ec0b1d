// Time as the runner's control loops see it, so tests can drive queues and leases with a fake clock.

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Runs `fn` once after `ms`; the timer never keeps the process alive on its own. */
  after(ms: number, fn: () => void): TimerHandle;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  after: (ms, fn) => {
    const timer = setTimeout(fn, Math.max(0, ms)).unref();
    return { cancel: () => clearTimeout(timer) };
  },
};

/** Exponential backoff from `baseMs`, doubling per failure, capped at `maxMs`. */
export function backoffMs(failures: number, baseMs: number, maxMs: number): number {
  if (failures <= 0) return 0;
  return Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 30));
}
