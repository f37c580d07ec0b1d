// `lifeboat restore-datadir` (docs: README "Physical restores"): a physical backup becomes a data
// directory before any server starts on it. The archive is extracted while it is hashed into a
// staging directory on DIR's filesystem; only an archive whose SHA-256 matched metadata.json is
// prepared and moved into DIR. Every failure deletes the staging directory and leaves DIR as it was.
import { chmod, mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { BackupMetadataType } from '../../crds/backup-metadata-types.js';
import type { Logger } from '../../lib/logger.js';
import { messageOf } from '../../lib/error-message.js';
import { isPhysical } from '../engine/tool-commands.js';
import { PrepareFailedError, UnsupportedMethodError } from '../work-failures.js';
import { extractArchive, type ArchiveOpener } from './datadir-extract.js';
import { fillTarget, removeBackupLeftovers } from './datadir-move.js';
import {
  inspectTarget,
  planTarget,
  removeStaleStaging,
  STAGING_PREFIX,
  unusableTarget,
  type TargetPlan,
} from './datadir-target.js';
import { fsyncPath, syncTree, syncTreeWhileWritten, type SyncOne } from './datadir-sync.js';
import { describeEnd, findDatadirTools, runTool, type DatadirTools } from './datadir-tools.js';

/** The backup to restore, found and validated: its metadata and how to read its archive. */
export interface ResolvedBackup {
  readonly metadata: BackupMetadataType;
  /** Where the archive is read from, for messages: s3://bucket/key. */
  readonly source: string;
  readonly openArchive: ArchiveOpener;
  /**
   * Reads the stored archive once more and rejects ChecksumMismatchError when it does not match
   * metadata; called only after a read that failed before its verdict (archive-download's verifyArchive).
   */
  readonly verifyArchive?: (signal: AbortSignal, log?: Logger) => Promise<void>;
  /**
   * Who applies the backup when it is logical (e.g. "the runner's bootstrap of Cluster shop/db"):
   * then DIR is left as it was, for the server to start empty. Absent: a logical backup is refused.
   */
  readonly appliedByRunner?: string;
}

export interface DatadirRestoreOptions {
  /** The data directory to create or fill. */
  readonly to: string;
  /** Replace the contents of a non-empty DIR that is not a data directory. */
  readonly overwrite?: boolean;
  /** Give the data directory to this owner (`chown` syntax: USER, USER:GROUP, UID:GID). */
  readonly chown?: string;
  /**
   * Finds the backup. Called only once DIR is known to need one, so that a restarted pod whose
   * data directory is there starts without reaching the object store (or the API server).
   */
  readonly backup: (signal: AbortSignal) => Promise<ResolvedBackup>;
  readonly logger: Logger;
  /** Aborting (SIGTERM, SIGINT) stops the tools and the download; the staging directory is deleted. */
  readonly signal?: AbortSignal;
  /** The binaries; found on PATH when absent. */
  readonly tools?: DatadirTools;
  /**
   * Flush the data directory to disk before it is placed in DIR (default true); false for a
   * scratch restore whose loss in a crash does not matter (datadir-sync.ts says why).
   */
  readonly sync?: boolean;
  /** How one path is flushed; fsyncPath unless a test watches. */
  readonly syncOne?: SyncOne;
}

/** One restore under way: the options with the backup resolved. */
type DatadirRun = Omit<DatadirRestoreOptions, 'backup'> & ResolvedBackup & { readonly to: string };

export type DatadirRestoreResult =
  | { readonly outcome: 'already-present'; readonly to: string; readonly marker: string }
  | {
      readonly outcome: 'logical';
      readonly to: string;
      readonly backupId: string;
      readonly source: string;
      readonly appliedBy: string;
    }
  | {
      readonly outcome: 'restored';
      readonly to: string;
      readonly backupId: string;
      readonly source: string;
      /** Bytes of the archive as stored, verified against metadata. */
      readonly archiveBytes: number;
      readonly sha256: string;
      readonly seconds: number;
    };

/** Restores the backup into `to`, or does nothing when `to` already holds a data directory. */
export async function restoreDatadir(opts: DatadirRestoreOptions): Promise<DatadirRestoreResult> {
  const to = resolve(opts.to);
  const plan = planTarget(to, await inspectTarget(to), opts.overwrite ?? false);
  if (plan.action === 'nothing') {
    opts.logger.info({ to, marker: plan.marker }, 'the target already holds a data directory; nothing restored');
    return { outcome: 'already-present', to, marker: plan.marker };
  }
  const backup = await opts.backup(opts.signal ?? new AbortController().signal);
  const logical = logicalOutcome(to, backup, opts.logger);
  if (logical) return logical;
  const run: DatadirRun = { ...opts, ...backup, to };
  const tools = opts.tools ?? findDatadirTools(backup.metadata.method);
  if (plan.action === 'fill' && plan.staleStaging.length > 0) {
    opts.logger.warn({ to, leftovers: plan.staleStaging }, 'removing staging directories left by a stopped restore');
    await removeStaleStaging(to, plan.staleStaging);
  }
  if (plan.action === 'create') await removeStagingBeside(to, opts.logger);
  const started = Date.now();
  const staging = await makeStaging(to, plan);
  try {
    await extractAndPrepare(staging, tools, run);
    await removeBackupLeftovers(staging);
    if (opts.chown) await chownTree(staging, opts.chown, opts.logger);
    if (opts.sync !== false) await syncStaging(staging, run);
    await place(staging, plan, run);
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
  const { metadata } = backup;
  const result = {
    outcome: 'restored',
    to,
    backupId: metadata.backupId,
    source: backup.source,
    archiveBytes: metadata.size,
    sha256: metadata.sha256,
    seconds: (Date.now() - started) / 1000,
  } as const;
  opts.logger.info(result, 'data directory restored');
  return result;
}

/**
 * Undefined for a physical backup, which is restored. A logical one is applied into the running
 * server by the runner when the caller says so (DIR stays as it was); otherwise it is refused.
 */
function logicalOutcome(to: string, backup: ResolvedBackup, logger: Logger): DatadirRestoreResult | undefined {
  const { backupId, method, cluster } = backup.metadata;
  if (isPhysical(method)) return undefined;
  const appliedBy = backup.appliedByRunner;
  if (appliedBy === undefined) {
    throw new UnsupportedMethodError(
      `backup ${backupId} of ${cluster} is a logical backup (${method}); restore-datadir ` +
        'restores physical backups (mariabackup, xtrabackup) only: restore it into a running server with a Restore instead',
    );
  }
  logger.info(
    { to, backupId, method, source: backup.source, appliedBy },
    'the backup to restore is logical: nothing restored into the data directory; the runner applies it once the server runs',
  );
  return { outcome: 'logical', to, backupId, source: backup.source, appliedBy };
}

/**
 * A run killed before its move into an absent DIR leaves its staging directory beside DIR, as big
 * as the data directory; each rerun would add another. Only names makeStaging gives for this DIR
 * (the prefix and mkdtemp's six characters) are removed, never a sibling DIR's.
 */
async function removeStagingBeside(to: string, logger: Logger): Promise<void> {
  const prefix = `${STAGING_PREFIX}${basename(to)}-`;
  let names: string[];
  try {
    names = await readdir(dirname(to));
  } catch {
    return; // no parent yet: nothing was left there
  }
  const stale = names.filter((n) => n.startsWith(prefix) && n.length === prefix.length + 6);
  if (stale.length === 0) return;
  logger.warn({ to, leftovers: stale }, 'removing staging directories left by a stopped restore');
  await removeStaleStaging(dirname(to), stale);
}

/**
 * The staging directory, mode 0700, on DIR's filesystem so that moving it in is a rename: inside
 * an existing DIR (which may be a volume's mount point, where the parent is another filesystem),
 * else beside DIR.
 */
async function makeStaging(to: string, plan: TargetPlan): Promise<string> {
  const base =
    plan.action === 'create' ? join(dirname(to), `${STAGING_PREFIX}${basename(to)}-`) : join(to, STAGING_PREFIX);
  try {
    await mkdir(dirname(base), { recursive: true });
    const staging = await mkdtemp(base);
    await chmod(staging, 0o700);
    return staging;
  } catch (err) {
    throw await unusableTarget(err, plan.action === 'create' ? to : dirname(base), 'create');
  }
}

/**
 * Extraction, then prepare, with the staging tree flushed in early passes beside both
 * (datadir-sync.ts): the disk writes the files back while the archive streams in and prepare
 * works, and the strict flush after them finds little left. When either fails or the restore is
 * stopped, the passes stop before their next file: those files are about to be deleted, and a
 * stopped restore must not wait for a disk to write them.
 */
async function extractAndPrepare(staging: string, tools: DatadirTools, opts: DatadirRun): Promise<void> {
  const done = new AbortController();
  const flushing = opts.sync === false ? undefined : syncTreeWhileWritten(staging, done.signal, opts.syncOne);
  try {
    await extractArchive({ ...opts, staging, extractor: tools.extractor });
    await prepare(staging, tools.backupTool, opts);
  } finally {
    done.abort();
    await flushing;
  }
}

async function prepare(staging: string, binary: string, opts: DatadirRun): Promise<void> {
  const name = basename(binary);
  // --no-defaults: prepare reads the backup's own backup-my.cnf; the host's option files (a
  // datadir, a tmpdir of some other server) have no say in it.
  const run = runTool(
    {
      name,
      binary,
      args: ['--no-defaults', '--prepare', `--target-dir=${staging}`],
      stdin: false,
      logger: opts.logger,
    },
    opts.signal,
  );
  const end = await run.ended;
  if (end.ok) return;
  if (opts.signal?.aborted) throw stopped(opts, name);
  throw new PrepareFailedError(
    `${describeEnd(name, end)}; the archive matched its SHA-256, so the backup itself may be unusable or this ${name} ` +
      `cannot prepare it (backup taken by ${opts.metadata.serverVersion}); nothing was written to ${resolve(opts.to)}`,
  );
}

/** The error for a restore stopped by a signal: the abort's own reason, else a PrepareFailedError. */
function stopped(opts: DatadirRun, during: string): Error {
  const reason: unknown = opts.signal?.reason;
  if (reason instanceof Error) return reason;
  return new PrepareFailedError(`the restore was stopped during ${during}; nothing was written to ${resolve(opts.to)}`);
}

async function chownTree(staging: string, owner: string, logger: Logger): Promise<void> {
  const run = runTool({ name: 'chown', binary: 'chown', args: ['-R', '--', owner, staging], stdin: false, logger });
  const end = await run.ended;
  if (!end.ok)
    throw new PrepareFailedError(`giving the data directory to ${owner} failed: ${describeEnd('chown', end)}`);
}

async function syncStaging(staging: string, opts: DatadirRun): Promise<void> {
  const started = Date.now();
  let synced: number;
  try {
    synced = await syncTree(staging, opts.syncOne);
  } catch (err) {
    throw new PrepareFailedError(
      `writing the prepared data directory to disk failed: ${messageOf(err)}; nothing was written to ${resolve(opts.to)}`,
      { cause: err },
    );
  }
  opts.logger.info({ files: synced, seconds: (Date.now() - started) / 1000 }, 'data directory flushed to disk');
}

async function place(staging: string, plan: TargetPlan, opts: DatadirRun): Promise<void> {
  const { to } = opts;
  if (opts.signal?.aborted) throw stopped(opts, 'the move into the target');
  try {
    if (plan.action === 'create') await rename(staging, to);
    else if (plan.action === 'fill') {
      await fillTarget(to, staging, plan.replace, opts.logger);
    }
  } catch (err) {
    if (err instanceof PrepareFailedError) throw err;
    throw new PrepareFailedError(`moving the prepared data directory into ${to} failed: ${messageOf(err)}`, {
      cause: err,
    });
  }
  // The move changed the entries of DIR's parent (a rename) or of DIR (a fill): those too.
  if (opts.sync === false) return;
  try {
    await (opts.syncOne ?? fsyncPath)(plan.action === 'create' ? dirname(to) : to);
  } catch (err) {
    throw new PrepareFailedError(
      `the data directory was moved into ${to}, but flushing that move to disk failed: ${messageOf(err)}; ` +
        `check the disk, then delete ${to} and restore again`,
      { cause: err },
    );
  }
}

/** The one-line summary printed on stdout. */
export function summaryLine(result: DatadirRestoreResult): string {
  if (result.outcome === 'already-present') {
    return `${result.to} already holds a data directory (${result.marker} present); nothing restored`;
  }
  if (result.outcome === 'logical') {
    return (
      `backup ${result.backupId} from ${result.source} is a logical backup: nothing restored into ${result.to}; ` +
      `${result.appliedBy} applies it once the server runs on an empty data directory`
    );
  }
  return (
    `restored backup ${result.backupId} from ${result.source} into ${result.to}: ${result.archiveBytes} bytes, ` +
    `sha256 ${result.sha256} verified, in ${result.seconds.toFixed(1)} s`
  );
}
