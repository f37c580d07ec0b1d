// Download, hash and extract in one pass: the archive stream (verified at its end) is fed to
// `mbstream -x` on the staging directory. When the extractor dies early — xbstream chunks carry
// their own checksums, so a flipped byte usually kills it first — the rest of the archive is
// still read and hashed, so the error says whether the archive was damaged (ChecksumMismatch) or
// the extraction failed on a sound archive (a full disk, say).
import { basename, resolve } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BackupMetadataType } from '../../crds/backup-metadata-types.js';
import type { Logger } from '../../lib/logger.js';
import { messageOf } from '../../lib/error-message.js';
import { ChecksumMismatchError, DownloadFailedError, PrepareFailedError, WorkFailure } from '../work-failures.js';
import { releaseBatch } from '../data-path/archive-socket-read.js';
import { describeEnd, runTool } from './datadir-tools.js';
import { ProgressReporter } from './restore-progress.js';

/**
 * Opens the archive for reading: its bytes decompressed, as mbstream reads them. The stream
 * must end only when the stored bytes matched metadata's SHA-256 and size, and otherwise error
 * at its end with ChecksumMismatchError (archive-download's openArchive does both).
 */
export type ArchiveOpener = (signal: AbortSignal, log?: Logger, onProgress?: (bytesRead: number) => void) => Readable;

export interface ExtractOptions {
  readonly to: string;
  readonly staging: string;
  readonly extractor: string;
  readonly metadata: BackupMetadataType;
  readonly source: string;
  readonly openArchive: ArchiveOpener;
  readonly verifyArchive?: ((signal: AbortSignal, log?: Logger) => Promise<void>) | undefined;
  readonly logger: Logger;
  readonly signal?: AbortSignal;
}

/**
 * mbstream's and xbstream's worker threads. With one (their default) a single thread both reads the
 * stream and writes every file, so the copy into the page cache, most of a restore's CPU, waits on
 * each read; with several, one reads while others write, and different files are written at once.
 * On the 2-core development machine, alternating runs of the same restore-datadir of a 1.28 GiB
 * archive took 6.2–8.8 s with 4 threads and 7.9–14.8 s with 1 (docs/design.md, "Physical restore").
 * Fixed, not from the core count: each thread holds about 10 MiB (mbstream peaked at 43 MiB with 4,
 * 167 MiB with 16), an init container's memory limit must be known in advance, and Node 20's
 * availableParallelism() counts the node's cores, not the container's CPU limit.
 */
export const EXTRACT_THREADS = 4;

/** Extracts the archive into `staging`; resolves only when it was read to its verified end. */
export async function extractArchive(opts: ExtractOptions): Promise<void> {
  const name = basename(opts.extractor);
  const stop = new AbortController();
  const onAbort = (): void => stop.abort(opts.signal?.reason);
  if (opts.signal?.aborted) onAbort();
  else opts.signal?.addEventListener('abort', onAbort, { once: true });
  const tool = runTool(
    {
      name,
      binary: opts.extractor,
      args: ['-x', `--parallel=${EXTRACT_THREADS}`, '-C', opts.staging],
      stdin: true,
      logger: opts.logger,
    },
    stop.signal,
  );
  // An init container's log is all a user sees of a long restore: a line every 10 s says it moves.
  const progress = new ProgressReporter<'extracting'>({
    size: opts.metadata.size,
    write: async ({ updatedAt: _at, ...p }) => opts.logger.info(p, 'restore progress'),
    log: opts.logger,
  });
  try {
    const archive = opts.openArchive(stop.signal, opts.logger, progress.begin('extracting'));
    await pipeline(archive, toolInput(tool.stdin));
  } catch (err) {
    stop.abort(err);
    await tool.ended;
    throw readFailure(await judged(err, opts), opts);
  } finally {
    await progress.stop();
    opts.signal?.removeEventListener('abort', onAbort);
  }
  const end = await tool.ended;
  if (!end.ok) {
    throw new PrepareFailedError(
      `${describeEnd(name, end)} while extracting ${opts.source}, although the archive matched its SHA-256 ` +
        `(is the disk under ${resolve(opts.to)} full?); nothing was written to ${resolve(opts.to)}`,
    );
  }
}

/**
 * A read that broke off before the hash verdict (a gzip stream that does not decompress, the
 * connection lost) may hide a damaged archive: when a verifier is given, the stored bytes are
 * read once more to tell, so a flipped byte is reported as ChecksumMismatch whatever it broke.
 */
async function judged(err: unknown, opts: ExtractOptions): Promise<unknown> {
  if (err instanceof ChecksumMismatchError || opts.signal?.aborted || !opts.verifyArchive) return err;
  opts.logger.warn({ err: messageOf(err) }, 'reading the archive failed; reading it once more to check its SHA-256');
  try {
    await opts.verifyArchive(opts.signal ?? new AbortController().signal, opts.logger);
  } catch (verdict) {
    if (verdict instanceof ChecksumMismatchError) return verdict;
  }
  return err;
}

/** Why reading the archive failed, saying that DIR was not touched. */
function readFailure(err: unknown, opts: ExtractOptions): Error {
  const to = resolve(opts.to);
  const untouched = `nothing was written to ${to}`;
  if (opts.signal?.aborted) {
    const reason: unknown = opts.signal.reason;
    return reason instanceof Error ? reason : new DownloadFailedError(`the restore was stopped; ${untouched}`);
  }
  if (err instanceof ChecksumMismatchError) {
    return new ChecksumMismatchError(`backup ${opts.metadata.backupId}: ${err.message}; ${untouched}`, { cause: err });
  }
  if (err instanceof DownloadFailedError)
    return new DownloadFailedError(`${err.message}; ${untouched}`, { cause: err });
  if (err instanceof WorkFailure) return err;
  return new DownloadFailedError(`reading ${opts.source} failed: ${messageOf(err)}; ${untouched}`, { cause: err });
}

/**
 * Bytes handed to the tool per write. A socket read gives 64 KiB chunks; written one by one into
 * mbstream's stdin they cost a wake-up each, and mbstream extracts from 1 MiB writes about twice as
 * fast (the same 1.28 GiB archive from a local file: 1.9–3.2 s in 64 KiB writes, 1.1–1.4 s in 1 MiB).
 * Corking gathers them into one writev without copying.
 */
const WRITE_BATCH_BYTES = 1024 * 1024;

/**
 * A Writable into the tool's stdin that, once the tool stops reading (EPIPE, exit), drops what it
 * is given, so the archive is still read to its end and its checksum judged.
 */
export function toolInput(stdin: Writable | null): Writable {
  let open = stdin !== null;
  let corked = 0;
  stdin?.on('error', () => {
    open = false;
  });
  stdin?.on('close', () => {
    open = false;
  });
  const flush = (): void => {
    if (corked === 0) return;
    corked = 0;
    stdin?.uncork();
  };
  return new Writable({
    highWaterMark: WRITE_BATCH_BYTES,
    write(chunk: Buffer, _encoding, callback): void {
      if (!open || !stdin) {
        releaseBatch(chunk);
        return callback();
      }
      if (corked === 0) stdin.cork();
      // Written (or failed): the batch a socket read lent may be filled again.
      stdin.write(chunk, () => releaseBatch(chunk));
      corked += chunk.length;
      if (corked < WRITE_BATCH_BYTES) return callback();
      flush();
      if (stdin.writableLength < WRITE_BATCH_BYTES) return callback();
      const done = (): void => {
        stdin.off('drain', done);
        stdin.off('close', done);
        callback();
      };
      stdin.on('drain', done);
      stdin.on('close', done);
    },
    final(callback): void {
      // The tool's exit code, not an EPIPE on closing its stdin, says how the extraction went.
      if (open && stdin) {
        flush();
        stdin.end();
      }
      callback();
    },
  });
}
