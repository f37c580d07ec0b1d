// When `lifeboat check` uses worker threads: only for large inputs, only on cores other processes
// leave idle, and never more threads than files.
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { MAX_THREADS, THREAD_MIN_BYTES, threadCount } from '../../../policies/cli/check-threads.js';

function sources(count: number, bytes: number): { name: string; text: string }[] {
  return Array.from({ length: count }, (_, i) => ({ name: `f${i}.yaml`, text: 'x'.repeat(Math.ceil(bytes / count)) }));
}

describe('check threads', () => {
  const cores = availableParallelism();

  it('auto: one thread below the size threshold, however idle the machine', () => {
    assert.equal(threadCount(sources(50, THREAD_MIN_BYTES - 100), 'auto', 0), 1);
  });

  it('auto: large inputs use the idle cores, up to the limit', () => {
    assert.equal(threadCount(sources(50, THREAD_MIN_BYTES * 2), 'auto', 0), Math.min(cores, MAX_THREADS));
    assert.equal(threadCount(sources(50, THREAD_MIN_BYTES * 2), 'auto', cores), 1, 'every core busy');
    assert.equal(threadCount(sources(50, THREAD_MIN_BYTES * 2), 'auto', cores + 3), 1);
  });

  it('a number is taken as given, but never more threads than files', () => {
    assert.equal(threadCount(sources(50, 10), 3, cores + 3), 3);
    assert.equal(threadCount(sources(2, THREAD_MIN_BYTES * 2), 4, 0), 2);
    assert.equal(threadCount(sources(1, 10), 1, 0), 1);
  });
});
