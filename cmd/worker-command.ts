// `lifeboat worker backup <namespace>/<name>`: runs one claimed Backup, the same command whether the
// runner spawns it as a process or renders it into a Job. Exit 0 when the Backup completed (or had
// finished before), 1 when it failed; the outcome is in the Backup's status either way.
import { Command, InvalidArgumentError } from 'commander';

interface ObjectRef {
  namespace: string;
  name: string;
}

function refArgument(text: string): ObjectRef {
  const [namespace, name, ...rest] = text.split('/');
  if (!namespace || !name || rest.length > 0)
    throw new InvalidArgumentError('write NAMESPACE/NAME, e.g. shop/shop-first.');
  return { namespace, name };
}

async function runWorkerBackup(ref: ObjectRef): Promise<void> {
  // Loaded here: `lifeboat check` should not pay for the Kubernetes client and the AWS SDK.
  const [{ restClientFromEnvironment }, { createLogger }, { runBackupWorker }, { DumpFailedError }, heartbeats] =
    await Promise.all([
      import('../lib/kube-rest.js'),
      import('../lib/logger.js'),
      import('../runner/worker/backup-worker.js'),
      import('../runner/work-failures.js'),
      import('../runner/worker/worker-heartbeat.js'),
    ]);
  const log = createLogger('worker');
  const stop = new AbortController();
  // SIGTERM (a Job's deadline, a node drain, the runner stopping): abort the tool and the upload,
  // restore wsrep_desync, and record why, rather than leave the Backup running with nobody on it.
  const onSignal = (signal: NodeJS.Signals): void => {
    log.warn({ signal, namespace: ref.namespace, name: ref.name }, 'stopping the backup');
    stop.abort(
      new DumpFailedError(
        `the backup worker was stopped by ${signal} before it finished; apply a new Backup to try again`,
      ),
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  // The light transport keeps @kubernetes/client-node (~75 MiB) out of the worker where it can.
  const kube = restClientFromEnvironment({}, (why) =>
    log.info({ why }, 'using the full Kubernetes client, which needs more memory'),
  );
  const lease = heartbeats.heartbeatFromEnvironment(process.env);
  const heartbeat = lease
    ? await heartbeats
        .startHeartbeat({
          kube,
          lease,
          log,
          onLost: (why) => {
            log.warn({ namespace: ref.namespace, name: ref.name, why }, 'stopping the backup');
            stop.abort(new DumpFailedError(`the backup worker stopped: ${why}; apply a new Backup to try again`));
          },
        })
        .catch((err: unknown) => {
          // The runner then judges this worker by its process where it can, else fails its Backup.
          log.warn({ err: err instanceof Error ? err.message : String(err) }, 'heartbeat Lease not created');
          return undefined;
        })
    : undefined;
  try {
    const outcome = await runBackupWorker(ref.namespace, ref.name, { kube, log, signal: stop.signal });
    process.exitCode = outcome === 'failed' ? 1 : 0;
  } finally {
    await heartbeat?.stop();
  }
}

export function workerCommand(root: Command): void {
  const worker = root
    .command('worker')
    .description('run one piece of work the runner claimed (as a process or in a Job)');
  worker
    .command('backup')
    .description('back up the Cluster of a claimed Backup into its object store and write the outcome to its status')
    .argument('<namespace/name>', 'the Backup', refArgument)
    .action(runWorkerBackup);
}
