// `lifeboat runner`: informers feed a work queue keyed by kind, the queue feeds one reconciler per
// kind (the table in reconcilerTable) while this runner holds the leader Lease, an executor runs
// the workers, and a small HTTP server answers /healthz and /metrics. docs/runner.md has the design.
//
// Shutdown (stop(), on SIGTERM): the queue takes no new work and the reconciles in progress end,
// the informers stop, the Lease is released so another runner takes over at once, and the HTTP
// server closes. Running workers are NOT stopped or waited for: they finish and write their own
// outcome; a worker that dies meanwhile is found by whichever runner leads next (process: by
// host/pid, Job: by its status) and its work is failed.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { DEFAULT_KUBE_TIMEOUT_MS } from '../lib/kube-client.js';
import { restClientFromEnvironment, type RunnerKubeCalls } from '../lib/kube-rest.js';
import { createLogger, type Logger } from '../lib/logger.js';
import type { WorkerJobOptions } from './executors/worker-job.js';
import { WORK_OBJECT_KIND, type Executor } from './executors/executor.js';
import type { LifeboatKind } from '../crds/kinds.js';
import { JobExecutor } from './executors/job-executor.js';
import { ProcessExecutor } from './executors/process-executor.js';
import { backupLeftovers } from './backups/backup-leftovers.js';
import { backupKind } from './backups/backup-reconciler.js';
import { clusterBackupsReconciler } from './clusters/cluster-backups-reconciler.js';
import { clusterBusy } from './restores/cluster-busy.js';
import { ScheduleReconciler } from './schedules/schedule-reconciler.js';
import { retentionReconciler } from './retention/retention-reconciler.js';
import { bootstrapKind, restoreKind } from './restores/restore-reconciler.js';
import {
  RunOnceReconciler,
  type RunOnceDeps,
  type RunOnceKind,
  type StoredObject,
} from './reconcile/run-once-reconciler.js';
import { EventRecorder } from './status/event-recorder.js';
import { InformerLoop, type InformerEvent } from './reconcile/informer-loop.js';
import { KeyedLock } from './reconcile/keyed-lock.js';
import type { KeyedReconciler } from './reconcile/keyed-reconciler.js';
import { LeaderLease } from './reconcile/leader-lease.js';
import { WorkQueue } from './reconcile/work-queue.js';
import { WorkerSlots } from './reconcile/worker-slots.js';
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
  /** process executor: program and first arguments, before `worker <kind> <ns>/<name>`. */
  readonly workerCommand?: readonly string[];
  /** process executor: append worker output here instead of the runner's stderr. */
  readonly workerLogFile?: string;
  /** process executor: how long a worker's heartbeat Lease may go unrenewed. Default 60 s. */
  readonly workerHeartbeatSeconds?: number;
  /** job executor: required with executor `job`. */
  readonly job?: WorkerJobOptions;
  /** Objects reconciled at the same time. Default 4. */
  readonly concurrency?: number;
  /** Workers (Backups, Restores, bootstraps) running at once; more work waits, pending. Default 4. */
  readonly maxWorkers?: number;
  /** Run only these reconcilers (Backup, Restore, Cluster, ScheduledBackup, …); all when absent. */
  readonly reconcilers?: readonly string[];
}

export interface RunnerDeps {
  /** Default: the light transport (lib/kube-rest.ts) where the kubeconfig allows it, else KubeClient. */
  readonly kube?: RunnerKubeCalls;
  readonly log?: Logger;
}

export interface RunningRunner {
  readonly port: number;
  readonly identity: string;
  readonly metrics: RunnerMetrics;
  isLeader(): boolean;
  stop(): Promise<void>;
}

function makeExecutor(options: RunnerOptions, kube: RunnerKubeCalls, log: Logger): Executor {
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

/** Queue keys name the reconciler: `Backup/shop/nightly`, `ScheduledBackup/shop/nightly`. */
const keyOf = (handler: string, namespace: string, name: string): string => `${handler}/${namespace}/${name}`;

function splitKey(key: string): [string, string, string] {
  const [handler, namespace, ...name] = key.split('/');
  return [handler ?? '', namespace ?? '', name.join('/')];
}

/**
 * One line per failed reconcile, naming the object as kind, namespace and name. Not under `key`:
 * the logger censors every field of that name (it may be a TLS key), which hid the object.
 */
export function logReconcileFailure(log: Logger, key: string, err: unknown, retryInMs: number): void {
  const [kind, namespace, name] = splitKey(key);
  const message = err instanceof Error ? err.message : String(err);
  log.warn({ kind, namespace, name, err: message, retryInMs }, 'reconcile failed');
}

interface Assembly {
  readonly metrics: RunnerMetrics;
  readonly executor: Executor;
  readonly informers: InformerLoop;
  readonly queue: WorkQueue;
  readonly lease: LeaderLease;
}

interface TableInputs {
  readonly kube: RunnerKubeCalls;
  readonly log: Logger;
  readonly metrics: RunnerMetrics;
  readonly informers: InformerLoop;
  readonly base: RunOnceDeps;
  readonly events: EventRecorder;
  readonly enqueue: (handler: string, namespace: string, name: string) => void;
  readonly isLeader: () => boolean;
  /** The namespace the runner watches; every namespace when undefined. */
  readonly namespace?: string | undefined;
}

/** Every reconciler, registered here once; the runner starts from this table. */
function reconcilerTable(inputs: TableInputs, executor: Executor): Map<string, KeyedReconciler> {
  const { kube, log, metrics, informers, base } = inputs;
  const reading = (kind: LifeboatKind): RunOnceDeps => ({
    ...base,
    read: async (ns, name) => informers.get(kind, ns, name) ?? kube.getLifeboat(kind, ns, name),
  });
  const busy = clusterBusy(kube);
  const runOnce = [
    backupKind({
      ...reading('Backup'),
      metrics,
      releaseLeftovers: backupLeftovers(kube, log),
      clusterBusy: busy.forBackup,
    }),
    restoreKind({ metrics, clusterBusy: busy.forRestore }),
    bootstrapKind({ metrics, clusterBusy: busy.forBootstrap }),
  ] as unknown as RunOnceKind<StoredObject>[];
  const reconcilers: KeyedReconciler[] = runOnce.map((kind) =>
    runOnceEntry(kind, new RunOnceReconciler(kind, reading(kind.objectKind)), executor, log),
  );
  reconcilers.push(
    new ScheduleReconciler({
      client: kube,
      events: inputs.events,
      log,
      metrics,
      cache: informers,
      requeue: (namespace, name) => inputs.enqueue('ScheduledBackup', namespace, name),
      isLeader: inputs.isLeader,
    }),
  );
  reconcilers.push(clusterBackupsReconciler({ client: kube, cache: informers, events: base.events, log, metrics }));
  reconcilers.push(retentionReconciler({ kube, events: base.events, log, metrics, usesNamespace: inputs.namespace }));
  return new Map(reconcilers.map((r) => [r.name, r]));
}

function onlyWanted(table: Map<string, KeyedReconciler>, options: RunnerOptions): Map<string, KeyedReconciler> {
  if (!options.reconcilers) return table;
  const unknown = options.reconcilers.filter((name) => !table.has(name));
  if (unknown.length > 0) {
    throw new Error(`no reconciler named ${unknown.join(', ')}; the runner has ${[...table.keys()].join(', ')}`);
  }
  return new Map([...table].filter(([name]) => options.reconcilers?.includes(name)));
}

/** Run-once work (Backup, Restore, bootstrap) is keyed by its kind; deleting it stops its worker. */
function runOnceEntry(
  kind: RunOnceKind<StoredObject>,
  reconciler: RunOnceReconciler<StoredObject>,
  executor: Executor,
  log: Logger,
): KeyedReconciler {
  return {
    name: kind.objectKind,
    watches: kind.objectKind,
    reconcile: async (namespace, name) => {
      const { result } = await reconciler.reconcile(namespace, name);
      return result.next === 'requeue' ? { requeueAfterMs: result.afterMs } : undefined;
    },
    onDeleted: (event) => stopDeleted(kind, executor, event, log),
  };
}

function assemble(options: RunnerOptions, kube: RunnerKubeCalls, log: Logger, identity: string): Assembly {
  const metrics = createRunnerMetrics();
  const executor = makeExecutor(options, kube, log);
  const enqueue = (handler: string, namespace: string, name: string): void =>
    queue.add(keyOf(handler, namespace, name));
  let table = new Map<string, KeyedReconciler>();
  const informers = new InformerLoop(kube, {
    kinds: ['Cluster', 'Backup', 'ScheduledBackup', 'Restore'],
    namespace: options.namespace,
    log,
    onEvent: (event: InformerEvent) => {
      for (const entry of table.values()) {
        if (entry.watches === event.kind) {
          if (event.type === 'delete' && lease.isLeader()) entry.onDeleted?.(event);
          enqueue(entry.name, event.namespace, event.name);
        }
        for (const ref of entry.related?.(event) ?? []) enqueue(entry.name, ref.namespace, ref.name);
      }
    },
  });
  const events = new EventRecorder(kube, { log });
  const slots = new WorkerSlots(options.maxWorkers ?? DEFAULT_MAX_WORKERS, () => runningWork(informers));
  const base: RunOnceDeps = {
    client: kube,
    executor,
    events,
    log,
    identity,
    claimLock: new KeyedLock(),
    finalizers: kube,
    slots,
  };
  const isLeader = (): boolean => lease.isLeader();
  table = onlyWanted(
    reconcilerTable(
      { kube, log, metrics, informers, base, events, enqueue, isLeader, namespace: options.namespace },
      executor,
    ),
    options,
  );
  const queue = new WorkQueue({
    concurrency: options.concurrency ?? 4,
    // Keys queued while not leading are dropped here; taking the lead queues every object again.
    handler: async (key) => {
      if (!lease.isLeader()) return undefined;
      const [handler, namespace, name] = splitKey(key);
      return table.get(handler)?.reconcile(namespace, name);
    },
    onError: (key, err, retryInMs) => logReconcileFailure(log, key, err, retryInMs),
  });
  executor.onExit((exit) => enqueue(WORK_OBJECT_KIND[exit.work.kind], exit.work.namespace, exit.work.name));
  const lease = new LeaderLease(kube, {
    ...options.lease,
    leaseDurationSeconds: options.lease.durationSeconds,
    identity,
    log,
    onStartedLeading: () => {
      for (const entry of table.values()) {
        entry.onLeadership?.(true);
        for (const object of informers.list(entry.watches)) {
          const meta = (object as { metadata?: { namespace?: string; name?: string } }).metadata;
          if (meta?.namespace && meta.name) enqueue(entry.name, meta.namespace, meta.name);
        }
      }
    },
    onStoppedLeading: () => {
      for (const entry of table.values()) entry.onLeadership?.(false);
    },
  });
  return { metrics, executor, informers, queue, lease };
}

export const DEFAULT_MAX_WORKERS = 4;

/** The uids of the work the informer caches show running, of every kind: what holds a worker slot. */
function runningWork(informers: InformerLoop): string[] {
  const uids: string[] = [];
  for (const kind of ['Backup', 'Restore', 'Cluster'] as const) {
    for (const object of informers.list(kind)) {
      const o = object as { metadata?: { uid?: string }; status?: { phase?: string; bootstrap?: { phase?: string } } };
      const phase = kind === 'Cluster' ? o.status?.bootstrap?.phase : o.status?.phase;
      if (phase === 'running' && o.metadata?.uid) uids.push(o.metadata.uid);
    }
  }
  return uids;
}

/**
 * Deleting running work stops its worker: nobody is left to read what it would write. Work the
 * runner holds with its finalizer is stopped before it goes (run-once-reconciler.ts); this is for
 * work claimed by a runner that put none.
 */
function stopDeleted(kind: RunOnceKind<StoredObject>, executor: Executor, event: InformerEvent, log: Logger): void {
  const object = event.object as StoredObject | undefined;
  const record = object ? kind.record(object) : undefined;
  if (record?.phase !== 'running' || !record.jobName) return;
  const work = { kind: kind.workKind, namespace: event.namespace, name: event.name, uid: object?.metadata.uid };
  log.info({ ...work, jobName: record.jobName }, 'running work was deleted; stopping its worker');
  executor
    .stop(work, record.jobName)
    .catch((err: unknown) =>
      log.warn(
        { ...work, err: err instanceof Error ? err.message : String(err) },
        'the worker of deleted work was not stopped',
      ),
    );
}

/**
 * The runner's client from the environment: the light transport, unless the kubeconfig needs what
 * only client-node can do (kube-connection.ts), which is logged. Every call bounded by `timeoutMs`.
 */
export function runnerClient(options: { fieldManager?: string; timeoutMs?: number }, log: Logger): RunnerKubeCalls {
  return restClientFromEnvironment({ timeoutMs: DEFAULT_KUBE_TIMEOUT_MS, ...options }, (why) =>
    log.info({ why }, 'talking to the API server through @kubernetes/client-node'),
  );
}

/** Starts the runner; stop() it on SIGTERM (see the file comment for what stopping leaves running). */
export async function startRunner(options: RunnerOptions, deps: RunnerDeps = {}): Promise<RunningRunner> {
  const log = deps.log ?? createLogger('runner');
  const kube = deps.kube ?? runnerClient({ fieldManager: 'lifeboat-runner' }, log);
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
