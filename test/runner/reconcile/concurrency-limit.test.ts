import assert from 'node:assert/strict';
import { ConcurrencyLimit } from '../../../runner/reconcile/concurrency-limit.js';

describe('concurrency limit', () => {
  it('runs at most `limit` calls at once, all of them, in order, also when some fail', async () => {
    const limit = new ConcurrencyLimit(3);
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const calls = Array.from({ length: 20 }, (_, i) =>
      limit.run(async () => {
        started.push(i);
        running++;
        most = Math.max(most, running);
        await new Promise((resolve) => setTimeout(resolve, 2));
        running--;
        if (i % 5 === 0) throw new Error(`call ${i}`);
        return i;
      }),
    );
    const results = await Promise.allSettled(calls);
    assert.equal(most, 3);
    assert.deepEqual(
      started,
      Array.from({ length: 20 }, (_, i) => i),
    );
    assert.equal(results.filter((r) => r.status === 'rejected').length, 4);
    assert.equal(running, 0);
  });

  it('is busy while a call runs or waits, and idle once all have ended', async () => {
    const limit = new ConcurrencyLimit(1);
    assert.equal(limit.busy, false);
    let release = (): void => undefined;
    const first = limit.run(() => new Promise<void>((resolve) => (release = resolve)));
    const second = limit.run(async () => undefined);
    assert.equal(limit.busy, true);
    release();
    await first;
    assert.equal(limit.busy, true, 'the second still has its turn to come');
    await second;
    assert.equal(limit.busy, false);
  });
});
