// `lifeboat runner`: flags in, a running runner out (informers, leader Lease, Backup reconciler,
// workers), stopped cleanly on SIGTERM. Running workers are left to finish and write their outcome.
import { Command, InvalidArgumentError, Option } from 'commander';
import { parseListenAddress, type ListenAddress } from '../webhook/webhook-server.js';
import { durationOption, hostPatternsOption, untilStopped } from './cli-options.js';

interface RunnerFlags {
  namespace?: string;
  leaseNamespace: string;
  leaseName: string;
  leaseDuration: number;
  listen: ListenAddress;
  executor: 'process' | 'job';
  workerLog?: string;
  workerHeartbeat: number;
  image?: string;
  serviceAccount?: string;
  workerUser?: number | 'cluster';
  concurrency: number;
  allowedEndpoints?: string[];
  allowedDbHosts?: string[];
  apiTimeout: number;
  maxWorkers: number;
}

function listenOption(text: string): ListenAddress {
  const address = parseListenAddress(text);
  if (!address) throw new InvalidArgumentError('write HOST:PORT, e.g. 0.0.0.0:9090 or 127.0.0.1:19090.');
  return address;
}

function countOption(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new InvalidArgumentError('write a whole number from 1 to 64.');
  return n;
}

function secondsOption(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 5 || n > 300) throw new InvalidArgumentError('write whole seconds from 5 to 300.');
  return n;
}

export function workerUserOption(text: string): number | 'cluster' {
  if (text === 'cluster') return text;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 2 ** 31 - 1)
    throw new InvalidArgumentError('write a non-root user id (a whole number from 1), or `cluster`.');
  return n;
}

/** Flags that parse but do not go together. */
class RunnerFlagsError extends Error {
  readonly reason = 'InvalidFlags';
}

async function runRunner(flags: RunnerFlags): Promise<void> {
  if (flags.executor === 'job' && !flags.image) {
    throw new RunnerFlagsError('--executor job needs --image, the Lifeboat image the Job runs the worker in');
  }
  // Loaded here: `lifeboat check` should not pay for the Kubernetes client.
  const [{ createLogger }, { runnerClient, startRunner }, { allowlistEnv }] = await Promise.all([
    import('../lib/logger.js'),
    import('../runner/runner-main.js'),
    import('../runner/worker/worker-allowlists.js'),
  ]);
  const log = createLogger('runner');
  // The worker re-checks the allowlists before it acts; a worker process inherits them from here.
  const allowlists = allowlistEnv({
    allowedEndpoints: flags.allowedEndpoints,
    allowedDatabaseHosts: flags.allowedDbHosts,
  });
  Object.assign(process.env, allowlists);
  const running = await startRunner(
    {
      ...(flags.namespace ? { namespace: flags.namespace } : {}),
      lease: { namespace: flags.leaseNamespace, name: flags.leaseName, durationSeconds: flags.leaseDuration },
      listen: flags.listen,
      executor: flags.executor,
      ...(flags.workerLog ? { workerLogFile: flags.workerLog } : {}),
      workerHeartbeatSeconds: flags.workerHeartbeat,
      ...(flags.image
        ? {
            job: {
              image: flags.image,
              env: allowlists,
              ...(flags.serviceAccount ? { serviceAccountName: flags.serviceAccount } : {}),
              ...(flags.workerUser !== undefined ? { runAsUser: flags.workerUser } : {}),
            },
          }
        : {}),
      concurrency: flags.concurrency,
      maxWorkers: flags.maxWorkers,
    },
    { kube: runnerClient({ timeoutMs: flags.apiTimeout * 1000 }, log), log },
  );
  log.info({ port: running.port, identity: running.identity }, 'runner started');
  await untilStopped(log, () => running.stop());
}

export function runnerCommand(root: Command): void {
  root
    .command('runner')
    .description('reconcile Lifeboat resources: claim new Backups and run their workers; one active runner per Lease')
    .option('-n, --namespace <ns>', 'watch this namespace only (default: all namespaces)')
    .option(
      '--lease-namespace <ns>',
      'namespace of the leader election Lease',
      process.env['POD_NAMESPACE'] ?? 'lifeboat-system',
    )
    .option('--lease-name <name>', 'name of the leader election Lease', 'lifeboat-runner')
    .option('--lease-duration <seconds>', 'how long a silent leader keeps the Lease', secondsOption, 15)
    .option(
      '--listen <host:port>',
      'plain HTTP address for /healthz and /metrics',
      listenOption,
      listenOption('0.0.0.0:9090'),
    )
    .addOption(
      new Option('--executor <kind>', 'run workers as local processes or as Kubernetes Jobs')
        .choices(['process', 'job'])
        .default('process'),
    )
    .option('--worker-log <file>', 'process executor: append worker output to this file (default: the runner stderr)')
    .option(
      '--worker-heartbeat <seconds>',
      'process executor: a worker whose heartbeat Lease goes unrenewed this long is judged gone by runners on other hosts',
      secondsOption,
      60,
    )
    .option('--image <image>', 'job executor: the Lifeboat image the worker Job runs')
    .option('--service-account <name>', 'job executor: the service account of the worker Job')
    .option(
      '--worker-user <uid|cluster>',
      "job executor: the worker pod's user and group (default 65532, the image's); `cluster` sets none, for clusters that assign them (OpenShift)",
      workerUserOption,
    )
    .option('--concurrency <n>', 'Backups reconciled at once', countOption, 4)
    .option(
      '--allowed-endpoints <patterns>',
      'workers refuse object stores whose endpoint host matches none of these comma-separated patterns (host, *.domain, *)',
      hostPatternsOption,
    )
    .option(
      '--allowed-db-hosts <patterns>',
      'workers refuse Clusters whose static instance hosts match none of these comma-separated patterns',
      hostPatternsOption,
    )
    .option(
      '--api-timeout <duration>',
      'give up on an API server call (not a watch) after this long',
      durationOption,
      30,
    )
    .option(
      '--max-workers <n>',
      'workers (Backups, Restores, bootstraps) run at once; more work waits, pending, for a free slot',
      countOption,
      4,
    )
    .action(runRunner);
}
