// Worker threads for large inputs of `lifeboat check`. Every thread, the main one included,
// claims files one at a time from a shared counter, so a worker that is still loading its modules
// simply claims fewer; a worker that has not claimed anything by the time the files run out is
// stopped unasked. docs/benchmarks.md ("`lifeboat check` against kubeconform") has the runs that
// set when threads are used.
import { availableParallelism, loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { PolicySettings } from '../policy-types.js';
import type { FileEntries, ManifestRef, ParsedFile, ReviewedShare } from './check-share.js';
import type { Source } from './manifest-source.js';

/**
 * Below this much YAML one thread is faster: a worker spends about 0.1 s of CPU loading the
 * policies and warming up the parser before it checks anything, and the index is copied to it and
 * back. On two idle cores a second thread was 15–20% slower on 4 MB, even on 17 MB, and 8% faster
 * on 41 MB.
 */
export const THREAD_MIN_BYTES = 32 * 1024 * 1024;
/** More threads than this gain little: the index each one is sent grows with the input too. */
export const MAX_THREADS = 4;

/** What a worker is started with. */
export interface WorkerInput {
  readonly sources: readonly Source[];
  readonly settings: PolicySettings;
  /** [next file to claim, then one flag per worker: set once it has begun claiming]. */
  readonly claims: Int32Array;
  readonly slot: number;
}

/** The second message to a worker, once every file's index entries are known. */
export interface ReviewRequest {
  /** The entries of the files the worker did not parse. */
  readonly others: readonly FileEntries[];
  /** Manifests whose `metadata.name` position is wanted (the duplicate check). */
  readonly names: readonly ManifestRef[];
}

export type ThreadSetting = number | 'auto';

/**
 * How many threads check these sources, this one included. 'auto' counts only the cores other
 * processes leave idle (the 1-minute load average): on a busy machine a worker finds no core of
 * its own, and its start-up and copies then make the check slower, not faster.
 */
export function threadCount(sources: readonly Source[], setting: ThreadSetting, load = loadavg()[0] ?? 0): number {
  if (setting !== 'auto') return Math.max(1, Math.min(setting, sources.length));
  const bytes = sources.reduce((sum, s) => sum + s.text.length, 0);
  if (bytes < THREAD_MIN_BYTES) return 1;
  const idle = Math.round(availableParallelism() - load);
  return Math.max(1, Math.min(idle, MAX_THREADS, sources.length));
}

/** The claims counter and one flag per worker, shared with the workers. */
export function newClaims(threads: number): Int32Array {
  return new Int32Array(threads > 1 ? new SharedArrayBuffer(4 * threads) : new ArrayBuffer(4));
}

/** A worker's share of the check, answering one message per request. */
export class WorkerShare {
  private readonly worker: Worker;
  private readonly inbox: unknown[] = [];
  private waiting?: { resolve(message: unknown): void; reject(err: Error): void };
  private failure?: Error;

  constructor(readonly input: WorkerInput) {
    this.worker = new Worker(new URL('./check-worker.js', import.meta.url), { workerData: input });
    this.worker.on('message', (message: unknown) => {
      if (this.waiting) this.waiting.resolve(message);
      else this.inbox.push(message);
      this.waiting = undefined;
    });
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => this.fail(new Error(`a check worker thread stopped (exit code ${code})`)));
  }

  /** True once it has begun claiming files: then its results must be waited for. */
  get started(): boolean {
    return Atomics.load(this.input.claims, this.input.slot) > 0;
  }

  parsed(): Promise<ParsedFile[]> {
    return this.next() as Promise<ParsedFile[]>;
  }

  review(request: ReviewRequest): Promise<ReviewedShare> {
    this.worker.postMessage(request);
    return this.next() as Promise<ReviewedShare>;
  }

  stop(): void {
    this.worker.removeAllListeners('exit');
    void this.worker.terminate();
  }

  private next(): Promise<unknown> {
    if (this.inbox.length > 0) return Promise.resolve(this.inbox.shift());
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.waiting?.reject(this.failure);
    this.waiting = undefined;
  }
}

/** Starts threads - 1 workers on the sources; the caller's thread is the first share. */
export function startWorkers(
  sources: readonly Source[],
  settings: PolicySettings,
  claims: Int32Array,
  threads: number,
): WorkerShare[] {
  return Array.from({ length: threads - 1 }, (_, i) => new WorkerShare({ sources, settings, claims, slot: i + 1 }));
}
