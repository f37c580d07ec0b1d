// The work queue with a fake clock: dedupe, one run per key at a time, backoff, delays, shutdown.
import assert from 'node:assert/strict';
import { WorkQueue, type WorkResult } from '../../../runner/reconcile/work-queue.js';
import { FakeClock, settle } from './fakes.js';

/** A handler whose runs wait until the test releases them, recording what ran when. */
class GatedHandler {
  readonly started: string[] = [];
  active = 0;
  maxActive = 0;
  private gates: (() => void)[] = [];

  readonly handle = async (key: string): Promise<WorkResult> => {
    this.started.push(key);
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    await new Promise<void>((resolve) => this.gates.push(resolve));
    this.active--;
    return undefined;
  };

  async releaseAll(): Promise<void> {
    const gates = this.gates;
    this.gates = [];
    for (const open of gates) open();
    await settle();
  }
}

describe('work queue (fake clock)', () => {
  it('runs a key added several times while queued once', async () => {
    const gated = new GatedHandler();
    const queue = new WorkQueue({ handler: gated.handle, concurrency: 1, clock: new FakeClock() });
    queue.add('a');
    queue.add('b');
    queue.add('b');
    queue.add('b');
    await settle();
    await gated.releaseAll();
    await gated.releaseAll();
    assert.deepEqual(gated.started, ['a', 'b']);
  });

  it('runs a key re-added while it runs once more afterwards, never twice at once', async () => {
    const gated = new GatedHandler();
    const queue = new WorkQueue({ handler: gated.handle, concurrency: 4, clock: new FakeClock() });
    queue.add('a');
    await settle();
    queue.add('a');
    queue.add('a');
    await settle();
    assert.equal(gated.active, 1, 'the second run waits for the first');
    await gated.releaseAll();
    assert.deepEqual(gated.started, ['a', 'a']);
    await gated.releaseAll();
    await queue.whenIdle();
    assert.deepEqual(gated.started, ['a', 'a']);
  });

  it('bounds how many keys run at once', async () => {
    const gated = new GatedHandler();
    const queue = new WorkQueue({ handler: gated.handle, concurrency: 2, clock: new FakeClock() });
    for (const key of ['a', 'b', 'c', 'd', 'e']) queue.add(key);
    for (let i = 0; i < 4; i++) await gated.releaseAll();
    await queue.whenIdle();
    assert.equal(gated.maxActive, 2);
    assert.deepEqual([...gated.started].sort(), ['a', 'b', 'c', 'd', 'e']);
  });

  it('retries a failing key with per-key exponential backoff, and forgets it after a success', async () => {
    const clock = new FakeClock();
    const runs: number[] = [];
    let failuresLeft = 3;
    const queue = new WorkQueue({
      clock,
      baseRetryMs: 1_000,
      maxRetryMs: 3_000,
      handler: async () => {
        runs.push(clock.now());
        if (failuresLeft-- > 0) throw new Error('API down');
      },
    });
    const t0 = clock.now();
    queue.add('a');
    await clock.advance(10_000);
    assert.deepEqual(
      runs.map((t) => t - t0),
      [0, 1_000, 3_000, 6_000],
      'waits 1 s, 2 s, then 3 s (the cap)',
    );
    assert.equal(queue.failuresOf('a'), 0);
  });

  it('addAfter runs the key once at the earliest of its delays', async () => {
    const clock = new FakeClock();
    const runs: number[] = [];
    const queue = new WorkQueue({ clock, handler: async () => void runs.push(clock.now()) });
    const t0 = clock.now();
    queue.addAfter('a', 5_000);
    queue.addAfter('a', 2_000);
    queue.addAfter('a', 9_000);
    await clock.advance(20_000);
    assert.deepEqual(
      runs.map((t) => t - t0),
      [2_000],
    );
  });

  it('a handler that asks for a requeue runs again after that long', async () => {
    const clock = new FakeClock();
    const runs: number[] = [];
    const queue = new WorkQueue({
      clock,
      handler: async () => {
        runs.push(clock.now());
        return runs.length < 3 ? { requeueAfterMs: 30_000 } : undefined;
      },
    });
    const t0 = clock.now();
    queue.add('a');
    await clock.advance(120_000);
    assert.deepEqual(
      runs.map((t) => t - t0),
      [0, 30_000, 60_000],
    );
  });

  it('shutdown lets the runs in progress end, drops the rest and takes nothing new', async () => {
    const clock = new FakeClock();
    const gated = new GatedHandler();
    const queue = new WorkQueue({ handler: gated.handle, concurrency: 1, clock });
    queue.add('a');
    queue.add('b');
    queue.addAfter('c', 1_000);
    await settle();
    let stopped = false;
    const stopping = queue.shutdown().then(() => (stopped = true));
    await settle();
    assert.equal(stopped, false, 'waits for the run of a');
    await gated.releaseAll();
    await stopping;
    queue.add('d');
    await clock.advance(5_000);
    assert.deepEqual(gated.started, ['a']);
    assert.deepEqual(clock.pending(), []);
  });
});
