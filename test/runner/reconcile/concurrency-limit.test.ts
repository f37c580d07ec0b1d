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
});
