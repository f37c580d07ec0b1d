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

/** The worker's arguments after the program: the same for a process and a Job. */
export function workerArgs(backup: BackupRef): string[] {
  return ['worker', 'backup', `${backup.namespace}/${backup.name}`];
}

export function refOf(backup: StoredBackup): BackupRef {
  return { namespace: backup.metadata.namespace ?? 'default', name: backup.metadata.name ?? '' };
}
