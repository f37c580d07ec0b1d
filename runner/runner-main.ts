// `lifeboat runner`: informers feed a work queue, the queue feeds the Backup reconciler while this
// runner holds the leader Lease, an executor runs the workers, and a small HTTP server answers
// /healthz and /metrics.
//
// Shutdown (stop(), on SIGTERM): the queue takes no new work and the reconciles in progress end,
// the informers stop, the Lease is released so another runner takes over at once, and the HTTP
// server closes. Running workers are NOT stopped or waited for: they finish and write their own
// outcome; a worker that dies meanwhile is found by whichever runner leads next (process: by
// host/pid, Job: by its status) and its Backup is failed with reason DumpFailed.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { KubeClient } from '../lib/kube-client.js';
import { createLogger, type Logger } from '../lib/logger.js';
import type { BackupJobOptions } from './executors/backup-job.js';
import type { Executor } from './executors/executor.js';
import { JobExecutor } from './executors/job-executor.js';
import { ProcessExecutor } from './executors/process-executor.js';
import { backupLeftovers } from './reconcile/backup-leftovers.js';
import { BackupReconciler } from './reconcile/backup-reconciler.js';
import { EventRecorder } from './reconcile/event-recorder.js';
import { InformerLoop, type InformerEvent } from './reconcile/informer-loop.js';
import { LeaderLease } from './reconcile/leader-lease.js';
import { WorkQueue } from './reconcile/work-queue.js';
import { createRunnerMetrics, type RunnerMetrics } from './runner-metrics.js';

export interface RunnerOptions {
  /** Watch and act in this namespace only; every namespace when absent. */
  readonly namespace?: string;
  /** The coordination.k8s.io/v1 Lease the runners elect their leader with. */
  readonly lease: { readonly namespace: string; readonly name: string; readonly durationSeconds?: number };
  /** This runner's name in the Lease; default `<hostname>_<pid>`. */
  readonly identity?: string;
  /** Plain HTTP for /healthz and /metrics, e.g. { host: '127.0.0.1', port: 9090 } (port 0: any free port). */
  readonly listen: { readonly host: string; readonly port: number };
  readonly executor: 'process' | 'job';
  /** process executor: program and first arguments, before `worker backup <ns>/<name>`. */
  readonly workerCommand?: readonly string[];
  /** process executor: append worker output here instead of the runner's stderr. */
  readonly workerLogFile?: string;
  /** process executor: how long a worker's heartbeat Lease may go unrenewed. Default 60 s. */
  readonly workerHeartbeatSeconds?: number;
  /** job executor: required with executor `job`. */
  readonly job?: BackupJobOptions;
  /** Backups reconciled at the same time. Default 4. */
  readonly concurrency?: number;
}

export interface RunnerDeps {
  readonly kube?: KubeClient;
  readonly log?: Logger;
}

export interface RunningRunner {
  readonly port: number;
  readonly identity: string;
  readonly metrics: RunnerMetrics;
  isLeader(): boolean;
  stop(): Promise<void>;
}

function makeExecutor(options: RunnerOptions, kube: KubeClient, log: Logger): Executor {
  if (options.executor === 'process') {
    return new ProcessExecutor({
      command: options.workerCommand,
      logFile: options.workerLogFile,
      log,
      heartbeat: {
        leases: kube,
        namespace: options.lease.namespace,
        ...(options.workerHeartbeatSeconds ? { durationSeconds: options.workerHeartbeatSeconds } : {}),
      },
    });
  }
  if (!options.job) throw new Error('the job executor needs job options (at least the worker image)');
  return new JobExecutor(kube, options.job);
}

function listen(server: Server, address: RunnerOptions['listen']): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (err) =>
      reject(new Error(`cannot serve /healthz and /metrics on ${address.host}:${address.port}: ${err.message}`)),
    );
    server.listen(address.port, address.host, () => resolve((server.address() as AddressInfo).port));
  });
}

function httpServer(metrics: RunnerMetrics, health: () => object): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(health()));
    } else if (req.method === 'GET' && path === '/metrics') {
      void metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /healthz or /metrics\n');
    }
  });
}

const splitKey = (key: string): [string, string] => {
  const slash = key.indexOf('/');
  return [key.slice(0, slash), key.slice(slash + 1)];
};

interface Assembly {
  readonly metrics: RunnerMetrics;
  readonly executor: Executor;
  readonly informers: InformerLoop;
  readonly queue: WorkQueue;
  readonly lease: LeaderLease;
}

function assemble(options: RunnerOptions, kube: KubeClient, log: Logger, identity: string): Assembly {
  const metrics = createRunnerMetrics();
  const executor = makeExecutor(options, kube, log);
  const enqueue = (namespace: string, name: string): void => queue.add(`${namespace}/${name}`);
  const informers = new InformerLoop(kube, {
    kinds: ['Cluster', 'Backup', 'ScheduledBackup', 'Restore'],
    namespace: options.namespace,
    log,
    onEvent: (event: InformerEvent) => {
      if (event.kind === 'Backup' && event.type !== 'delete') enqueue(event.namespace, event.name);
    },
  });
  const reconciler = new BackupReconciler({
    client: kube,
    executor,
    events: new EventRecorder(kube, { log }),
    metrics,
    log,
    identity,
    read: async (ns, name) => informers.get('Backup', ns, name) ?? kube.getLifeboat('Backup', ns, name),
    releaseLeftovers: backupLeftovers(kube, log),
  });
  const queue = new WorkQueue({
    concurrency: options.concurrency ?? 4,
    // Keys queued while not leading are dropped here; taking the lead queues every Backup again.
    handler: async (key) => {
      if (!lease.isLeader()) return undefined;
      const { result } = await reconciler.reconcile(...splitKey(key));
      return result.next === 'requeue' ? { requeueAfterMs: result.afterMs } : undefined;
    },
    onError: (key, err, retryInMs) =>
      log.warn({ key, err: err instanceof Error ? err.message : String(err), retryInMs }, 'reconcile failed'),
  });
  executor.onExit((exit) => enqueue(exit.backup.namespace, exit.backup.name));
  const lease = new LeaderLease(kube, {
    ...options.lease,
    leaseDurationSeconds: options.lease.durationSeconds,
    identity,
    log,
    onStartedLeading: () => {
      for (const object of informers.list('Backup')) {
        const meta = (object as { metadata?: { namespace?: string; name?: string } }).metadata;
        if (meta?.namespace && meta.name) enqueue(meta.namespace, meta.name);
      }
    },
  });
  return { metrics, executor, informers, queue, lease };
}

/** Starts the runner; stop() it on SIGTERM (see the file comment for what stopping leaves running). */
export async function startRunner(options: RunnerOptions, deps: RunnerDeps = {}): Promise<RunningRunner> {
  const log = deps.log ?? createLogger('runner');
  const kube = deps.kube ?? KubeClient.fromEnvironment({ fieldManager: 'lifeboat-runner' });
  const identity = options.identity ?? `${hostname()}_${process.pid}`;
  const { metrics, executor, informers, queue, lease } = assemble(options, kube, log, identity);
  const health = (): object => ({ status: 'ok', identity, leader: lease.isLeader(), queue: queue.size });
  const server = httpServer(metrics, health);
  const port = await listen(server, options.listen);
  informers.start();
  lease.start();
  log.info({ identity, port, executor: executor.kind, namespace: options.namespace ?? '(all)' }, 'runner started');
  return {
    port,
    identity,
    metrics,
    isLeader: () => lease.isLeader(),
    stop: async () => {
      log.info({ identity }, 'runner stopping');
      await queue.shutdown();
      informers.stop();
      await lease.stop({ release: true });
      executor.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      log.info({ identity }, 'runner stopped');
    },
  };
}
