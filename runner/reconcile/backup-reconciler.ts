// The Backup reconciler: claim a new Backup (once, however many runners race), start its worker,
// and make sure it never stays `running` after the worker is gone. The worker writes the outcome
// itself (phase completed/failed, sha256, size…, normally with Ready and an Event); the runner
// fills in what a worker left out (Ready, Event), counts the outcome in its metrics, and never
// runs a completed or failed Backup again.
import type { FailureReason } from '../../crds/failure-reasons.js';
import type { Backup } from '../../crds/kinds.js';
import type { Logger } from '../../lib/logger.js';
import { refOf, type Executor, type StoredBackup } from '../executors/executor.js';
import { noteCompleted, observePhase, type RunnerMetrics } from '../runner-metrics.js';
import { WorkFailure } from '../work-failures.js';
import { systemClock, type Clock } from './clock.js';
import {
  needsAnnouncing,
  outcomeCondition,
  outcomeEvent,
  readyMatches,
  timestamp,
  workerEnded,
} from './backup-outcome.js';
import { getCondition, REASONS, setCondition, type ConditionInput } from './conditions.js';
import type { Leftovers, ReleaseLeftovers } from './backup-leftovers.js';
import type { EventRecorder } from './event-recorder.js';
import { CONTINUE, DONE, requeue, runSteps, type Step, type StepOutcome, type StepResult } from './reconcile-steps.js';
import { updateStatus, type StatusClient } from './status-writer.js';

export interface BackupReconcilerDeps {
  readonly client: StatusClient;
  readonly executor: Executor;
  readonly events: EventRecorder;
  readonly metrics?: RunnerMetrics;
  readonly log: Logger;
  /** Names this runner in messages (the leader Lease identity). */
  readonly identity: string;
  readonly clock?: Clock;
  /**
   * Where decisions start from; default a fresh read. The runner passes its informer cache: every
   * write re-reads and re-checks, so a stale cached object can cost a pass, never a wrong write.
   */
  readonly read?: (namespace: string, name: string) => Promise<unknown>;
  /** How often a running Backup's worker is looked at. Default 30 s. */
  readonly livenessCheckMs?: number;
  /**
   * A worker that has not finished after this long is given up: failed with Timeout, and stopped
   * where the runner can (its own processes; a Job has its own activeDeadlineSeconds, 6 h by
   * default). Default 6 h 10 min.
   */
  readonly workerDeadlineMs?: number;
  /** A claimed Backup whose worker has not appeared is failed after this long. Default 60 s. */
  readonly startGraceMs?: number;
  /** Cleans up what a dead worker left in the object store, before its Backup is failed. */
  readonly releaseLeftovers?: ReleaseLeftovers;
}

interface BackupContext {
  readonly namespace: string;
  readonly name: string;
  backup?: StoredBackup;
  /** Set when this pass claimed the Backup: only then is a worker started. */
  claimedNow?: boolean;
}

const TERMINAL = new Set(['completed', 'failed']);
const TRY_AGAIN = 'apply a new Backup to try again';

export class BackupReconciler {
  readonly steps: readonly Step<BackupContext>[] = [
    { name: 'load', run: (c) => this.load(c) },
    { name: 'announceOutcome', run: (c) => this.announceOutcome(c) },
    { name: 'skipTerminal', run: (c) => this.skipTerminal(c) },
    { name: 'claim', run: (c) => this.claim(c) },
    { name: 'start', run: (c) => this.start(c) },
    { name: 'watch', run: (c) => this.watch(c) },
  ];
  private readonly clock: Clock;
  /** Outcomes already counted in the metrics (by uid). */
  private readonly counted = new Set<string>();
  /** When this reconciler was made, to the second (status times are written to the second). */
  private readonly since: number;

  constructor(private readonly deps: BackupReconcilerDeps) {
    this.clock = deps.clock ?? systemClock;
    this.since = Math.floor(this.clock.now() / 1000) * 1000;
  }

  /** One pass over the steps for the Backup namespace/name. */
  async reconcile(namespace: string, name: string): Promise<StepOutcome> {
    const outcome = await runSteps(this.steps, { namespace, name });
    this.deps.log.debug({ namespace, name, step: outcome.step, result: outcome.result.next }, 'reconciled Backup');
    return outcome;
  }

  private async load(c: BackupContext): Promise<StepResult> {
    const read = this.deps.read ?? ((ns, n) => this.deps.client.getLifeboat('Backup', ns, n));
    c.backup = (await read(c.namespace, c.name)) as StoredBackup | undefined;
    return c.backup ? CONTINUE : DONE;
  }

  /**
   * The worker writes the outcome, normally with its Ready condition and Event. Where Ready does
   * not say so yet (a worker that wrote only the phase), the runner sets it and records the Event,
   * once; a WorkerRunning condition left True is set False.
   */
  private async announceOutcome(c: BackupContext): Promise<StepResult> {
    const phase = c.backup?.status?.phase;
    if (!c.backup || !phase || !TERMINAL.has(phase) || !needsAnnouncing(c.backup)) return CONTINUE;
    const now = new Date(this.clock.now());
    const result = await updateStatus<Backup>(this.deps.client, 'Backup', c.namespace, c.name, (b) => {
      if (b.status?.phase !== phase) return;
      if (!readyMatches(b)) setCondition(b.status, outcomeCondition(b), now);
      if (getCondition(b.status, 'WorkerRunning')?.status === 'True') {
        setCondition(b.status, workerEnded(`the worker recorded the backup as ${phase}`), now);
      }
    });
    if (!result.changed || !result.after) return CONTINUE;
    c.backup = result.after;
    if (result.before && !readyMatches(result.before)) {
      await this.deps.events.record({ kind: 'Backup', metadata: result.after.metadata }, outcomeEvent(result.after));
    }
    return CONTINUE;
  }

  /** A completed or failed Backup is never run again. */
  private async skipTerminal(c: BackupContext): Promise<StepResult> {
    const phase = c.backup?.status?.phase;
    if (!c.backup || !phase || !TERMINAL.has(phase)) return CONTINUE;
    this.countOutcome(c.backup, phase as 'completed' | 'failed');
    return DONE;
  }

  /**
   * Counts each Backup that ended while this runner was up, once; Backups that ended before (seen
   * when the informers list after a restart) only bring the per-Cluster gauges up to date.
   */
  private countOutcome(backup: StoredBackup, phase: 'completed' | 'failed'): void {
    const metrics = this.deps.metrics;
    if (!metrics) return;
    const key = backup.metadata.uid ?? `${backup.metadata.namespace ?? ''}/${backup.metadata.name ?? ''}`;
    const stopped = Date.parse(backup.status?.stoppedAt ?? '');
    if (!this.counted.has(key) && Number.isFinite(stopped) && stopped >= this.since) {
      this.counted.add(key);
      observePhase(metrics, backup, phase);
    } else if (phase === 'completed') {
      noteCompleted(metrics, backup);
    }
  }

  /**
   * `running` with startedAt and the planned jobName, written against the resourceVersion read: of
   * runners racing, one write lands; the others re-read, find the claim, and stop.
   */
  private async claim(c: BackupContext): Promise<StepResult> {
    const phase = c.backup?.status?.phase;
    if (phase !== undefined && phase !== 'pending') return CONTINUE;
    const jobName = this.deps.executor.plannedJobName(c.backup as StoredBackup);
    const result = await updateStatus<Backup>(this.deps.client, 'Backup', c.namespace, c.name, (b) => {
      if (b.status?.phase !== undefined && b.status.phase !== 'pending') return;
      const now = this.clock.now();
      const status = { ...b.status, phase: 'running' as const, startedAt: timestamp(now), jobName };
      const message = `runner ${this.deps.identity} claimed the Backup and is starting its worker`;
      setCondition(status, { type: 'Ready', status: 'False', reason: REASONS.BackupRunning, message }, new Date(now));
      b.status = status;
    });
    if (!result.changed) {
      // Claimed already (by another runner, or by an earlier pass whose start is retried): go on
      // from the stored object to the start and watch steps.
      if (!result.after) return DONE;
      this.deps.log.debug({ namespace: c.namespace, name: c.name }, 'Backup already claimed');
      c.backup = result.after;
      return CONTINUE;
    }
    if (!result.after) return DONE;
    c.backup = result.after;
    c.claimedNow = true;
    const message = `claimed by runner ${this.deps.identity}; starting the backup worker (${this.deps.executor.kind} executor)`;
    await this.deps.events.record(
      { kind: 'Backup', metadata: result.after.metadata },
      { type: 'Normal', reason: REASONS.BackupRunning, message },
    );
    if (this.deps.metrics) observePhase(this.deps.metrics, result.after, 'running');
    return CONTINUE;
  }

  private async start(c: BackupContext): Promise<StepResult> {
    if (!c.backup || !(c.claimedNow || this.startUnfinished(c.backup))) return CONTINUE;
    const retryable =
      this.startUnfinished(c.backup) && this.runningFor(c.backup.status?.startedAt) <= this.startGraceMs();
    const planned = c.backup.status?.jobName;
    let started;
    try {
      started = await this.deps.executor.start(c.backup);
    } catch (err) {
      // An API hiccup creating a Job is retried (the queue backs off) for as long as a worker
      // is waited for; a WorkFailure (no Cluster…) is final.
      if (!(err instanceof WorkFailure) && retryable) throw err;
      await this.failToStart(c, err);
      return DONE;
    }
    const { jobName, description } = started;
    const result = await updateStatus<Backup>(this.deps.client, 'Backup', c.namespace, c.name, (b) => {
      if (!b.status || b.status.phase !== 'running' || b.status.jobName !== planned) return;
      b.status.jobName = jobName;
      const message = `the backup worker runs as ${description}`;
      const condition = { type: 'WorkerRunning', status: 'True', reason: REASONS.WorkerStarted, message } as const;
      setCondition(b.status, condition, new Date(this.clock.now()));
    });
    if (result.after) c.backup = result.after;
    return CONTINUE;
  }

  private async failToStart(c: BackupContext, err: unknown): Promise<void> {
    const reason: FailureReason = err instanceof WorkFailure ? err.reason : 'DumpFailed';
    const why = err instanceof Error ? err.message : String(err);
    await this.fail(c, reason, `${why}; ${TRY_AGAIN}`);
  }

  /**
   * A claim whose start may be tried again: the executor's start is idempotent, the claim still
   * names the planned worker, and no start was recorded.
   */
  private startUnfinished(backup: StoredBackup): boolean {
    const status = backup.status;
    return (
      this.deps.executor.restartable &&
      status?.phase === 'running' &&
      status.jobName === this.deps.executor.plannedJobName(backup) &&
      getCondition(status, 'WorkerRunning') === undefined
    );
  }

  /** A running Backup whose worker is gone is failed, so it never stays `running`. */
  private async watch(c: BackupContext): Promise<StepResult> {
    const status = c.backup?.status;
    if (status?.phase !== 'running') return DONE;
    const every = this.deps.livenessCheckMs ?? 30_000;
    if (!status.jobName) {
      await this.fail(c, 'DumpFailed', `no backup worker was recorded for this Backup; ${TRY_AGAIN}`);
      return DONE;
    }
    const worker = await this.deps.executor.isAlive(refOf(c.backup as StoredBackup), status.jobName);
    if (worker.state === 'alive') return this.overdue(c, status.jobName) ?? requeue(every);
    if (worker.state === 'gone') {
      // Stopped first: a failed stop is retried with the whole step, while the Backup is running.
      if (worker.lingering) await this.deps.executor.stop(refOf(c.backup as StoredBackup), status.jobName);
      await this.failForWorker(c, 'DumpFailed', worker.why);
      return DONE;
    }
    return this.waitOrGiveUp(c, worker);
  }

  /**
   * A worker not started yet is waited for a short grace period; one out of sight (another host)
   * until its deadline. Then the Backup is failed, so it never stays `running` forever.
   */
  private async waitOrGiveUp(
    c: BackupContext,
    worker: { readonly state: 'missing' | 'unknown'; readonly why: string },
  ): Promise<StepResult> {
    const every = this.deps.livenessCheckMs ?? 30_000;
    const missing = worker.state === 'missing';
    const deadline = missing ? this.startGraceMs() : this.workerDeadlineMs();
    if (this.runningFor(c.backup?.status?.startedAt) <= deadline)
      return requeue(missing ? Math.min(every, 5_000) : every);
    if (missing) {
      await this.failForWorker(c, 'DumpFailed', worker.why);
    } else {
      const hours = (deadline / 3_600_000).toFixed(1);
      await this.failForWorker(c, 'Timeout', `${worker.why}, and it has not finished within ${hours} h`);
    }
    return DONE;
  }

  /** Fails the Backup for its worker, after cleaning up what the worker can no longer clean up. */
  private async failForWorker(c: BackupContext, reason: FailureReason, why: string): Promise<void> {
    const left = await this.leftovers(c);
    await this.fail(c, reason, [why, ...left.said, TRY_AGAIN].join('; '), left.conditions);
  }

  /**
   * Before a Backup is failed for its worker: the worker cannot abort its multipart upload or put
   * its Galera member back any more, so the runner does. Idempotent (a repeat finds nothing left).
   */
  private async leftovers(c: BackupContext): Promise<Leftovers> {
    const none: Leftovers = { said: [], conditions: [] };
    const judged = c.backup?.status?.jobName;
    if (!this.deps.releaseLeftovers || judged === undefined) return none;
    // Judged from the informer cache: a newer worker of this Backup would upload to the same key,
    // so only the stored record of the worker judged gone lets its leftovers be touched.
    const stored = (await this.deps.client.getLifeboat('Backup', c.namespace, c.name)) as StoredBackup | undefined;
    if (stored?.status?.phase !== 'running' || stored.status.jobName !== judged) return none;
    return this.deps.releaseLeftovers(stored);
  }

  /**
   * A worker alive past the deadline (hung on a lock, a stalled store) is given up: the Backup is
   * failed with Timeout first, so the worker's own report of being stopped changes nothing, then
   * the worker is asked to stop and clean up (SIGTERM).
   */
  private overdue(c: BackupContext, jobName: string): Promise<StepResult> | undefined {
    const deadline = this.workerDeadlineMs();
    if (this.runningFor(c.backup?.status?.startedAt) <= deadline) return undefined;
    return (async () => {
      const hours = (deadline / 3_600_000).toFixed(1);
      const message = `the backup worker has not finished within ${hours} h and is being stopped; look for what held it up (a lock, a stalled object store) and ${TRY_AGAIN}`;
      // Not when the worker wrote its outcome meanwhile: a finished Job keeps its logs.
      if (await this.fail(c, 'Timeout', message)) {
        await this.deps.executor.stop(refOf(c.backup as StoredBackup), jobName);
      }
      return DONE;
    })();
  }

  private workerDeadlineMs(): number {
    return this.deps.workerDeadlineMs ?? (6 * 60 + 10) * 60_000;
  }

  /** Between a claim and its worker starting (another runner's, or a Job not created yet). */
  private startGraceMs(): number {
    return this.deps.startGraceMs ?? 60_000;
  }

  /** Milliseconds since startedAt; unparseable counts as long ago, so nothing waits forever. */
  private runningFor(startedAt: string | undefined): number {
    const started = Date.parse(startedAt ?? '');
    return Number.isFinite(started) ? this.clock.now() - started : Number.POSITIVE_INFINITY;
  }

  /**
   * Fails a Backup that is still running with the worker this pass judged; a no-op when the worker
   * wrote an outcome meanwhile, or when the stored jobName differs from the one judged (a lagging
   * informer cache: the update that brings the newer jobName queues this Backup again).
   */
  private async fail(
    c: BackupContext,
    reason: FailureReason,
    message: string,
    conditions: readonly ConditionInput[] = [],
  ): Promise<boolean> {
    const judged = c.backup?.status?.jobName;
    const result = await updateStatus<Backup>(this.deps.client, 'Backup', c.namespace, c.name, (b) => {
      if (b.status?.phase !== 'running' || b.status.jobName !== judged) return;
      const now = new Date(this.clock.now());
      b.status = { ...b.status, phase: 'failed', reason, error: message, stoppedAt: timestamp(now.getTime()) };
      setCondition(b.status, { type: 'Ready', status: 'False', reason, message }, now);
      setCondition(b.status, workerEnded(message), now);
      for (const condition of conditions) setCondition(b.status, condition, now);
    });
    if (!result.changed || !result.after) return false;
    c.backup = result.after;
    this.deps.log.warn({ namespace: c.namespace, name: c.name, reason, error: message }, 'Backup failed');
    await this.deps.events.record({ kind: 'Backup', metadata: result.after.metadata }, outcomeEvent(result.after));
    this.countOutcome(result.after, 'failed');
    return true;
  }
}
