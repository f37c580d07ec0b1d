// `lifeboat worker backup <namespace>/<name>`: runs one claimed Backup, the same command whether the
// runner spawns it as a process or renders it into a Job. Exit 0 when the Backup completed (or had
// finished before), 1 when it failed; the outcome is in the Backup's status either way.
import { Command, InvalidArgumentError } from 'commander';
import { messageOf } from '../lib/error-message.js';
import type { KubeRestCalls } from '../lib/kube-rest.js';
import type { Logger } from '../lib/logger.js';
import { DumpFailedError } from '../runner/work-failures.js';
import type { Heartbeat } from '../runner/worker/worker-heartbeat.js';

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

type HeartbeatModule = typeof import('../runner/worker/worker-heartbeat.js');

/**
 * The heartbeat Lease a process worker's runner asked for (none for a Job); 'refused' when it
 * cannot be created, since runners on other hosts would then judge the worker gone and clean up
 * under it. Losing it later stops the work as SIGTERM does.
 */
async function startHeartbeatIfAsked(
  heartbeats: HeartbeatModule,
  ctx: { kube: KubeRestCalls; log: Logger; ref: ObjectRef; stop: AbortController },
): Promise<Heartbeat | undefined | 'refused'> {
  const lease = heartbeats.heartbeatFromEnvironment(process.env);
  if (!lease) return undefined;
  const { log, ref } = ctx;
  try {
    return await heartbeats.startHeartbeat({
      kube: ctx.kube,
      lease,
      log,
      onLost: (why) => {
        log.warn({ namespace: ref.namespace, name: ref.name, why }, 'stopping the backup');
        ctx.stop.abort(new DumpFailedError(`the backup worker stopped: ${why}; apply a new Backup to try again`));
      },
    });
  } catch (err) {
    log.error({ ...ref, err: messageOf(err) }, 'the heartbeat Lease could not be created; the backup is not started');
    return 'refused';
  }
}

async function runWorkerBackup(ref: ObjectRef): Promise<void> {
  // Loaded here: `lifeboat check` should not pay for the Kubernetes client and the AWS SDK.
  const [{ restClientFromEnvironment }, { createLogger }, { runBackupWorker }, heartbeats] = await Promise.all([
    import('../lib/kube-rest.js'),
    import('../lib/logger.js'),
    import('../runner/backups/backup-worker.js'),
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
  const heartbeat = await startHeartbeatIfAsked(heartbeats, { kube, log, ref, stop });
  if (heartbeat === 'refused') {
    process.exitCode = 1;
    return;
  }
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
