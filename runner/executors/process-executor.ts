// The process executor: the runner spawns `lifeboat worker backup <ns>/<name>` itself (local
// stacks, tests, machines without Jobs). status.jobName records `<host>/<pid>`, so a runner that
// restarts can tell whether the worker of a running Backup is still alive.
//
// Output: the worker's stdout and stderr go to the runner's stderr (its own JSON log lines, with
// component "worker"), or are appended to `logFile` when one is given. Workers run in their own
// process group: a Ctrl-C or a runner stopping does not kill them; they finish and write their
// own outcome, and if they die unseen the next leading runner fails their Backup.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../../lib/logger.js';
import { PACKAGE_ROOT } from '../../policies/cli/package-paths.js';
import { DumpFailedError } from '../work-failures.js';
import {
  refOf,
  workerArgs,
  workerEnvironment,
  type BackupRef,
  type Executor,
  type StartedWorker,
  type StoredBackup,
  type WorkerExit,
  type WorkerState,
} from './executor.js';

export interface ProcessExecutorOptions {
  /** The program and its first arguments; `worker backup <ns>/<name>` is appended. */
  readonly command?: readonly string[];
  /**
   * The worker's environment; default the runner's own (KUBECONFIG, LIFEBOAT_LOG_LEVEL pass through).
   * WORKER_MEMORY_ENV is added to it.
   */
  readonly env?: NodeJS.ProcessEnv;
  /** Append the workers' output here instead of the runner's stderr. */
  readonly logFile?: string;
  /** The host name recorded in jobName; default os.hostname(). */
  readonly host?: string;
  readonly log: Logger;
}

/** `node <package>/dist/cmd/lifeboat.js`: the CLI of the package the runner itself runs from. */
export function defaultWorkerCommand(): string[] {
  return [process.execPath, join(PACKAGE_ROOT, 'dist', 'cmd', 'lifeboat.js')];
}

interface Tracked {
  readonly backup: BackupRef;
  readonly child: ChildProcess;
  how?: string;
}

/** Exited workers remembered for isAlive(), at most this many. */
const REMEMBER_EXITED = 256;
const NOT_STARTED = 'pending';

/** Whether a pid is alive and, where /proc tells, still runs the worker of this Backup. */
export function processRunsWorker(pid: number, backup: BackupRef): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    // ESRCH: gone. EPERM: it belongs to another user, so it is not a worker this runner started.
    return false;
  }
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.includes(`${backup.namespace}/${backup.name}`);
  } catch {
    return true; // no /proc (macOS): a live pid is the best evidence there is
  }
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `exited with signal ${signal}` : `exited with code ${String(code)}`;
}

export class ProcessExecutor implements Executor {
  readonly kind = 'process';
  // A second spawn would be a second worker on the same Backup.
  readonly restartable = false;
  private readonly command: readonly string[];
  private readonly host: string;
  private readonly tracked = new Map<string, Tracked>();
  private readonly listeners: ((exit: WorkerExit) => void)[] = [];

  constructor(private readonly options: ProcessExecutorOptions) {
    this.command = options.command ?? defaultWorkerCommand();
    if (this.command.length === 0) throw new Error('the worker command is empty; give at least the program to run');
    this.host = options.host ?? hostname();
  }

  plannedJobName(): string {
    return `${this.host}/${NOT_STARTED}`;
  }

  async start(backup: StoredBackup): Promise<StartedWorker> {
    const ref = refOf(backup);
    const [program, ...first] = this.command as [string, ...string[]];
    const output = this.options.logFile ? openSync(this.options.logFile, 'a') : 2;
    let child: ChildProcess;
    try {
      child = spawn(program, [...first, ...workerArgs(ref)], {
        env: workerEnvironment(this.options.env ?? process.env),
        stdio: ['ignore', output, output],
        detached: true,
      });
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      });
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new DumpFailedError(
        `the runner could not start the backup worker ${program} (${why}); check its worker command`,
      );
    } finally {
      if (typeof output === 'number' && output !== 2) closeSync(output);
    }
    const jobName = `${this.host}/${String(child.pid)}`;
    this.track(jobName, ref, child);
    this.options.log.info({ namespace: ref.namespace, name: ref.name, pid: child.pid }, 'backup worker started');
    return { jobName, description: `process ${String(child.pid)} on host ${this.host}` };
  }

  async isAlive(backup: BackupRef, jobName: string): Promise<WorkerState> {
    const slash = jobName.lastIndexOf('/');
    const host = jobName.slice(0, slash);
    const pid = Number(jobName.slice(slash + 1));
    if (slash < 0 || !Number.isInteger(pid) || pid <= 0) {
      return {
        state: 'missing',
        why: 'the backup worker was never started (the runner stopped between claiming the Backup and starting it)',
      };
    }
    if (host !== this.host) {
      return { state: 'unknown', why: `the backup worker (process ${pid}) runs on host ${host}, not on this runner's` };
    }
    const known = this.tracked.get(jobName);
    if (known) {
      if (known.how === undefined) return { state: 'alive' };
      return { state: 'gone', why: `the backup worker (process ${pid}) ${known.how} before finishing` };
    }
    if (processRunsWorker(pid, backup)) return { state: 'alive' };
    return { state: 'gone', why: `the backup worker (process ${pid}) is no longer running and did not finish` };
  }

  async stop(backup: BackupRef, jobName: string): Promise<void> {
    const slash = jobName.lastIndexOf('/');
    const pid = Number(jobName.slice(slash + 1));
    if (jobName.slice(0, slash) !== this.host || !Number.isInteger(pid) || pid <= 0) return;
    if (!processRunsWorker(pid, backup)) return;
    this.options.log.warn({ ...backup, pid }, 'stopping an overdue backup worker');
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // Exited meanwhile.
    }
  }

  onExit(listener: (exit: WorkerExit) => void): void {
    this.listeners.push(listener);
  }

  /** Workers keep running; the runner no longer waits for them to exit. */
  close(): void {
    for (const t of this.tracked.values()) if (t.how === undefined) t.child.unref();
    this.listeners.length = 0;
  }

  /** Workers started by this executor that have not exited. */
  running(): number {
    return [...this.tracked.values()].filter((t) => t.how === undefined).length;
  }

  private track(jobName: string, backup: BackupRef, child: ChildProcess): void {
    const entry: Tracked = { backup, child };
    this.tracked.set(jobName, entry);
    child.once('exit', (code, signal) => {
      entry.how = describeExit(code, signal);
      this.options.log.info({ ...backup, pid: child.pid, how: entry.how }, 'backup worker ended');
      this.forgetOldest();
      for (const listener of this.listeners) listener({ backup, jobName, how: entry.how });
    });
  }

  private forgetOldest(): void {
    const exited = [...this.tracked.entries()].filter(([, t]) => t.how !== undefined);
    for (const [name] of exited.slice(0, Math.max(0, exited.length - REMEMBER_EXITED))) this.tracked.delete(name);
  }
}
