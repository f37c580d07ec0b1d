// How a running restore reports how far its read is, with a fake clock and a fake status write.
import assert from 'node:assert/strict';
import {
  PROGRESS_EVERY_MS,
  percentOf,
  ProgressReporter,
  type RestoreStep,
  type ProgressRecord,
} from '../../../runner/restores/restore-progress.js';
import { FakeClock, settle, silentLog } from '../reconcile/fakes.js';

interface Harness {
  clock: FakeClock;
  written: ProgressRecord[];
  reporter: ProgressReporter<RestoreStep>;
  /** Makes the next writes wait until release() is called. */
  hold: () => void;
  release: () => void;
}

function harness(size = 1000, write?: (p: ProgressRecord) => Promise<void>): Harness {
  const clock = new FakeClock();
  const written: ProgressRecord[] = [];
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  const reporter = new ProgressReporter<RestoreStep>({
    size,
    log: silentLog,
    clock,
    write:
      write ??
      (async (p) => {
        if (gate) await gate;
        written.push(p);
      }),
  });
  return {
    clock,
    written,
    reporter,
    hold: () => (gate = new Promise((resolve) => (open = resolve))),
    release: () => {
      gate = undefined;
      open?.();
    },
  };
}

const brief = (p: ProgressRecord): string => `${p.step} ${p.bytesRead}/${p.size} ${p.percent}%`;

describe('restore progress (fake clock, fake status write)', () => {
  it('percentOf: whole percent, rounded down, 100 at most, an empty archive is done', () => {
    assert.equal(percentOf(0, 1000), 0);
    assert.equal(percentOf(999, 1000), 99);
    assert.equal(percentOf(1000, 1000), 100);
    assert.equal(percentOf(1, 3), 33);
    assert.equal(percentOf(0, 0), 100);
    assert.equal(percentOf(5, 4), 100);
  });

  it('a step is written at once, then every PROGRESS_EVERY_MS while its bytes grow, not when they do not', async () => {
    const h = harness();
    const verifying = h.reporter.begin('verifying');
    await settle();
    assert.deepEqual(h.written.map(brief), ['verifying 0/1000 0%']);
    verifying(120);
    verifying(450);
    await h.clock.advance(PROGRESS_EVERY_MS - 1);
    assert.equal(h.written.length, 1, 'not before the period');
    await h.clock.advance(1);
    assert.deepEqual(h.written.map(brief).slice(1), ['verifying 450/1000 45%']);
    await h.clock.advance(3 * PROGRESS_EVERY_MS);
    assert.equal(h.written.length, 2, 'unchanged figures are not written again');
    assert.equal(
      h.written[1]?.updatedAt,
      new Date(Date.parse('2026-01-01T00:00:00Z') + PROGRESS_EVERY_MS).toISOString(),
    );
    await h.reporter.stop();
  });

  it('applying starts from 0 at once; the verifying counter no longer moves the figures', async () => {
    const h = harness();
    const verifying = h.reporter.begin('verifying');
    verifying(1000);
    await settle();
    const applying = h.reporter.begin('applying');
    verifying(999);
    await settle();
    assert.deepEqual(h.written.map(brief), ['verifying 0/1000 0%', 'applying 0/1000 0%']);
    applying(700);
    await h.clock.advance(PROGRESS_EVERY_MS);
    assert.equal(brief(h.written[h.written.length - 1] as ProgressRecord), 'applying 700/1000 70%');
    await h.reporter.stop();
  });

  it('one write at a time: figures that come during a slow write are written once it ends, the latest only', async () => {
    const h = harness();
    h.hold();
    const applying = h.reporter.begin('applying');
    for (let i = 1; i <= 3; i++) {
      applying(i * 100);
      await h.clock.advance(PROGRESS_EVERY_MS);
    }
    assert.equal(h.written.length, 0, 'the first write still hangs');
    h.release();
    await settle();
    assert.deepEqual(h.written.map(brief), ['applying 0/1000 0%', 'applying 300/1000 30%']);
    await h.reporter.stop();
  });

  it('stop() waits for a write under way and ends the ticks; nothing is written after it', async () => {
    const h = harness();
    h.hold();
    const applying = h.reporter.begin('applying');
    let stopped = false;
    const stopping = h.reporter.stop().then(() => (stopped = true));
    await settle();
    assert.equal(stopped, false, 'the write under way is waited for');
    h.release();
    await stopping;
    applying(900);
    await h.clock.advance(5 * PROGRESS_EVERY_MS);
    assert.deepEqual(h.written.map(brief), ['applying 0/1000 0%']);
    assert.deepEqual(h.clock.pending(), [], 'no timer left');
  });

  it('stop({ final: true }) first writes the latest figures (a failed restore keeps them), after a write under way', async () => {
    const h = harness();
    const applying = h.reporter.begin('applying');
    await settle();
    h.hold();
    applying(300);
    await h.clock.advance(PROGRESS_EVERY_MS);
    applying(640);
    const stopping = h.reporter.stop({ final: true });
    await settle();
    h.release();
    await stopping;
    assert.deepEqual(h.written.map(brief), ['applying 0/1000 0%', 'applying 300/1000 30%', 'applying 640/1000 64%']);
    applying(900);
    await h.clock.advance(2 * PROGRESS_EVERY_MS);
    assert.equal(h.written.length, 3, 'nothing after it');
  });

  it('a write that fails is logged and the ticks go on', async () => {
    let calls = 0;
    const h = harness(1000, () => {
      calls++;
      return Promise.reject(new Error('the API server is away'));
    });
    const applying = h.reporter.begin('applying');
    applying(500);
    await h.clock.advance(PROGRESS_EVERY_MS);
    applying(600);
    await h.clock.advance(PROGRESS_EVERY_MS);
    assert.equal(calls, 3);
    await h.reporter.stop();
  });
});
