// The reconciler of work that runs once (a Backup, a Restore, a Cluster's bootstrap): claim it
// (once, however many runners race), start its worker, and make sure it never stays `running`
// after the worker is gone. The worker writes the outcome itself; the runner fills in what a worker
// left out (Ready, Event) and never runs finished work again. What differs between kinds (where the
// run is recorded, the words, the clean-up after a dead worker) comes from a RunOnceKind; see
// docs/runner.md.
import type { FailureReason } from '../../crds/failure-reasons.js';
import type { LifeboatKind } from '../../crds/kinds.js';
import type { Logger } from '../../lib/logger.js';
import { messageOf } from '../../lib/error-message.js';
import type { Executor, WorkItem, WorkKind } from '../executors/executor.js';
import {
  getCondition,
  REASONS,
  setCondition,
  type Condition,
  type ConditionInput,
  type Reason,
} from '../status/conditions.js';
import type { EventInput, EventRecorder } from '../status/event-recorder.js';
import { updateOwnStatus, type StatusClient, type StatusUpdate, type Stored } from '../status/status-writer.js';
import { WorkFailure } from '../work-failures.js';
import { systemClock, type Clock } from './clock.js';
import type { KeyedLock } from './keyed-lock.js';
import { CONTINUE, DONE, requeue, runSteps, type Step, type StepOutcome, type StepResult } from './reconcile-steps.js';
import { holdsWorker, setWorkerFinalizer, type FinalizerClient, type FinalizerTarget } from './work-finalizer.js';
import type { WorkerSlots } from './worker-slots.js';

export type RunPhase = 'pending' | 'running' | 'completed' | 'failed';

/** Where one run is recorded: Backup.status, Restore.status, Cluster.status.bootstrap. */
export interface RunRecord {
  phase?: RunPhase | undefined;
  startedAt?: string | undefined;
  stoppedAt?: string | undefined;
  jobName?: string | undefined;
  reason?: string | undefined;
  error?: string | undefined;
  conditions?: Condition[] | undefined;
}

export interface Leftovers {
  readonly said: readonly string[];
  readonly conditions: readonly ConditionInput[];
}

export type StoredObject = Stored<{ metadata: { name?: string; namespace?: string }; status?: object }>;

/** What the reconciler needs to know of one kind of work. */
/** Why new work waits. */
export interface Blocked {
  /** For the Ready condition, after "waiting: ". */
  readonly message: string;
  /** Ready's reason while it waits, and a Warning Event's when the wait begins; default: the running reason. */
  readonly reason?: Reason;
  /** A wait the user must act on (a typo, say): a Warning Event says so once, when it begins. */
  readonly warning?: boolean;
}

export interface RunOnceKind<T extends StoredObject> {
  readonly objectKind: LifeboatKind;
  readonly workKind: WorkKind;
  /** What the user does after a failure, completing "…; ": "apply a new Backup to try again". */
  readonly tryAgain: string;
  /** Why a worker that died without an outcome failed its work. */
  readonly lostReason: FailureReason;
  /** Said when a worker died mid-way: what it may have left (a partially restored target). */
  readonly lostNote?: string;
  readonly reasons: { readonly running: Reason; readonly completed: Reason; readonly failed: Reason };
  /** The run's record, if the object asks for work at all (a Cluster without bootstrap.recovery does not). */
  record(object: T): RunRecord | undefined;
  /** The record on a draft about to be written, created when absent. */
  writableRecord(object: T): RunRecord;
  work(object: T): WorkItem;
  /** Ready and the Event once the run has ended, from what the worker recorded. */
  outcomeCondition(object: T): ConditionInput;
  outcomeEvent(object: T): EventInput;
  /**
   * Why new work must wait now (its Cluster is being restored…); undefined: go ahead. Asked, and
   * the claim made, under the lock of clusterKey, from fresh reads.
   */
  blockedBy?(object: T): Promise<Blocked | undefined>;
  /** `<namespace>/<cluster>`: work on one Cluster is claimed one at a time. */
  clusterKey?(object: T): string;
  /** Record `pending` as soon as the runner sees new work, before it is claimed. */
  readonly announcePending?: boolean;
  /** Cleans up what a dead worker left; never throws. */
  leftovers?(object: T): Promise<Leftovers>;
  /** Metrics: a run claimed, or ended (`fresh`: ended while this runner was up). */
  onClaimed?(object: T): void;
  onEnded?(object: T, phase: 'completed' | 'failed', fresh: boolean): void;
}

export interface RunOnceDeps {
  readonly client: StatusClient;
  readonly executor: Executor;
  readonly events: EventRecorder;
  readonly log: Logger;
  /** Names this runner in messages (the leader Lease identity). */
  readonly identity: string;
  readonly clock?: Clock;
  /**
   * Where decisions start from; default a fresh read. The runner passes its informer cache: every
   * write re-reads and re-checks, so a stale cached object can cost a pass, never a wrong write.
   */
  readonly read?: (namespace: string, name: string) => Promise<unknown>;
  /** How often running work's worker is looked at. Default 30 s. */
  readonly livenessCheckMs?: number;
  /** A worker that has not finished after this long is given up (Timeout). Default 6 h 10 min. */
  readonly workerDeadlineMs?: number;
  /** A claim whose worker has not appeared is failed after this long. Default 60 s. */
  readonly startGraceMs?: number;
  /** How long blocked work waits before it is looked at again. Default 10 s. */
  readonly blockedRetryMs?: number;
  /** Shared by the reconcilers of every kind, so that claims on one Cluster never interleave. */
  readonly claimLock?: KeyedLock;
  /**
   * Puts the runner's finalizer on work before its worker starts, so that deleting the object
   * waits for the worker to stop. Without it, no finalizer is used.
   */
  readonly finalizers?: FinalizerClient;
  /** `--max-workers`: shared by the reconcilers of every kind. Without it, there is no limit. */
  readonly slots?: WorkerSlots;
  /** How often deleted work whose worker is stopping is looked at. Default 2 s. */
  readonly stopCheckMs?: number;
}

interface Context<T> {
  readonly namespace: string;
  readonly name: string;
  object?: T;
  /** Set when this pass claimed the work: only then is a worker started. */
  claimedNow?: boolean;
}

const TERMINAL = new Set(['completed', 'failed']);

/** RFC 3339 to the second, as Kubernetes writes times. */
export function timestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function workerEnded(message: string): ConditionInput {
  return { type: 'WorkerRunning', status: 'False', reason: REASONS.WorkerEnded, message };
}

export class RunOnceReconciler<T extends StoredObject> {
  readonly steps: readonly Step<Context<T>>[] = [
    { name: 'load', run: (c) => this.load(c) },
    { name: 'release', run: (c) => this.releaseDeleted(c) },
    { name: 'announceOutcome', run: (c) => this.announceOutcome(c) },
    { name: 'skipTerminal', run: (c) => this.skipTerminal(c) },
    { name: 'claim', run: (c) => this.claimWhenFree(c) },
    { name: 'start', run: (c) => this.start(c) },
    { name: 'watch', run: (c) => this.watch(c) },
  ];
  protected readonly clock: Clock;
  /** Outcomes already counted (by uid). */
  private readonly counted = new Set<string>();
  /** When this reconciler was made, to the second (status times are written to the second). */
  private readonly since: number;

  constructor(
    protected readonly kind: RunOnceKind<T>,
    protected readonly deps: RunOnceDeps,
  ) {
    this.clock = deps.clock ?? systemClock;
    this.since = Math.floor(this.clock.now() / 1000) * 1000;
  }

  /** One pass over the steps for namespace/name. */
  async reconcile(namespace: string, name: string): Promise<StepOutcome> {
    const outcome = await runSteps(this.steps, { namespace, name });
    const { objectKind } = this.kind;
    this.deps.log.debug(
      { namespace, name, step: outcome.step, result: outcome.result.next },
      `reconciled ${objectKind}`,
    );
    return outcome;
  }

  /**
   * Every write of the runner is guarded by the uid of the object its decision was made on: work
   * deleted and applied anew under the same name is never judged by what was seen of the old one.
   */
  private update(c: Context<T>, change: (record: RunRecord, object: T) => void): ReturnType<typeof updateOwnStatus<T>> {
    const own = { kind: this.kind.objectKind, namespace: c.namespace, name: c.name, uid: c.object?.metadata.uid };
    return updateOwnStatus<T>(this.deps.client, own, (o) => {
      if (this.kind.record(o) === undefined) return;
      change(this.kind.writableRecord(o), o);
    });
  }

  private finalizerTarget(c: Context<T>): FinalizerTarget {
    return { kind: this.kind.objectKind, namespace: c.namespace, name: c.name, uid: c.object?.metadata.uid };
  }

  /**
   * Deleted work held by the runner's finalizer: its worker is asked to stop, and the finalizer is
   * removed once it has stopped and what it left (an open upload, a desynced member) is cleaned up.
   * Deleted work without the finalizer (claimed by an older runner) is stopped on its delete event.
   */
  private async releaseDeleted(c: Context<T>): Promise<StepResult> {
    const object = c.object;
    if (!object?.metadata.deletionTimestamp) return CONTINUE;
    if (!holdsWorker(object) || !this.deps.finalizers) return DONE;
    const record = this.kind.record(object);
    if (record?.phase === 'running' && record.jobName && !(await this.workerStopped(c, object, record.jobName))) {
      return requeue(this.deps.stopCheckMs ?? 2_000);
    }
    if (object.metadata.uid) this.deps.slots?.release(object.metadata.uid);
    await setWorkerFinalizer(this.deps.finalizers, this.finalizerTarget(c), false);
    return DONE;
  }

  /** Stops the worker of deleted work; once it has stopped, cleans up what it left and says true. */
  private async workerStopped(c: Context<T>, object: T, jobName: string): Promise<boolean> {
    if (!(await this.deps.executor.hasStopped(this.kind.work(object), jobName))) {
      await this.stopOnce(c, object, jobName);
      return false;
    }
    const left = this.kind.leftovers ? await this.kind.leftovers(object) : undefined;
    this.deps.log.info(
      { namespace: c.namespace, name: c.name, jobName, cleanedUp: left?.said },
      `deleted ${this.kind.objectKind}: its worker has stopped; releasing it`,
    );
    return true;
  }

  /** Workers asked to stop, by uid: a second SIGTERM would cut the first one's clean-up short. */
  private readonly stopping = new Set<string>();

  private async stopOnce(c: Context<T>, object: T, jobName: string): Promise<void> {
    const key = `${object.metadata.uid ?? ''}/${jobName}`;
    if (this.stopping.has(key)) return;
    this.deps.log.info(
      { namespace: c.namespace, name: c.name, jobName },
      'running work was deleted; stopping its worker',
    );
    await this.deps.executor.stop(this.kind.work(object), jobName);
    this.stopping.add(key);
    if (this.stopping.size > 1024) this.stopping.delete(this.stopping.values().next().value ?? '');
  }

  private phaseOf(object: T | undefined): RunPhase | undefined {
    return object ? this.kind.record(object)?.phase : undefined;
  }

  private async load(c: Context<T>): Promise<StepResult> {
    const read = this.deps.read ?? ((ns, n) => this.deps.client.getLifeboat(this.kind.objectKind, ns, n));
    c.object = (await read(c.namespace, c.name)) as T | undefined;
    return c.object && this.kind.record(c.object) ? CONTINUE : DONE;
  }

  private readyMatches(object: T): boolean {
    const wanted = this.kind.outcomeCondition(object);
    const ready = getCondition(this.kind.record(object), 'Ready');
    return ready?.status === wanted.status && ready.reason === wanted.reason;
  }

  /**
   * The worker writes the outcome, normally with its Ready condition and Event. Where Ready does
   * not say so yet (a worker that wrote only the phase), the runner sets it and records the Event,
   * once; a WorkerRunning condition left True is set False.
   */
  private async announceOutcome(c: Context<T>): Promise<StepResult> {
    const phase = this.phaseOf(c.object);
    if (!c.object || !phase || !TERMINAL.has(phase)) return CONTINUE;
    const workerLeftRunning = getCondition(this.kind.record(c.object), 'WorkerRunning')?.status === 'True';
    if (this.readyMatches(c.object) && !workerLeftRunning) return CONTINUE;
    const now = new Date(this.clock.now());
    const result = await this.update(c, (record, o) => {
      if (record.phase !== phase) return;
      if (!this.readyMatches(o)) setCondition(record, this.kind.outcomeCondition(o), now);
      if (getCondition(record, 'WorkerRunning')?.status === 'True') {
        setCondition(record, workerEnded(`the worker recorded the outcome: ${phase}`), now);
      }
    });
    if (!result.changed || !result.after) return CONTINUE;
    c.object = result.after;
    if (result.before && !this.readyMatches(result.before)) {
      await this.deps.events.record(this.involved(result.after), this.kind.outcomeEvent(result.after));
    }
    return CONTINUE;
  }

  private involved(object: T): { kind: LifeboatKind; metadata: T['metadata'] } {
    return { kind: this.kind.objectKind, metadata: object.metadata };
  }

  /** Finished work is never run again; the runner no longer holds it (it deletes at once). */
  private async skipTerminal(c: Context<T>): Promise<StepResult> {
    const phase = this.phaseOf(c.object);
    if (!c.object || !phase || !TERMINAL.has(phase)) return CONTINUE;
    this.countOutcome(c.object, phase as 'completed' | 'failed');
    if (c.object.metadata.uid) this.deps.slots?.release(c.object.metadata.uid);
    if (holdsWorker(c.object) && this.deps.finalizers) {
      await setWorkerFinalizer(this.deps.finalizers, this.finalizerTarget(c), false);
    }
    return DONE;
  }

  /** Counts each run that ended while this runner was up once; older ones only as seen. */
  private countOutcome(object: T, phase: 'completed' | 'failed'): void {
    if (!this.kind.onEnded) return;
    const key = object.metadata.uid ?? `${object.metadata.namespace ?? ''}/${object.metadata.name ?? ''}`;
    const stopped = Date.parse(this.kind.record(object)?.stoppedAt ?? '');
    const fresh = !this.counted.has(key) && Number.isFinite(stopped) && stopped >= this.since;
    if (fresh) this.counted.add(key);
    this.kind.onEnded(object, phase, fresh);
  }

  /** Waiting and claiming, under the Cluster's lock when the kind names one. */
  private async claimWhenFree(c: Context<T>): Promise<StepResult> {
    const key = c.object ? this.kind.clusterKey?.(c.object) : undefined;
    const claim = async (): Promise<StepResult> => {
      const waited = await this.waitUntilFree(c);
      return waited.next === 'continue' ? this.claim(c) : waited;
    };
    return key && this.deps.claimLock ? this.deps.claimLock.run(key, claim) : claim();
  }

  /** New work that must wait (its Cluster is busy) stays pending and is looked at again. */
  private async waitUntilFree(c: Context<T>): Promise<StepResult> {
    const phase = this.phaseOf(c.object);
    if (!c.object || (phase !== undefined && phase !== 'pending')) return CONTINUE;
    const blocked = await this.kind.blockedBy?.(c.object);
    if (!blocked && (!this.kind.announcePending || phase === 'pending')) return CONTINUE;
    const result = await this.markPending(c, blocked);
    if (!blocked) return CONTINUE;
    if (blocked.warning && result.after) await this.warnOnce(result, blocked);
    return requeue(this.deps.blockedRetryMs ?? 10_000);
  }

  /** `pending`, with Ready saying what it waits for (a busy Cluster, or a worker). */
  private async markPending(c: Context<T>, blocked: Blocked | undefined): Promise<StatusUpdate<T>> {
    const reason = blocked?.reason ?? this.kind.reasons.running;
    const message = blocked ? `waiting: ${blocked.message}` : 'waiting for a worker';
    const result = await this.update(c, (record) => {
      if (record.phase !== undefined && record.phase !== 'pending') return;
      record.phase = 'pending';
      if (blocked || !getCondition(record, 'Ready')) {
        setCondition(record, { type: 'Ready', status: 'False', reason, message }, new Date(this.clock.now()));
      }
    });
    if (result.after) c.object = result.after;
    return result;
  }

  /**
   * A Warning Event when a wait the user must act on begins, or now waits for something else (a
   * name fixed into another wrong one); not again while it stays the same.
   */
  private async warnOnce(result: StatusUpdate<T>, blocked: Blocked): Promise<void> {
    const reason = blocked.reason ?? this.kind.reasons.running;
    const before = result.before ? getCondition(this.kind.record(result.before), 'Ready') : undefined;
    const same = before?.reason === reason && before.message === `waiting: ${blocked.message}`;
    if (!result.changed || !result.after || same) return;
    await this.deps.events.record(this.involved(result.after), { type: 'Warning', reason, message: blocked.message });
  }

  /** New work takes a worker slot (`--max-workers`) or waits, pending, until one is free. */
  private async claim(c: Context<T>): Promise<StepResult> {
    const phase = this.phaseOf(c.object);
    const uid = c.object?.metadata.uid;
    if (!c.object || (phase !== undefined && phase !== 'pending')) return CONTINUE;
    if (!this.deps.slots || !uid) return this.claimNow(c);
    let result: StepResult = CONTINUE;
    const slot = await this.deps.slots.take(uid, async () => {
      result = await this.claimNow(c);
      return c.claimedNow === true;
    });
    return slot.free ? result : this.waitForSlot(c, this.deps.slots.max);
  }

  private async waitForSlot(c: Context<T>, max: number): Promise<StepResult> {
    const message = `waiting for a free worker slot: this runner runs at most ${max} workers at once (--max-workers); the work starts when one ends`;
    const reason = REASONS.WaitingForWorkerSlot;
    const result = await this.update(c, (record) => {
      if (record.phase !== undefined && record.phase !== 'pending') return;
      record.phase = 'pending';
      setCondition(record, { type: 'Ready', status: 'False', reason, message }, new Date(this.clock.now()));
    });
    if (result.after) c.object = result.after;
    const before = result.before ? getCondition(this.kind.record(result.before), 'Ready') : undefined;
    if (result.changed && result.after && before?.reason !== reason) {
      await this.deps.events.record(this.involved(result.after), { type: 'Normal', reason, message });
    }
    return requeue(this.deps.blockedRetryMs ?? 5_000);
  }

  /**
   * `running` with startedAt and the planned jobName, written against the resourceVersion read: of
   * runners racing, one write lands; the others re-read, find the claim, and stop. The finalizer
   * goes on first, so no worker ever runs on an object whose deletion would not wait for it.
   */
  private async claimNow(c: Context<T>): Promise<StepResult> {
    if (!c.object) return CONTINUE;
    if (this.deps.finalizers) {
      const held = await setWorkerFinalizer<T>(this.deps.finalizers, this.finalizerTarget(c), true);
      if (!held || held.metadata.deletionTimestamp) return DONE;
      c.object = held;
    }
    const jobName = this.deps.executor.plannedJobName(this.kind.work(c.object));
    const result = await this.update(c, (record, o) => {
      if (record.phase !== undefined && record.phase !== 'pending') return;
      if (o.metadata.deletionTimestamp) return;
      const now = this.clock.now();
      Object.assign(record, { phase: 'running', startedAt: timestamp(now), jobName });
      const message = `runner ${this.deps.identity} claimed the work and is starting its worker`;
      setCondition(
        record,
        { type: 'Ready', status: 'False', reason: this.kind.reasons.running, message },
        new Date(now),
      );
    });
    if (!result.after) return DONE;
    c.object = result.after;
    if (!result.changed) {
      // Claimed already (by another runner, or by an earlier pass whose start is retried).
      this.deps.log.debug({ namespace: c.namespace, name: c.name }, `${this.kind.objectKind} already claimed`);
      return CONTINUE;
    }
    c.claimedNow = true;
    const message = `claimed by runner ${this.deps.identity}; starting the ${this.kind.workKind} worker (${this.deps.executor.kind} executor)`;
    await this.deps.events.record(this.involved(result.after), {
      type: 'Normal',
      reason: this.kind.reasons.running,
      message,
    });
    this.kind.onClaimed?.(result.after);
    return CONTINUE;
  }

  private async start(c: Context<T>): Promise<StepResult> {
    if (!c.object || !(c.claimedNow || this.startUnfinished(c.object))) return CONTINUE;
    const record = this.kind.record(c.object);
    const retryable = this.startUnfinished(c.object) && this.runningFor(record?.startedAt) <= this.startGraceMs();
    const planned = record?.jobName;
    let started;
    try {
      started = await this.deps.executor.start(this.kind.work(c.object));
    } catch (err) {
      // An API hiccup creating a Job is retried (the queue backs off) for as long as a worker
      // is waited for; a WorkFailure (no Cluster…) is final.
      if (!(err instanceof WorkFailure) && retryable) throw err;
      const reason: FailureReason = err instanceof WorkFailure ? err.reason : this.kind.lostReason;
      await this.fail(c, reason, `${messageOf(err)}; ${this.kind.tryAgain}`);
      return DONE;
    }
    const { jobName, description } = started;
    const result = await this.update(c, (r) => {
      if (r.phase !== 'running' || r.jobName !== planned) return;
      r.jobName = jobName;
      const message = `the ${this.kind.workKind} worker runs as ${description}`;
      const condition = { type: 'WorkerRunning', status: 'True', reason: REASONS.WorkerStarted, message } as const;
      setCondition(r, condition, new Date(this.clock.now()));
    });
    if (result.after) c.object = result.after;
    return CONTINUE;
  }

  /** A claim whose start may be tried again: idempotent start, the planned worker, no start recorded. */
  private startUnfinished(object: T): boolean {
    const record = this.kind.record(object);
    return (
      this.deps.executor.restartable &&
      record?.phase === 'running' &&
      record.jobName === this.deps.executor.plannedJobName(this.kind.work(object)) &&
      getCondition(record, 'WorkerRunning') === undefined
    );
  }

  /** Running work whose worker is gone is failed, so it never stays `running`. */
  private async watch(c: Context<T>): Promise<StepResult> {
    const record = c.object ? this.kind.record(c.object) : undefined;
    if (!c.object || record?.phase !== 'running') return DONE;
    const every = this.deps.livenessCheckMs ?? 30_000;
    if (!record.jobName) {
      await this.fail(c, this.kind.lostReason, `no worker was recorded for this work; ${this.kind.tryAgain}`);
      return DONE;
    }
    const work = this.kind.work(c.object);
    const worker = await this.deps.executor.isAlive(work, record.jobName);
    if (worker.state === 'alive') return this.overdue(c, record.jobName) ?? requeue(every);
    if (worker.state === 'gone') {
      // Stopped first: a failed stop is retried with the whole step, while the work is running.
      if (worker.lingering) await this.deps.executor.stop(work, record.jobName);
      await this.failForWorker(c, this.kind.lostReason, worker.why);
      return DONE;
    }
    return this.waitOrGiveUp(c, worker);
  }

  /** A worker not started yet is waited for a short grace; one out of sight until its deadline. */
  private async waitOrGiveUp(
    c: Context<T>,
    worker: { readonly state: 'missing' | 'unknown'; readonly why: string },
  ): Promise<StepResult> {
    const every = this.deps.livenessCheckMs ?? 30_000;
    const missing = worker.state === 'missing';
    const deadline = missing ? this.startGraceMs() : this.workerDeadlineMs();
    const startedAt = c.object ? this.kind.record(c.object)?.startedAt : undefined;
    if (this.runningFor(startedAt) <= deadline) return requeue(missing ? Math.min(every, 5_000) : every);
    if (missing) {
      await this.failForWorker(c, this.kind.lostReason, worker.why);
    } else {
      const hours = (deadline / 3_600_000).toFixed(1);
      await this.failForWorker(c, 'Timeout', `${worker.why}, and it has not finished within ${hours} h`);
    }
    return DONE;
  }

  /** Fails the work for its worker, after cleaning up what the worker can no longer clean up. */
  private async failForWorker(c: Context<T>, reason: FailureReason, why: string): Promise<void> {
    const left = await this.leftovers(c);
    const note = this.kind.lostNote ? [this.kind.lostNote] : [];
    await this.fail(c, reason, [why, ...left.said, ...note, this.kind.tryAgain].join('; '), left.conditions);
  }

  private async leftovers(c: Context<T>): Promise<Leftovers> {
    const none: Leftovers = { said: [], conditions: [] };
    const judged = c.object ? this.kind.record(c.object)?.jobName : undefined;
    if (!this.kind.leftovers || judged === undefined) return none;
    // Judged from the informer cache: a newer worker would write the same keys, so only the
    // stored record of the worker judged gone lets its leftovers be touched.
    const stored = (await this.deps.client.getLifeboat(this.kind.objectKind, c.namespace, c.name)) as T | undefined;
    return stored && this.sameRun(stored, c, judged) ? this.kind.leftovers(stored) : none;
  }

  /** Whether the stored object is the one judged, still running with the worker judged. */
  private sameRun(stored: T, c: Context<T>, judged: string): boolean {
    const record = this.kind.record(stored);
    return stored.metadata.uid === c.object?.metadata.uid && record?.phase === 'running' && record.jobName === judged;
  }

  /** A worker alive past the deadline is given up: Timeout first, then asked to stop (SIGTERM). */
  private overdue(c: Context<T>, jobName: string): Promise<StepResult> | undefined {
    const deadline = this.workerDeadlineMs();
    const startedAt = c.object ? this.kind.record(c.object)?.startedAt : undefined;
    if (!c.object || this.runningFor(startedAt) <= deadline) return undefined;
    const work = this.kind.work(c.object);
    return (async () => {
      const hours = (deadline / 3_600_000).toFixed(1);
      const message = `the ${work.kind} worker has not finished within ${hours} h and is being stopped; look for what held it up (a lock, a stalled object store) and ${this.kind.tryAgain}`;
      // Not when the worker wrote its outcome meanwhile: a finished Job keeps its logs.
      if (await this.fail(c, 'Timeout', message)) await this.deps.executor.stop(work, jobName);
      return DONE;
    })();
  }

  private workerDeadlineMs(): number {
    return this.deps.workerDeadlineMs ?? (6 * 60 + 10) * 60_000;
  }

  private startGraceMs(): number {
    return this.deps.startGraceMs ?? 60_000;
  }

  /** Milliseconds since startedAt; unparseable counts as long ago, so nothing waits forever. */
  private runningFor(startedAt: string | undefined): number {
    const started = Date.parse(startedAt ?? '');
    return Number.isFinite(started) ? this.clock.now() - started : Number.POSITIVE_INFINITY;
  }

  /**
   * Fails work that is still running with the worker this pass judged; a no-op when the worker
   * wrote an outcome meanwhile, or when the stored jobName differs from the one judged.
   */
  private async fail(
    c: Context<T>,
    reason: FailureReason,
    message: string,
    conditions: readonly ConditionInput[] = [],
  ): Promise<boolean> {
    const judged = c.object ? this.kind.record(c.object)?.jobName : undefined;
    const result = await this.update(c, (record) => {
      if (record.phase !== 'running' || record.jobName !== judged) return;
      const now = new Date(this.clock.now());
      Object.assign(record, { phase: 'failed', reason, error: message, stoppedAt: timestamp(now.getTime()) });
      setCondition(record, { type: 'Ready', status: 'False', reason, message }, now);
      setCondition(record, workerEnded(message), now);
      for (const condition of conditions) setCondition(record, condition, now);
    });
    if (!result.changed || !result.after) return false;
    c.object = result.after;
    const { objectKind } = this.kind;
    this.deps.log.warn({ namespace: c.namespace, name: c.name, reason, error: message }, `${objectKind} failed`);
    await this.deps.events.record(this.involved(result.after), this.kind.outcomeEvent(result.after));
    this.countOutcome(result.after, 'failed');
    return true;
  }
}
