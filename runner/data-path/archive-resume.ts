// Resuming an archive read that broke off (docs/design.md, "Resuming a read that broke off"): the
// bodies of successive GetObjects, each from the byte where the last one stopped, as one stream.
// Which request to send, and whether its answer is the rest of the same object, is the caller's
// (archive-download.ts); here: when to go on, how long to wait, and what to say.
import { finished, Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { messageOf } from '../../lib/error-message.js';
import { s3FailureInShort } from '../../lib/s3-client.js';
import type { Logger } from '../../lib/logger.js';
import { DownloadFailedError, WorkFailure } from '../work-failures.js';
import { SocketBody } from './archive-socket-read.js';

/** A read that broke off and goes on from byte `at`. */
export interface ResumedRead {
  readonly at: number;
  readonly size: number;
  /** What broke it off. */
  readonly cause: string;
  /** Says all of the above, for an Event. */
  readonly message: string;
}

/**
 * How many reads in a row may break off without gaining a byte and still be resumed; the next such
 * break fails the read. A read that gained bytes is always resumed: the archive is finite.
 */
export const RESUMES_WITHOUT_PROGRESS = 2;

/**
 * Waits before asking again when the request for the rest itself fails (the store restarting,
 * failing over, or saying SlowDown), about a minute in all; the SDK's own retries come within each.
 */
export const REQUEST_RETRY_DELAYS_MS: readonly number[] = [1000, 2000, 4000, 8000, 16_000, 30_000];

/** Resumptions logged as warnings; after these, one in LOG_EVERY, so a flapping link cannot flood the log. */
const LOGGED_RESUMES = 10;
const LOG_EVERY = 100;

export interface ResumeOptions {
  /** s3://bucket/key, for messages. */
  readonly where: string;
  readonly size: number;
  /** The object's ETag: no resuming without one, since the parts could be of different objects. */
  readonly etag: string | undefined;
  /** The rest of the object from byte `at`, pinned to `etag`; rejects when it cannot be had. */
  readonly reopen: (at: number) => Promise<Readable>;
  readonly signal?: AbortSignal | undefined;
  readonly log?: Logger | undefined;
  readonly onResume?: ((resumed: ResumedRead) => void) | undefined;
  /** Delays between failed requests for the rest; REQUEST_RETRY_DELAYS_MS unless a test sets shorter ones. */
  readonly retryDelaysMs?: readonly number[];
}

/**
 * The archive's bytes from `first` on; when the connection breaks off (a reset, a store that drops
 * a reader that paused, a stall), the rest is asked for from the byte where it stopped, and the
 * bytes go on as one stream: the hash downstream sees every byte once, in order. Chunks pass as
 * they came, one by one (never gathered, as an async iterator over a paused stream would), so a
 * socket read's batches can still be handed back.
 */
export function resumingBody(first: Readable, opts: ResumeOptions): Readable {
  return new ResumingBody(first, opts);
}

class ResumingBody extends Readable {
  private body: Readable | undefined;
  /** Bytes taken from the bodies so far: where a resumed read starts. */
  private at = 0;
  private fruitless = 0;
  private resumes = 0;

  constructor(
    first: Readable,
    private readonly opts: ResumeOptions,
  ) {
    // Nothing held here: each chunk goes straight on to a flowing reader, so no more of a socket
    // read's few batches are in flight than without this stage.
    super({ highWaterMark: 0 });
    this.attach(first);
  }

  private attach(body: Readable): void {
    this.body = body;
    const from = this.at;
    body.on('data', (chunk: Buffer) => {
      this.at += chunk.length;
      if (!this.push(chunk)) body.pause();
    });
    finished(body, (err) => {
      if (this.body !== body || this.destroyed) return;
      // A socket read hands on what came and ends early, rather than error and drop it.
      const broke = err ?? (body instanceof SocketBody ? body.brokeOff : undefined);
      if (!broke) return void this.push(null);
      this.goOn(broke, from).catch((failure: unknown) => this.destroy(failure as Error));
    });
  }

  private async goOn(err: Error, from: number): Promise<void> {
    const { opts } = this;
    if (opts.signal?.aborted || err instanceof WorkFailure || opts.etag === undefined) throw err;
    // Every byte came before the break: the hash downstream judges them.
    if (this.at >= opts.size) return void this.push(null);
    this.fruitless = this.at > from ? 0 : this.fruitless + 1;
    const cause = causeOf(err);
    if (this.fruitless > RESUMES_WITHOUT_PROGRESS) {
      throw new DownloadFailedError(
        `reading ${opts.where} broke off at byte ${this.at} of ${opts.size} ${this.fruitless} times in a row without ` +
          `a byte gained (${cause}); check the object store and the network, then retry`,
        { cause: err },
      );
    }
    this.tell(cause);
    this.body = undefined;
    const body = await this.reopen(cause);
    if (this.destroyed) return void body.destroy();
    this.attach(body);
  }

  /** The rest of the object; a request that fails for a while (a store restarting) is sent again. */
  private async reopen(cause: string): Promise<Readable> {
    const delays = this.opts.retryDelaysMs ?? REQUEST_RETRY_DELAYS_MS;
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.opts.reopen(this.at);
      } catch (failure) {
        // Stopped (the Restore deleted, SIGTERM): the caller says so, not that the store stayed away.
        if (this.opts.signal?.aborted) throw failure;
        const wait = delays[attempt];
        if (!isTransient(failure) || wait === undefined) {
          throw this.gaveUp(failure, cause, { attempts: attempt + 1, ms: Date.now() - started });
        }
        this.opts.log?.warn(
          { archive: this.opts.where, at: this.at, err: messageOf(failure), retryInMs: wait },
          'asking for the rest of the archive failed; asking again',
        );
        // A stop during the wait rejects it: the read ends as cancelled, not asked for once more.
        await sleep(wait, undefined, this.opts.signal ? { signal: this.opts.signal } : {});
      }
    }
  }

  private gaveUp(failure: unknown, cause: string, tried: { attempts: number; ms: number }): unknown {
    if (!(failure instanceof WorkFailure) || !isTransient(failure)) return failure;
    const { where, size } = this.opts;
    const over = `${tried.attempts} times over ${Math.round(tried.ms / 1000)} s`;
    return new DownloadFailedError(
      `reading ${where} broke off at byte ${this.at} of ${size} (${cause}), and asking for the rest failed ${over} ` +
        `(last: ${s3FailureInShort(failure.cause)}): check that the object store is running and reachable, then retry`,
      { cause: failure },
    );
  }

  private tell(cause: string): void {
    const { where, size, log, onResume } = this.opts;
    this.resumes++;
    const fields = { archive: where, at: this.at, size, err: cause, resumes: this.resumes };
    const loud = this.resumes <= LOGGED_RESUMES || this.resumes % LOG_EVERY === 0;
    (loud ? log?.warn : log?.debug)?.call(
      log,
      fields,
      'reading the archive broke off; resuming it from the byte where it stopped',
    );
    onResume?.({
      at: this.at,
      size,
      cause,
      message: `reading ${where} broke off at byte ${this.at} of ${size} (${cause}); it goes on from there, pinned to the same object`,
    });
  }

  override _read(): void {
    this.body?.resume();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.body?.destroy();
    callback(err);
  }
}

/** Node's http client says "aborted" when the connection closes mid-body, which reads like a cancel. */
function causeOf(err: Error): string {
  return err.message === 'aborted' ? 'the connection closed before the end of the object' : err.message;
}

/**
 * Whether a failed request for the rest may succeed if sent again: the store unreachable, timing
 * out, or answering 5xx or 429 (SlowDown). A 412 (the object replaced), a 404 or 403, or an answer
 * that is not the rest of the object will not change.
 */
function isTransient(failure: unknown): boolean {
  if (!(failure instanceof DownloadFailedError) || failure.cause === undefined) return false;
  const status = (failure.cause as { $metadata?: { httpStatusCode?: unknown } }).$metadata?.httpStatusCode;
  return typeof status !== 'number' || status >= 500 || status === 429;
}
