// What runs a worker: a child process of the runner, or a Kubernetes Job. Both run the same
// command, `lifeboat worker <backup|restore|bootstrap> <namespace>/<name>`, and the worker writes
// the outcome. Executors know work only by its kind and name (docs/runner.md).
import type { Backup, Cluster, LifeboatKind } from '../../crds/kinds.js';
import { effectiveObjectStore } from '../../crds/object-store-funcs.js';
import type { ObjectStoreSpec } from '../../crds/object-store-types.js';
import type { Stored } from '../status/status-writer.js';

export type StoredBackup = Stored<Backup>;

/** The worker subcommands: a Backup, a Restore, and a Cluster's spec.bootstrap.recovery. */
export const WORK_KINDS = ['backup', 'restore', 'bootstrap'] as const;
export type WorkKind = (typeof WORK_KINDS)[number];

/** The resource each kind of work is recorded on. */
export const WORK_OBJECT_KIND: Readonly<Record<WorkKind, LifeboatKind>> = {
  backup: 'Backup',
  restore: 'Restore',
  bootstrap: 'Cluster',
};

export interface WorkRef {
  readonly kind: WorkKind;
  readonly namespace: string;
  readonly name: string;
  /** The resource's uid, where known: a resource deleted and applied anew is other work. */
  readonly uid?: string | undefined;
}

/** What an executor needs to start a worker: which work, and whose credentials it runs with. */
export interface WorkItem extends WorkRef {
  /** The resource's uid: Jobs are owned by it and named after it. */
  readonly uid: string | undefined;
  /** The Cluster whose database account the worker uses. */
  readonly clusterName: string;
  /** The object store the worker reads or writes, given that Cluster; its keys go into a Job. */
  objectStore(cluster: Cluster): ObjectStoreSpec | undefined;
}

/** Backups were the first kind of work; many callers still speak of them. */
export type BackupRef = WorkRef;

/**
 * Whether the worker recorded in status.jobName still runs: `alive`; `gone` (ended without an
 * outcome); `missing` (not started yet, or never: the claim and the start are two steps, so the
 * reconciler allows a grace period); `unknown` (out of this runner's sight). `why` is worded to
 * complete "…; apply a new Backup to try again".
 */
export type WorkerState =
  | { readonly state: 'alive' }
  /** `lingering`: what was started still exists and could yet run (a stuck Job): stop it. */
  | { readonly state: 'gone'; readonly why: string; readonly lingering?: boolean }
  | { readonly state: 'missing'; readonly why: string }
  | { readonly state: 'unknown'; readonly why: string };

export interface StartedWorker {
  /** What status.jobName records: the Job's name, or `<host>/<pid>` of the process. */
  readonly jobName: string;
  /** For messages: "process 1234 on host x", "Job lifeboat-backup-…". */
  readonly description: string;
}

export interface WorkerExit {
  readonly work: WorkRef;
  readonly jobName: string;
  /** e.g. "exited with code 1", "exited with signal SIGKILL". */
  readonly how: string;
}

export interface Executor {
  readonly kind: 'process' | 'job';
  /**
   * start() may be called again for the same claim after it failed (or its result was not
   * recorded): it then takes what the first call created. Transient start errors are retried.
   */
  readonly restartable: boolean;
  /** The jobName the claim records, before anything is started. */
  plannedJobName(work: WorkItem): string;
  /** Starts the worker. Rejects when it could not be started (a WorkFailure says why, for the user). */
  start(work: WorkItem): Promise<StartedWorker>;
  isAlive(work: WorkRef, jobName: string): Promise<WorkerState>;
  /**
   * Asks a worker to stop and clean up (SIGTERM): a process of this host is signalled, a Job is
   * deleted with its pods. A no-op for a process out of reach.
   */
  stop(work: WorkRef, jobName: string): Promise<void>;
  /**
   * Whether the worker recorded in jobName has stopped, after stop(): its process has exited; its
   * Job is gone or finished and no pod of it still runs. A process out of this runner's sight has
   * stopped once its heartbeat Lease has stayed away for a lease duration (deleting the Lease tells
   * it to stop).
   */
  hasStopped(work: WorkRef, jobName: string): Promise<boolean>;
  /** Called when a worker this executor started ends; executors that cannot tell (Jobs) never call it. */
  onExit(listener: (exit: WorkerExit) => void): void;
  /** Stops tracking workers; running ones are left running and judged by whoever leads next. */
  close(): void;
}

/**
 * The environment that keeps a worker's memory flat, the same for a process and a Job (and for
 * bench/backup-bench.ts, so that its figure is the worker's). The pipe's 64 KiB reads live
 * outside the JS heap and are freed only when V8 collects the young objects that hold them:
 * 2 MiB semi-spaces make that happen every few dozen reads instead of every 16 MiB. Not 1 MiB:
 * collections that frequent catch reads still queued while a part uploads, move them to the old
 * generation, and their external memory then made V8 mark the whole heap 92 times for a 1 GiB
 * backup (0.9 s more CPU). glibc's fixed mmap threshold gives freed large blocks back to the
 * kernel rather than keeping them in its heap. (A capped old space, tried before, made V8 run a
 * full collection every ~80 ms on external memory alone: 2.5 s more CPU per GiB for nothing.)
 * Peak RSS of a 1 GiB mariabackup in bench/backup-bench.ts: 132-140 MiB (116-123 with 1 MiB).
 */
export const WORKER_MEMORY_ENV = {
  NODE_OPTIONS: '--max-semi-space-size=2',
  MALLOC_MMAP_THRESHOLD_: '131072',
} as const;

/** `base` with WORKER_MEMORY_ENV; what `base` sets itself wins (its NODE_OPTIONS come after ours). */
export function workerEnvironment(base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const nodeOptions = [WORKER_MEMORY_ENV.NODE_OPTIONS, base['NODE_OPTIONS']].filter(Boolean).join(' ');
  return { ...WORKER_MEMORY_ENV, ...base, NODE_OPTIONS: nodeOptions };
}

/**
 * The worker's arguments after the program: the same for a process and a Job. `--uid` names the
 * object the work was claimed on: the worker acts for it only, never for one re-created under the
 * same name (a uid is no secret).
 */
export function workerArgs(work: WorkRef): string[] {
  const uid = work.uid ? ['--uid', work.uid] : [];
  return ['worker', work.kind, `${work.namespace}/${work.name}`, ...uid];
}

export function refOf(backup: StoredBackup): WorkRef {
  return { kind: 'backup', namespace: backup.metadata.namespace ?? 'default', name: backup.metadata.name ?? '' };
}

/** A Backup as work: it runs with its Cluster's account and writes to its effective object store. */
export function backupWork(backup: StoredBackup): WorkItem {
  return {
    ...refOf(backup),
    uid: backup.metadata.uid,
    clusterName: backup.spec.cluster.name,
    objectStore: (cluster) => effectiveObjectStore(backup, cluster),
  };
}

/** `Backup shop/nightly`, `Restore shop/r1`, `Cluster shop/db (bootstrap)`: for messages. */
export function describeWork(work: WorkRef): string {
  const what = `${WORK_OBJECT_KIND[work.kind]} ${work.namespace}/${work.name}`;
  return work.kind === 'bootstrap' ? `${what} (bootstrap)` : what;
}
