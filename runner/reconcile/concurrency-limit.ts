// At most `limit` of the given async calls run at once; the others wait their turn in order.
// The schedule reconciler sends a minute's ticks through one: a thousand creates at once would
// meet the API server's max-requests-inflight (429) and hold a thousand requests in memory.
export class ConcurrencyLimit {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  /** Whether any call runs or waits its turn. */
  get busy(): boolean {
    return this.running > 0 || this.waiting.length > 0;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      return await work();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}
