// What runs a Backup's worker: a child process of the runner, or a Kubernetes Job. Both run the
// same command, `lifeboat worker backup <namespace>/<name>`, and the worker writes the outcome.
import type { Backup } from '../../crds/kinds.js';
import type { Stored } from '../reconcile/status-writer.js';

export type StoredBackup = Stored<Backup>;

export interface BackupRef {
  readonly namespace: string;
  readonly name: string;
}

/**
 * Whether the worker recorded in status.jobName still runs: `alive`; `gone` (ended without an
 * outcome); `missing` (not started yet, or never: the claim and the start are two steps, so the
 * reconciler allows a grace period); `unknown` (out of this runner's sight). `why` is worded to
 * complete "…; apply a new Backup to try again".
 */
export type WorkerState =
  | { readonly state: 'alive' }
  | { readonly state: 'gone'; readonly why: string }
  | { readonly state: 'missing'; readonly why: string }
  | { readonly state: 'unknown'; readonly why: string };

export interface StartedWorker {
  /** What status.jobName records: the Job's name, or `<host>/<pid>` of the process. */
  readonly jobName: string;
  /** For messages: "process 1234 on host x", "Job lifeboat-backup-…". */
  readonly description: string;
}

export interface WorkerExit {
  readonly backup: BackupRef;
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
  plannedJobName(backup: StoredBackup): string;
  /** Starts the worker. Rejects when it could not be started (a WorkFailure says why, for the user). */
  start(backup: StoredBackup): Promise<StartedWorker>;
  isAlive(backup: BackupRef, jobName: string): Promise<WorkerState>;
  /** Asks a worker to stop and clean up (SIGTERM); a no-op for one out of reach. */
  stop(backup: BackupRef, jobName: string): Promise<void>;
  /** Called when a worker this executor started ends; executors that cannot tell (Jobs) never call it. */
  onExit(listener: (exit: WorkerExit) => void): void;
  /** Stops tracking workers; running ones are left running and judged by whoever leads next. */
  close(): void;
}

/**
 * The environment that keeps a worker's memory flat, the same for a process and a Job (and for
 * bench/backup-bench.ts, so that its figure is the worker's). The archive's spent buffers (8 MiB
 * parts, 64 KiB pipe reads) live outside the JS heap, and V8 frees them only when it collects:
 * small semi-spaces and an old space capped at 128 MiB (the worker's heap holds ~25) make it
 * collect after a few parts instead of letting ~64 MiB of them pile up, and glibc's fixed mmap
 * threshold gives each freed part back to the kernel rather than keeping it in its heap. Peak RSS
 * of a 1 GiB mariabackup in bench/backup-bench.ts: 183-210 MiB without, 126-137 MiB with.
 */
export const WORKER_MEMORY_ENV = {
  NODE_OPTIONS: '--max-semi-space-size=1 --max-old-space-size=128',
  MALLOC_MMAP_THRESHOLD_: '131072',
} as const;

/** `base` with WORKER_MEMORY_ENV; what `base` sets itself wins (its NODE_OPTIONS come after ours). */
export function workerEnvironment(base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const nodeOptions = [WORKER_MEMORY_ENV.NODE_OPTIONS, base['NODE_OPTIONS']].filter(Boolean).join(' ');
  return { ...WORKER_MEMORY_ENV, ...base, NODE_OPTIONS: nodeOptions };
}

/** The worker's arguments after the program: the same for a process and a Job. */
export function workerArgs(backup: BackupRef): string[] {
  return ['worker', 'backup', `${backup.namespace}/${backup.name}`];
}

export function refOf(backup: StoredBackup): BackupRef {
  return { namespace: backup.metadata.namespace ?? 'default', name: backup.metadata.name ?? '' };
}
