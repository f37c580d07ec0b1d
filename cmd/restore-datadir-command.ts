// `lifeboat restore-datadir --to DIR`: a physical backup becomes a data directory before a server
// starts on it — an init container of the database pod, or by hand on a host. Exit 0 when
// restored or when DIR already held a data directory, 1 when the restore failed (the reason on
// stderr, DIR as it was), 2 for a mistake in the command line.
import { spawnSync } from 'node:child_process';
import { Command, InvalidArgumentError } from 'commander';
import { isBackupId } from '../crds/object-keys.js';
import type { ResolvedBackup } from '../runner/restores/datadir-restore.js';
import { UsageError } from './cli-options.js';
import { addStoreOptions, storeFromOptions, type StoreOptions } from './object-store-source.js';

interface RestoreDatadirFlags extends StoreOptions {
  readonly to: string;
  readonly fromCluster?: { namespace: string; name: string };
  readonly overwrite?: boolean;
  readonly chown?: string;
  /** false with --no-sync. */
  readonly sync?: boolean;
  readonly backupId?: string;
}

function backupIdOption(text: string): string {
  if (!isBackupId(text))
    throw new InvalidArgumentError('write a backup ID as the bucket names it, e.g. 20261130T181500Z.');
  return text;
}

function clusterRefOption(text: string): { namespace: string; name: string } {
  const [namespace, name, ...rest] = text.split('/');
  if (!namespace || !name || rest.length > 0) throw new InvalidArgumentError('write NAMESPACE/NAME, e.g. shop/db.');
  return { namespace, name };
}

const STORE_FLAGS = ['bucket', 'endpoint', 'region', 'path', 'cluster', 'clusterManifest', 'source'] as const;

/** Where the backup comes from: the Cluster's bootstrap.recovery through the API, or the store flags. */
async function backupSource(flags: RestoreDatadirFlags): Promise<(signal: AbortSignal) => Promise<ResolvedBackup>> {
  const ref = flags.fromCluster;
  if (ref) {
    const given = STORE_FLAGS.filter((f) => flags[f] !== undefined);
    if (given.length > 0) {
      throw new UsageError(
        `--from-cluster reads the object store from the Cluster; drop ${given.map((f) => `--${f.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')}`,
      );
    }
    const [{ KubeClient }, { backupFromCluster }] = await Promise.all([
      import('../lib/kube-client.js'),
      import('../runner/restores/datadir-recovery.js'),
    ]);
    const kube = KubeClient.fromEnvironment({ fieldManager: 'lifeboat-restore-datadir' });
    return (signal) => backupFromCluster(kube, ref, { backupID: flags.backupId, signal });
  }
  const { findBackupInStore } = await import('../runner/restores/datadir-source.js');
  // Checked now (no network): a mistake in the store flags is a usage error even when DIR is done.
  const store = await storeFromOptions(flags);
  return (signal) => findBackupInStore(store, { backupID: flags.backupId, signal });
}

/** A --chown owner the system knows; checked before anything is downloaded. */
function checkOwner(owner: string): void {
  const [user, group] = owner.split(':');
  const known = (args: string[]): boolean => spawnSync('getent', args, { stdio: 'ignore' }).status === 0;
  if (user && !/^\d+$/.test(user) && !known(['passwd', user])) {
    throw new UsageError(
      `--chown ${owner}: no user ${user} on this system; name the user the server runs as (e.g. mysql)`,
    );
  }
  if (group && !/^\d+$/.test(group) && !known(['group', group])) {
    throw new UsageError(`--chown ${owner}: no group ${group} on this system`);
  }
}

export interface SignalStop {
  readonly stop: AbortController;
  readonly to: string;
  readonly stagingPrefix: string;
  readonly warn: (signal: NodeJS.Signals) => void;
  /** The failure the first signal stops the restore with. */
  readonly stopped: (signal: NodeJS.Signals) => Error;
  /** For tests: process.exit and stderr otherwise. */
  readonly exit?: (code: number) => void;
  readonly write?: (line: string) => void;
}

/**
 * SIGTERM (a pod deleted, a node drained) or Ctrl-C stop the tools and the download, and the
 * staging directory is deleted; a second signal ends the process at once, saying what it may have
 * left. Returns what removes the handlers.
 */
export function stopOnSignals(opts: SignalStop): () => void {
  const exit = opts.exit ?? ((code: number): void => process.exit(code));
  const write = opts.write ?? ((line: string): void => void process.stderr.write(line));
  const onSignal = (signal: NodeJS.Signals): void => {
    if (opts.stop.signal.aborted) {
      write(
        `lifeboat: restore-datadir stopped at once by a second ${signal}; nothing was written to ${opts.to}, ` +
          `but a staging directory (${opts.stagingPrefix}…) may be left beside or inside it: the next restore-datadir of it removes it\n`,
      );
      return exit(130);
    }
    opts.warn(signal);
    opts.stop.abort(opts.stopped(signal));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return () => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  };
}

async function runRestoreDatadir(flags: RestoreDatadirFlags): Promise<void> {
  // Loaded here: `lifeboat check` should not pay for the AWS SDK.
  const [{ createLogger }, { restoreDatadir, summaryLine }, { DownloadFailedError, WorkFailure }, { STAGING_PREFIX }] =
    await Promise.all([
      import('../lib/logger.js'),
      import('../runner/restores/datadir-restore.js'),
      import('../runner/work-failures.js'),
      import('../runner/restores/datadir-target.js'),
    ]);
  if (flags.chown !== undefined) checkOwner(flags.chown);
  const log = createLogger('restore-datadir');
  const stop = new AbortController();
  const unsubscribe = stopOnSignals({
    stop,
    to: flags.to,
    stagingPrefix: STAGING_PREFIX,
    warn: (signal) => log.warn({ signal, to: flags.to }, 'stopping the restore (a second signal stops it at once)'),
    stopped: (signal) =>
      new DownloadFailedError(
        `the restore was stopped by ${signal} before it finished; nothing was written to ${flags.to}: run restore-datadir again`,
      ),
  });
  try {
    const backup = await backupSource(flags);
    const result = await restoreDatadir({
      to: flags.to,
      overwrite: flags.overwrite ?? false,
      ...(flags.chown === undefined ? {} : { chown: flags.chown }),
      sync: flags.sync !== false,
      // The store is reached only when DIR needs a backup: a restarted pod starts without it.
      backup,
      logger: log,
      signal: stop.signal,
    });
    process.stdout.write(`${summaryLine(result)}\n`);
  } catch (caught) {
    // Stopped: the stop says what happened, not the request it cut short.
    const err: unknown = stop.signal.aborted ? stop.signal.reason : caught;
    if (!(err instanceof WorkFailure)) throw caught;
    process.stderr.write(`lifeboat: restore-datadir failed (${err.reason}): ${err.message}\n`);
    process.exitCode = 1;
  } finally {
    unsubscribe();
  }
}

export function restoreDatadirCommand(root: Command): void {
  const command = root
    .command('restore-datadir')
    .description(
      'restore a physical backup (mariabackup, xtrabackup) into a data directory before a server starts on it; ' +
        'does nothing when DIR already holds a data directory',
    )
    .requiredOption('--to <dir>', 'the data directory to create or fill (absent, empty, or with --overwrite)')
    .option('--overwrite', 'replace the contents of a non-empty DIR that holds no data directory')
    .option('--chown <user[:group]>', 'give the restored data directory to this owner (the user the server runs as)')
    .option(
      '--backup-id <id>',
      "restore exactly this backup (default: the newest complete physical one; with --from-cluster, the one the Cluster's bootstrap takes)",
      backupIdOption,
    )
    .option(
      '--no-sync',
      'do not flush the data directory to disk before it is moved into DIR (faster; a crash soon after can leave it torn)',
    )
    .option(
      '--from-cluster <namespace/name>',
      "take the backup from this Cluster's spec.bootstrap.recovery, read through the Kubernetes API (KUBECONFIG or the pod's service account); instead of the object store flags",
      clusterRefOption,
    );
  addStoreOptions(command);
  command.action(runRestoreDatadir);
}
