// The process executor: the runner spawns `lifeboat worker <kind> <ns>/<name>` itself (local
// stacks, tests, machines without Jobs). status.jobName records `<host>/<pid>`, so a runner that
// restarts can tell whether the worker of running work is still alive. A runner on another
// host cannot see the process; it judges the worker by the heartbeat Lease the worker renews
// (worker-heartbeat.ts) in the runner's namespace.
//
// Output: the worker's stdout and stderr go to the runner's stderr (its own JSON log lines, with
// component "worker"), or are appended to `logFile` when one is given. Workers run in their own
// process group: a Ctrl-C or a runner stopping does not kill them; they finish and write their
// own outcome, and if they die unseen the next leading runner fails their Backup.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { messageOf } from '../../lib/error-message.js';
import type { KubeClient } from '../../lib/kube-client.js';
import type { Logger } from '../../lib/logger.js';
import { PACKAGE_ROOT } from '../../policies/cli/package-paths.js';
import { DumpFailedError } from '../work-failures.js';
import { DEFAULT_HEARTBEAT_SECONDS, HEARTBEAT_LEASE_ENV, HEARTBEAT_SECONDS_ENV } from '../worker/worker-heartbeat.js';
import {
  workerArgs,
  workerEnvironment,
  type Executor,
  type StartedWorker,
  type WorkerExit,
  type WorkerState,
  type WorkItem,
  type WorkRef,
} from './executor.js';

export interface ProcessExecutorOptions {
  /** The program and its first arguments; `worker <kind> <ns>/<name>` is appended. */
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
  /** Heartbeat Leases of the workers, so that runners on other hosts can judge them. */
  readonly heartbeat?: HeartbeatOptions;
}

export interface HeartbeatOptions {
  readonly leases: Pick<KubeClient, 'getLease' | 'deleteLease'>;
  /** Where the Leases live: the runner's namespace. */
  readonly namespace: string;
  /** A worker whose Lease went unrenewed this long is judged gone. Default 60 s. */
  readonly durationSeconds?: number;
  readonly now?: () => number;
}

/**
 * The heartbeat Lease of a worker: one per piece of work, as each runs once. The uid is part of
 * the name: work deleted and applied anew under the same name is other work, and its worker must
 * not renew, take over or delete the old worker's Lease.
 */
export function heartbeatLeaseName(work: WorkRef): string {
  const key = `${work.kind}:${work.uid ?? ''}:${work.namespace}/${work.name}`;
  const digest = createHash('sha256').update(key).digest('hex');
  return `lifeboat-worker-${digest.slice(0, 20)}`;
}

/** `node <package>/dist/cmd/lifeboat.js`: the CLI of the package the runner itself runs from. */
export function defaultWorkerCommand(): string[] {
  return [process.execPath, join(PACKAGE_ROOT, 'dist', 'cmd', 'lifeboat.js')];
}

interface Tracked {
  readonly work: WorkRef;
  readonly child: ChildProcess;
  how?: string;
}

/** Exited workers remembered for isAlive(), at most this many. */
const REMEMBER_EXITED = 256;
const NOT_STARTED = 'pending';

/** Heartbeats not looked at for this long beyond ten lease durations are forgotten. */
const FORGET_MARGIN_MS = 10 * 60_000;

/** `<host>/<pid>`; pid undefined when none was recorded (`<host>/pending`) or it does not parse. */
function parseJobName(jobName: string): { host: string; pid: number | undefined } {
  const slash = jobName.lastIndexOf('/');
  const pid = Number(jobName.slice(slash + 1));
  return {
    host: jobName.slice(0, Math.max(slash, 0)),
    pid: slash >= 0 && Number.isInteger(pid) && pid > 0 ? pid : undefined,
  };
}

/** Whether a pid is alive and, where /proc tells, still runs the worker of this work. */
export function processRunsWorker(pid: number, work: WorkRef): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    // ESRCH: gone. EPERM: it belongs to another user, so it is not a worker this runner started.
    return false;
  }
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (!argv.includes(work.kind) || !argv.includes(`${work.namespace}/${work.name}`)) return false;
    // A worker started with --uid runs for that object only (workers of older runners have none).
    const uid = argv.indexOf('--uid');
    return uid < 0 || work.uid === undefined || argv[uid + 1] === work.uid;
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
  /** Heartbeat Leases of other hosts' workers: the renewTime last seen, and when (this runner's clock). */
  private readonly heartbeats = new Map<string, { renewTimeMs: number | undefined; seenAtMs: number }>();
  private readonly listeners: ((exit: WorkerExit) => void)[] = [];
  /** Heartbeat Leases found gone after a stop, and since when (this runner's clock). */
  private readonly stopAsked = new Map<string, number>();

  constructor(private readonly options: ProcessExecutorOptions) {
    this.command = options.command ?? defaultWorkerCommand();
    if (this.command.length === 0) throw new Error('the worker command is empty; give at least the program to run');
    this.host = options.host ?? hostname();
  }

  plannedJobName(): string {
    return `${this.host}/${NOT_STARTED}`;
  }

  async start(work: WorkItem): Promise<StartedWorker> {
    const ref: WorkRef = {
      kind: work.kind,
      namespace: work.namespace,
      name: work.name,
      ...(work.uid ? { uid: work.uid } : {}),
    };
    const [program, ...first] = this.command as [string, ...string[]];
    const output = this.options.logFile ? openSync(this.options.logFile, 'a') : 2;
    let child: ChildProcess;
    try {
      child = spawn(program, [...first, ...workerArgs(ref)], {
        env: { ...workerEnvironment(this.options.env ?? process.env), ...this.heartbeatEnv(ref) },
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
        `the runner could not start the ${ref.kind} worker ${program} (${why}); check its worker command`,
      );
    } finally {
      if (typeof output === 'number' && output !== 2) closeSync(output);
    }
    const jobName = `${this.host}/${String(child.pid)}`;
    this.track(jobName, ref, child);
    this.options.log.info({ ...ref, pid: child.pid }, 'worker started');
    return { jobName, description: `process ${String(child.pid)} on host ${this.host}` };
  }

  async isAlive(backup: WorkRef, jobName: string): Promise<WorkerState> {
    const { host, pid } = parseJobName(jobName);
    const worker = `the ${backup.kind} worker`;
    if (pid === undefined) {
      // Spawned, perhaps, by a runner that stopped before recording the pid: its Lease tells.
      const never = `${worker} was never started (the runner stopped between claiming the work and starting it)`;
      return this.judgeByHeartbeat(backup, `${worker} (its process not recorded)`, {
        state: 'missing',
        why: never,
      });
    }
    if (host !== this.host) {
      const where = `${worker} (process ${pid} on host ${host})`;
      return this.judgeByHeartbeat(backup, where, {
        state: 'unknown',
        why: `${where} runs on another host than this runner's`,
      });
    }
    const known = this.tracked.get(jobName);
    if (known) {
      if (known.how === undefined) return { state: 'alive' };
      return { state: 'gone', why: `${worker} (process ${pid}) ${known.how} before finishing` };
    }
    if (processRunsWorker(pid, backup)) return { state: 'alive' };
    // Lingering: its heartbeat Lease, which nobody else will delete.
    const why = `${worker} (process ${pid}) is no longer running and did not finish`;
    return { state: 'gone', why, lingering: true };
  }

  async stop(backup: WorkRef, jobName: string): Promise<void> {
    const { host, pid } = parseJobName(jobName);
    if (host === this.host && pid !== undefined && processRunsWorker(pid, backup)) {
      this.options.log.warn({ ...backup, pid }, 'stopping a worker');
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // Exited meanwhile.
      }
    }
    // Deleting its Lease also tells a worker out of reach, still running somewhere, to stop.
    await this.dropHeartbeat(backup);
  }

  async hasStopped(work: WorkRef, jobName: string): Promise<boolean> {
    const { host, pid } = parseJobName(jobName);
    if (host === this.host && pid !== undefined) {
      const known = this.tracked.get(jobName);
      return known ? known.how !== undefined : !processRunsWorker(pid, work);
    }
    return this.heartbeatGone(work);
  }

  /**
   * A worker out of sight has stopped once its Lease has stayed away for a lease duration: it
   * renews every third of one, finds the Lease deleted, and stops.
   */
  private async heartbeatGone(work: WorkRef): Promise<boolean> {
    const hb = this.options.heartbeat;
    if (!hb) return true;
    const name = heartbeatLeaseName(work);
    const now = (hb.now ?? Date.now)();
    if (await hb.leases.getLease(hb.namespace, name)) {
      this.stopAsked.delete(name);
      return false;
    }
    const since = this.stopAsked.get(name) ?? now;
    this.stopAsked.set(name, since);
    return now - since >= (hb.durationSeconds ?? DEFAULT_HEARTBEAT_SECONDS) * 1000;
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

  private heartbeatEnv(backup: WorkRef): NodeJS.ProcessEnv {
    const hb = this.options.heartbeat;
    if (!hb) return {};
    return {
      [HEARTBEAT_LEASE_ENV]: `${hb.namespace}/${heartbeatLeaseName(backup)}`,
      [HEARTBEAT_SECONDS_ENV]: String(hb.durationSeconds ?? DEFAULT_HEARTBEAT_SECONDS),
    };
  }

  /**
   * A worker on another host is alive while its Lease's renewTime keeps changing, as seen by this
   * runner's clock (the two hosts' clocks need not agree). A runner that just took over first
   * watches for one lease duration.
   */
  private async judgeByHeartbeat(backup: WorkRef, where: string, withoutLease: WorkerState): Promise<WorkerState> {
    const hb = this.options.heartbeat;
    if (!hb) return withoutLease;
    const name = heartbeatLeaseName(backup);
    const lease = await hb.leases.getLease(hb.namespace, name);
    if (!lease) {
      const why = `${where} has no heartbeat Lease ${hb.namespace}/${name}`;
      return withoutLease.state === 'missing' ? withoutLease : { state: 'missing', why };
    }
    const now = (hb.now ?? Date.now)();
    // The longer of ours and the worker's: runners with different settings never judge too soon.
    const limitMs = Math.max(hb.durationSeconds ?? DEFAULT_HEARTBEAT_SECONDS, lease.leaseDurationSeconds) * 1000;
    this.forgetHeartbeats(now - 10 * limitMs - FORGET_MARGIN_MS);
    const seen = this.heartbeats.get(name);
    if (!seen || seen.renewTimeMs !== lease.renewTimeMs) {
      this.heartbeats.set(name, { renewTimeMs: lease.renewTimeMs, seenAtMs: now });
      return { state: 'alive' };
    }
    const silentMs = now - seen.seenAtMs;
    if (silentMs <= limitMs) return { state: 'alive' };
    const why = `${where} stopped renewing its heartbeat Lease ${Math.round(silentMs / 1000)} s ago (its host or runner is gone)`;
    return { state: 'gone', why, lingering: true };
  }

  /** Workers not judged for long (their Backups finished) are forgotten. */
  private forgetHeartbeats(before: number): void {
    for (const [name, seen] of this.heartbeats) if (seen.seenAtMs < before) this.heartbeats.delete(name);
  }

  private async dropHeartbeat(backup: WorkRef): Promise<void> {
    const hb = this.options.heartbeat;
    if (!hb) return;
    const name = heartbeatLeaseName(backup);
    this.heartbeats.delete(name);
    await hb.leases.deleteLease(hb.namespace, name);
  }

  private track(jobName: string, backup: WorkRef, child: ChildProcess): void {
    const entry: Tracked = { work: backup, child };
    this.tracked.set(jobName, entry);
    child.once('exit', (code, signal) => {
      entry.how = describeExit(code, signal);
      // A worker killed outright leaves its Lease; one that ended cleanly has deleted it.
      this.dropHeartbeat(backup).catch((err: unknown) =>
        this.options.log.warn({ ...backup, err: messageOf(err) }, 'heartbeat Lease not deleted'),
      );
      this.options.log.info({ ...backup, pid: child.pid, how: entry.how }, 'worker ended');
      this.forgetOldest();
      for (const listener of this.listeners) listener({ work: backup, jobName, how: entry.how });
    });
  }

  private forgetOldest(): void {
    const exited = [...this.tracked.entries()].filter(([, t]) => t.how !== undefined);
    for (const [name] of exited.slice(0, Math.max(0, exited.length - REMEMBER_EXITED))) this.tracked.delete(name);
  }
}
