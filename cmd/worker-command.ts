// `lifeboat worker backup|restore|bootstrap <namespace>/<name>`: runs one piece of claimed work, the
// same command whether the runner spawns it as a process or renders it into a Job. Exit 0 when it
// completed (or had finished before), 1 when it failed; the outcome is in the resource's status.
import { Command, InvalidArgumentError } from 'commander';
import { messageOf } from '../lib/error-message.js';
import type { KubeRestCalls } from '../lib/kube-rest.js';
import type { Logger } from '../lib/logger.js';
import { ApplyFailedError, DumpFailedError, type WorkFailure } from '../runner/work-failures.js';
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
type WorkKind = 'backup' | 'restore' | 'bootstrap';

/**
 * Why the work stopped, as its failure. A restore's says nothing of the target: a stop during the
 * apply adds "the SQL client was killed; the target may be partially restored" (sql-apply.ts), and
 * a stop before it has applied nothing.
 */
export function stoppedFailure(kind: WorkKind, why: string): WorkFailure {
  if (kind === 'backup') return new DumpFailedError(`the backup worker ${why}; apply a new Backup to try again`);
  return new ApplyFailedError(`the ${kind} worker ${why}`);
}

/**
 * The heartbeat Lease a process worker's runner asked for (none for a Job); 'refused' when it
 * cannot be created, since runners on other hosts would then judge the worker gone and clean up
 * under it. Losing it later stops the work as SIGTERM does.
 */
async function startHeartbeatIfAsked(
  heartbeats: HeartbeatModule,
  ctx: { kube: KubeRestCalls; log: Logger; ref: ObjectRef; stop: AbortController; kind: WorkKind },
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
        log.warn({ namespace: ref.namespace, name: ref.name, why }, `stopping the ${ctx.kind}`);
        ctx.stop.abort(stoppedFailure(ctx.kind, `stopped: ${why}`));
      },
    });
  } catch (err) {
    log.error(
      { ...ref, err: messageOf(err) },
      `the heartbeat Lease could not be created; the ${ctx.kind} is not started`,
    );
    return 'refused';
  }
}

/** Runs the work and says whether it failed. */
async function runWork(
  kind: WorkKind,
  ref: ObjectRef,
  deps: { kube: KubeRestCalls; log: Logger; signal: AbortSignal; uid?: string | undefined },
): Promise<boolean> {
  if (kind === 'backup') {
    const { runBackupWorker } = await import('../runner/backups/backup-worker.js');
    return (await runBackupWorker(ref.namespace, ref.name, { ...deps, leases: deps.kube })) === 'failed';
  }
  const { runRestoreWorker } = await import('../runner/restores/restore-worker.js');
  return (await runRestoreWorker(kind, ref.namespace, ref.name, deps)) === 'failed';
}

interface WorkerOptions {
  readonly uid?: string;
}

async function runWorker(kind: WorkKind, ref: ObjectRef, options: WorkerOptions = {}): Promise<void> {
  // Loaded here: `lifeboat check` should not pay for the Kubernetes client and the AWS SDK.
  const [{ restClientFromEnvironment }, { createLogger }, heartbeats] = await Promise.all([
    import('../lib/kube-rest.js'),
    import('../lib/logger.js'),
    import('../runner/worker/worker-heartbeat.js'),
  ]);
  const log = createLogger('worker');
  const stop = new AbortController();
  // SIGTERM (a Job's deadline, a node drain, the runner stopping, the resource deleted): stop the
  // tool, clean up, and record why, rather than leave the work running with nobody on it.
  const onSignal = (signal: NodeJS.Signals): void => {
    log.warn({ signal, namespace: ref.namespace, name: ref.name }, `stopping the ${kind}`);
    stop.abort(stoppedFailure(kind, `was stopped by ${signal} before it finished`));
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  // The light transport keeps @kubernetes/client-node (~75 MiB) out of the worker where it can.
  const kube = restClientFromEnvironment({}, (why) =>
    log.info({ why }, 'using the full Kubernetes client, which needs more memory'),
  );
  const heartbeat = await startHeartbeatIfAsked(heartbeats, { kube, log, ref, stop, kind });
  if (heartbeat === 'refused') {
    process.exitCode = 1;
    return;
  }
  try {
    process.exitCode = (await runWork(kind, ref, { kube, log, signal: stop.signal, uid: options.uid })) ? 1 : 0;
  } finally {
    await heartbeat?.stop();
  }
}

const UID_HELP =
  'act only for the object of this uid (the runner passes the one it claimed): one deleted and applied anew is left alone';

export function workerCommand(root: Command): void {
  const worker = root
    .command('worker')
    .description('run one piece of work the runner claimed (as a process or in a Job)');
  worker
    .command('backup')
    .description('back up the Cluster of a claimed Backup into its object store and write the outcome to its status')
    .argument('<namespace/name>', 'the Backup', refArgument)
    .option('--uid <uid>', UID_HELP)
    .action((ref: ObjectRef, options: WorkerOptions) => runWorker('backup', ref, options));
  worker
    .command('restore')
    .description(
      'verify the backup a claimed Restore names and apply it to its Cluster; the outcome goes to its status',
    )
    .argument('<namespace/name>', 'the Restore', refArgument)
    .option('--uid <uid>', UID_HELP)
    .action((ref: ObjectRef, options: WorkerOptions) => runWorker('restore', ref, options));
  worker
    .command('bootstrap')
    .description("restore a new Cluster's spec.bootstrap.recovery once; the outcome goes to its status.bootstrap")
    .argument('<namespace/name>', 'the Cluster', refArgument)
    .option('--uid <uid>', UID_HELP)
    .action((ref: ObjectRef, options: WorkerOptions) => runWorker('bootstrap', ref, options));
}
