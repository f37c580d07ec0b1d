// The ScheduledBackup reconciler: while this runner leads, a node-cron task per schedule creates a
// Backup from `backupTemplate` on each tick. docs/runner.md, "Schedules", has the rules; in short:
// - a tick's Backup is named from the tick, so creating it twice (a catch-up racing the timer, a
//   new leader) finds it existing, which counts as the tick done: a schedule never sticks;
// - everything a new leader needs is in the status (lastScheduleTime, lastSkippedTime), so it
//   continues where the old one stopped: at most one catch-up for the newest missed tick, within
//   startingDeadlineSeconds, never a burst;
// - a Backup that fails never stops the ticks after it.
import { isDeepStrictEqual } from 'node:util';
import { API_VERSION, SCHEDULE_LABEL } from '../../crds/api-constants.js';
import type { LifeboatKind } from '../../crds/kinds.js';
import { checkSchedule, isTimeZone } from '../../policies/cron-schedule.js';
import { messageOf } from '../../lib/error-message.js';
import { KubeConflictError } from '../../lib/kube-errors.js';
import type { Logger } from '../../lib/logger.js';
import type { InformerEvent } from '../reconcile/informer-loop.js';
import type { KeyedReconciler, ObjectRef } from '../reconcile/keyed-reconciler.js';
import { ConcurrencyLimit } from '../reconcile/concurrency-limit.js';
import { KeyedLock } from '../reconcile/keyed-lock.js';
import { systemClock, type Clock } from '../reconcile/clock.js';
import type { WorkResult } from '../reconcile/work-queue.js';
import { countScheduled, type RunnerMetrics, type ScheduleResult } from '../runner-metrics.js';
import { REASONS, setCondition, type ConditionInput } from '../status/conditions.js';
import type { EventInput } from '../status/event-recorder.js';
import { updateStatus, type StatusClient } from '../status/status-writer.js';
import { backupNameFor, cronTask, latestTick, nextRun, scheduleLabelValue, type Timing } from './schedule-ticks.js';
import {
  activeChildren,
  childOutcomes,
  childrenOf,
  handledUpTo,
  lookBackFrom,
  mayCatchUp,
  type StoredBackupOf,
  type StoredSchedule,
} from './schedule-state.js';

export interface ScheduleClient extends StatusClient {
  createLifeboat(kind: LifeboatKind, namespace: string, body: object): Promise<unknown>;
  deleteLifeboat(kind: LifeboatKind, namespace: string, name: string, uid: string): Promise<void>;
}

export interface ScheduleDeps {
  readonly client: ScheduleClient;
  readonly events: { record(about: { kind: LifeboatKind; metadata: object }, input: EventInput): Promise<void> };
  readonly log: Logger;
  readonly metrics?: RunnerMetrics | undefined;
  /** The informer cache: schedules and Backups as last seen. */
  readonly cache: {
    get(kind: LifeboatKind, namespace: string, name: string): unknown;
    list(kind: LifeboatKind): unknown[];
  };
  /** Queues the schedule again, after a tick whose Backup could not be created. */
  readonly requeue: (namespace: string, name: string) => void;
  /** Backups created at the same time, across schedules. Default 32. */
  readonly createConcurrency?: number;
  /** Whether this runner still leads (its Lease renewed in time): a tick fires only then. */
  readonly isLeader?: () => boolean;
  readonly clock?: Clock;
}

/** A started node-cron task and what it was started for. */
interface Armed {
  readonly uid: string;
  readonly timing: string;
  readonly task: ReturnType<typeof cronTask>;
}

type Why = 'tick' | 'catch-up' | 'immediate';

const LEASE_RECHECK_MS = 2_000;
const CREATE_CONCURRENCY = 32;
/** How soon a status write put off by a minute's creates looks again. */
const STATUS_WAIT_MS = 1_000;

export class ScheduleReconciler implements KeyedReconciler {
  readonly name = 'ScheduledBackup';
  readonly watches = 'ScheduledBackup' as const;
  private readonly armed = new Map<string, Armed>();
  /** The newest tick this runner handled per schedule (created, or skipped): the cache may lag. */
  private readonly handled = new Map<string, number>();
  /** The newest tick this runner created a Backup for, per schedule, until the status says so. */
  private readonly created = new Map<string, number>();
  /** Events for created Backups, recorded with the status write that follows the tick. */
  private readonly announcements = new Map<string, string[]>();
  /** Ticks create their Backups through this: a minute's ticks of many schedules come at once. */
  private readonly creates: ConcurrencyLimit;
  private readonly lock = new KeyedLock();
  private readonly clock: Clock;
  private leading = false;

  constructor(private readonly deps: ScheduleDeps) {
    this.clock = deps.clock ?? systemClock;
    this.creates = new ConcurrencyLimit(deps.createConcurrency ?? CREATE_CONCURRENCY);
  }

  /** A Backup a schedule created concerns that schedule (its outcome goes into the status). */
  related(event: InformerEvent): readonly ObjectRef[] {
    if (event.kind !== 'Backup') return [];
    const meta = (event.object as StoredBackupOf | undefined)?.metadata;
    const owner = meta?.ownerReferences?.find((o) => o.kind === 'ScheduledBackup');
    return owner ? [{ namespace: event.namespace, name: owner.name }] : [];
  }

  onDeleted(event: InformerEvent): void {
    this.disarm(`${event.namespace}/${event.name}`);
  }

  onLeadership(leading: boolean): void {
    this.leading = leading;
    if (!leading) for (const key of [...this.armed.keys()]) this.disarm(key);
  }

  /** Schedules with a started timer (for /healthz and tests). */
  get timers(): number {
    return this.armed.size;
  }

  async reconcile(namespace: string, name: string): Promise<WorkResult> {
    this.leading = true;
    return this.lock.run(`${namespace}/${name}`, () => this.reconcileNow(namespace, name));
  }

  private async read(namespace: string, name: string): Promise<StoredSchedule | undefined> {
    const cached = this.deps.cache.get('ScheduledBackup', namespace, name) as StoredSchedule | undefined;
    return cached ?? ((await this.deps.client.getLifeboat('ScheduledBackup', namespace, name)) as StoredSchedule);
  }

  private async reconcileNow(namespace: string, name: string): Promise<WorkResult> {
    const key = `${namespace}/${name}`;
    const schedule = await this.read(namespace, name);
    if (!schedule?.metadata.uid) {
      this.disarm(key);
      return undefined;
    }
    // While a minute's Backups are being created, an armed schedule's status write (and its Events)
    // waits: it would compete with the creates for the API server, and a tick's only hurry is its
    // Backup. An edit (new timing, suspend) does not wait: its timer must change now. Checked
    // before the look through the cached Backups, so that waiting costs none.
    if (this.creates.busy && this.armedAsIs(key, schedule)) return { requeueAfterMs: STATUS_WAIT_MS };
    const children = childrenOf(schedule, this.deps.cache.list('Backup'));
    await this.announceFailures(schedule, children);
    const problem = timingProblem(schedule.spec);
    if (problem !== undefined || schedule.spec.suspend === true) {
      this.disarm(key);
      const ready: ConditionInput =
        problem !== undefined
          ? { type: 'Ready', status: 'False', reason: REASONS.InvalidSchedule, message: problem }
          : {
              type: 'Ready',
              status: 'False',
              reason: REASONS.ScheduleSuspended,
              message: 'suspend is true: no Backups are created',
            };
      await this.writeStatus(schedule, children, undefined, ready);
      return undefined;
    }
    const armed = this.arm(key, schedule);
    const next = nextRun(armed.task);
    if (next === null) {
      this.disarm(key);
      const message =
        `"${schedule.spec.schedule}" (${schedule.spec.timeZone ?? 'UTC'}) has no time to run at in the coming years; ` +
        'no Backup will be created: correct spec.schedule';
      await this.writeStatus(schedule, children, undefined, {
        type: 'Ready',
        status: 'False',
        reason: REASONS.NeverFires,
        message,
      });
      await this.event(schedule, { type: 'Warning', reason: REASONS.NeverFires, message });
      return undefined;
    }
    await this.catchUp(schedule, armed, children);
    await this.writeStatus(schedule, children, nextRun(armed.task) ?? next, readyCondition(next));
    return undefined;
  }

  /** Fires the newest missed tick once (or the immediate one). */
  private async catchUp(schedule: StoredSchedule, armed: Armed, children: StoredBackupOf[]): Promise<void> {
    const now = new Date(this.clock.now());
    if (schedule.spec.immediate === true && !schedule.status?.lastScheduleTime && children.length === 0) {
      const created = schedule.metadata.creationTimestamp ? new Date(schedule.metadata.creationTimestamp) : now;
      return this.fire(schedule, created, 'immediate');
    }
    const timing = timingOf(schedule.spec);
    const after = new Date(Math.max(handledUpTo(schedule).getTime(), this.handled.get(keyOf(schedule)) ?? 0));
    const from = lookBackFrom(schedule, after, now);
    const missed = from ? latestTick(armed.task, timing, from, now) : undefined;
    if (!missed) return;
    if (mayCatchUp(schedule, missed, now)) return this.fire(schedule, missed, 'catch-up');
    const deadline = schedule.spec.startingDeadlineSeconds ?? 0;
    const message =
      `the tick at ${missed.toISOString()} was missed (the runner was not running or not leading) and is ` +
      `${Math.round((now.getTime() - missed.getTime()) / 1000)} s late, past startingDeadlineSeconds ${deadline}: no Backup for it`;
    this.count('missed');
    await this.event(schedule, { type: 'Warning', reason: REASONS.TickMissed, message });
    await this.markSkipped(schedule, missed);
  }

  /** Whether the schedule is armed with its current uid and timing, and not suspended. */
  private armedAsIs(key: string, schedule: StoredSchedule): boolean {
    const armed = this.armed.get(key);
    if (!armed || armed.uid !== schedule.metadata.uid || schedule.spec.suspend === true) return false;
    return armed.timing === timingKey(schedule);
  }

  private arm(key: string, schedule: StoredSchedule): Armed {
    const timing = timingOf(schedule.spec);
    const want = timingKey(schedule);
    const uid = schedule.metadata.uid ?? '';
    const existing = this.armed.get(key);
    if (existing && existing.uid === uid && existing.timing === want) return existing;
    // A new timing of the same schedule: the instants already fired stay fired (the edit may be
    // read from a cache that does not show their status yet, and a new zone names them anew).
    if (existing?.uid === uid) this.stopTimer(key);
    else this.disarm(key);
    const [namespace = '', name = ''] = key.split('/');
    const task = cronTask(timing, (tick) => this.onTick(namespace, name, uid, tick));
    void task.start();
    const armed: Armed = { uid, timing: want, task };
    this.armed.set(key, armed);
    this.deps.log.info({ namespace, name, schedule: timing.schedule, timeZone: timing.timeZone }, 'schedule armed');
    return armed;
  }

  /** Stops the schedule's timer and forgets what it fired. */
  private disarm(key: string): void {
    this.stopTimer(key);
    this.handled.delete(key);
    this.created.delete(key);
    this.announcements.delete(key);
  }

  private stopTimer(key: string): void {
    const armed = this.armed.get(key);
    if (!armed) return;
    this.armed.delete(key);
    void armed.task.destroy();
  }

  private onTick(namespace: string, name: string, uid: string, tick: Date): void {
    const leading = this.leading && this.deps.isLeader?.() !== false;
    this.deps.log.debug({ namespace, name, tick: tick.toISOString(), leading }, 'tick');
    if (!this.leading) return;
    if (!leading) {
      // The Lease is overdue for renewal: not ours to act on now; look again (and catch up) soon.
      setTimeout(() => this.deps.requeue(namespace, name), LEASE_RECHECK_MS).unref();
      return;
    }
    const key = `${namespace}/${name}`;
    this.lock
      .run(key, async () => {
        const schedule = await this.read(namespace, name);
        if (!schedule || schedule.metadata.uid !== uid || schedule.spec.suspend === true) return;
        await this.fire(schedule, tick, 'tick');
      })
      .catch((err: unknown) => {
        this.deps.log.warn(
          { namespace, name, tick: tick.toISOString(), err: messageOf(err) },
          'tick failed; trying again',
        );
        this.deps.requeue(namespace, name);
      });
  }

  /**
   * Whether the tick may create its Backup, as concurrencyPolicy says (Forbid: skipped and
   * recorded; Replace: the running Backup deleted first). The tick's own Backup may exist already:
   * a leader created it and stopped before writing lastScheduleTime. Then the tick is done, and
   * the policy must not skip or replace it for itself: create() finds it existing.
   */
  private async policyAllows(schedule: StoredSchedule, tick: Date, name: string): Promise<boolean> {
    if (this.deps.cache.get('Backup', schedule.metadata.namespace ?? '', name) !== undefined) return true;
    const policy = schedule.spec.concurrencyPolicy ?? 'Forbid';
    const active = activeChildren(childrenOf(schedule, this.deps.cache.list('Backup')));
    if (active.length > 0 && policy === 'Forbid') {
      await this.skip(schedule, tick, active);
      return false;
    }
    if (active.length > 0 && policy === 'Replace') await this.replace(schedule, active);
    return true;
  }

  /** Creates the tick's Backup, as concurrencyPolicy says; throws when it could not be created. */
  private async fire(schedule: StoredSchedule, tick: Date, why: Why): Promise<void> {
    const name = backupNameFor(schedule.metadata.name ?? '', tick, schedule.spec.timeZone);
    const result = (await this.policyAllows(schedule, tick, name))
      ? await this.create(schedule, tick, name)
      : undefined;
    if (result === undefined) return;
    this.recordCreated(schedule, tick, firedMessage(name, tick, why, result));
    this.count(result);
    // The status and the Event follow through the queue: a tick's only hurry is its Backup.
    if (why === 'tick') this.deps.requeue(schedule.metadata.namespace ?? '', schedule.metadata.name ?? '');
  }

  /** Only once it exists: a tick whose Backup could not be created is still missed, and caught up. */
  private recordCreated(schedule: StoredSchedule, tick: Date, announcement: string): void {
    const key = keyOf(schedule);
    this.handled.set(key, Math.max(tick.getTime(), this.handled.get(key) ?? 0));
    this.created.set(key, Math.max(tick.getTime(), this.created.get(key) ?? 0));
    this.announcements.set(key, [...(this.announcements.get(key) ?? []), announcement]);
  }

  /** Creates the Backup; one of that name existing already counts as created. */
  private async create(schedule: StoredSchedule, tick: Date, name: string): Promise<'created' | 'existed'> {
    try {
      const body = this.backupFor(schedule, name, tick);
      await this.creates.run(() => this.deps.client.createLifeboat('Backup', schedule.metadata.namespace ?? '', body));
    } catch (err) {
      if (err instanceof KubeConflictError) return 'existed';
      return this.failedTick(schedule, tick, name, err);
    }
    this.deps.metrics?.tickDelay.observe(Math.max(0, this.clock.now() - tick.getTime()) / 1000);
    return 'created';
  }

  private backupFor(schedule: StoredSchedule, name: string, tick: Date): object {
    return {
      apiVersion: API_VERSION,
      kind: 'Backup',
      metadata: {
        name,
        namespace: schedule.metadata.namespace,
        labels: { [SCHEDULE_LABEL]: scheduleLabelValue(schedule.metadata.name ?? '') },
        annotations: { 'lifeboat.dev/scheduled-at': tick.toISOString() },
        ownerReferences: [
          {
            apiVersion: API_VERSION,
            kind: 'ScheduledBackup',
            name: schedule.metadata.name,
            uid: schedule.metadata.uid,
            controller: true,
          },
        ],
      },
      spec: structuredClone(schedule.spec.backupTemplate),
    };
  }

  private async skip(schedule: StoredSchedule, tick: Date, active: StoredBackupOf[]): Promise<void> {
    const running = active.map((b) => b.metadata.name).join(', ');
    this.count('skipped');
    await this.markSkipped(schedule, tick);
    await this.event(schedule, {
      type: 'Warning',
      reason: REASONS.TickSkipped,
      message: `skipped the tick at ${tick.toISOString()}: Backup ${running} still runs and concurrencyPolicy is Forbid`,
    });
  }

  private async replace(schedule: StoredSchedule, active: StoredBackupOf[]): Promise<void> {
    for (const backup of active) {
      await this.deps.client.deleteLifeboat(
        'Backup',
        backup.metadata.namespace ?? '',
        backup.metadata.name ?? '',
        backup.metadata.uid ?? '',
      );
      await this.event(schedule, {
        type: 'Normal',
        reason: REASONS.BackupReplaced,
        message: `deleted Backup ${backup.metadata.name ?? ''}, which still ran, for a new one (concurrencyPolicy Replace)`,
      });
    }
  }

  /** Records a tick that created no Backup, so that it is not taken for missed again. */
  private async markSkipped(schedule: StoredSchedule, tick: Date): Promise<void> {
    const key = keyOf(schedule);
    this.handled.set(key, Math.max(tick.getTime(), this.handled.get(key) ?? 0));
    const next = nextRunOf(this.armed.get(key));
    await this.update(schedule, (s) => {
      const status = (s.status ??= {});
      status.lastSkippedTime = later(status.lastSkippedTime, tick);
      if (next) status.nextScheduleTime = next.toISOString();
    });
  }

  private async failedTick(schedule: StoredSchedule, tick: Date, name: string, err: unknown): Promise<never> {
    const message = `could not create Backup ${name} for the tick at ${tick.toISOString()}: ${messageOf(err)}; trying again`;
    this.count('failed');
    await this.event(schedule, { type: 'Warning', reason: REASONS.TickFailed, message });
    await this.update(schedule, (s) =>
      setCondition(
        (s.status ??= {}),
        { type: 'Ready', status: 'False', reason: REASONS.TickFailed, message },
        new Date(this.clock.now()),
      ),
    ).catch(() => undefined);
    throw err instanceof Error ? err : new Error(String(err));
  }

  /** One Warning Event per child Backup that failed since the status last named one. */
  private async announceFailures(schedule: StoredSchedule, children: StoredBackupOf[]): Promise<void> {
    const { lastFailedBackup } = childOutcomes(children);
    if (!lastFailedBackup || lastFailedBackup === schedule.status?.lastFailedBackup) return;
    const failed = children.find((b) => b.metadata.name === lastFailedBackup);
    const why = failed?.status?.reason
      ? `${failed.status.reason}: ${failed.status.error ?? ''}`
      : (failed?.status?.error ?? '');
    await this.event(schedule, {
      type: 'Warning',
      reason: REASONS.ScheduledBackupFailed,
      message: `Backup ${lastFailedBackup} failed (${why}); the schedule keeps running`,
    });
  }

  private async writeStatus(
    schedule: StoredSchedule,
    children: StoredBackupOf[],
    next: Date | undefined,
    ready: ConditionInput,
  ): Promise<void> {
    const key = keyOf(schedule);
    const outcomes = childOutcomes(children);
    const created = this.created.get(key);
    const announced = this.announcements.get(key) ?? [];
    await this.update(schedule, (s) => {
      const status = (s.status ??= {});
      if (created !== undefined) status.lastScheduleTime = later(status.lastScheduleTime, new Date(created));
      if (next) status.nextScheduleTime = next.toISOString();
      else delete status.nextScheduleTime;
      if (outcomes.lastSuccessfulBackup) status.lastSuccessfulBackup = outcomes.lastSuccessfulBackup;
      if (outcomes.lastFailedBackup) status.lastFailedBackup = outcomes.lastFailedBackup;
      setCondition(status, ready, new Date(this.clock.now()));
    });
    if (created !== undefined && this.created.get(key) === created) this.created.delete(key);
    this.announcements.set(key, (this.announcements.get(key) ?? []).slice(announced.length));
    for (const message of announced)
      await this.event(schedule, { type: 'Normal', reason: REASONS.BackupScheduled, message });
  }

  /** Writes a status change, unless it changes nothing on the object as last seen. */
  private async update(schedule: StoredSchedule, change: (s: StoredSchedule) => void): Promise<void> {
    const seen = structuredClone(schedule);
    change(seen);
    if (isDeepStrictEqual(seen.status ?? {}, schedule.status ?? {})) return;
    const { namespace = '', name = '', uid } = schedule.metadata;
    await updateStatus<StoredSchedule>(this.deps.client, 'ScheduledBackup', namespace, name, (s) => {
      if (s.metadata.uid === uid) change(s);
    });
  }

  private async event(schedule: StoredSchedule, input: EventInput): Promise<void> {
    await this.deps.events.record({ kind: 'ScheduledBackup', metadata: schedule.metadata }, input);
  }

  private count(result: ScheduleResult): void {
    if (this.deps.metrics) countScheduled(this.deps.metrics, result);
  }
}

function nextRunOf(armed: Armed | undefined): Date | undefined {
  return armed ? (nextRun(armed.task) ?? undefined) : undefined;
}

function keyOf(schedule: StoredSchedule): string {
  return `${schedule.metadata.namespace ?? ''}/${schedule.metadata.name ?? ''}`;
}

function timingOf(spec: StoredSchedule['spec']): Timing {
  return { schedule: spec.schedule, timeZone: spec.timeZone };
}

/** What the policies refuse, checked again: a schedule applied while the webhook was down. */
function timingProblem(spec: StoredSchedule['spec']): string | undefined {
  const check = checkSchedule(spec.schedule);
  if (!check.ok) return `spec.schedule "${spec.schedule}" ${check.problem}`;
  if (spec.timeZone !== undefined && !isTimeZone(spec.timeZone)) {
    return `spec.timeZone "${spec.timeZone}" is not an IANA time zone; write one such as Europe/Berlin, or leave it out for UTC`;
  }
  return undefined;
}

function firedMessage(name: string, tick: Date, why: Why, result: 'created' | 'existed'): string {
  const at = tick.toISOString();
  if (result === 'existed') return `Backup ${name} for the tick at ${at} exists already: the tick counts as done`;
  const late = why === 'tick' ? '' : ` (${why === 'immediate' ? 'immediate: true' : 'caught up after it was missed'})`;
  return `created Backup ${name} for the tick at ${at}${late}`;
}

function readyCondition(next: Date | undefined): ConditionInput {
  const when = next ? `the next Backup is due at ${next.toISOString()}` : 'waiting for the next tick';
  return { type: 'Ready', status: 'True', reason: REASONS.ScheduleActive, message: when };
}

/** The later of a recorded time and a tick, as an ISO string. */
function later(recorded: string | undefined, tick: Date): string {
  const old = recorded ? Date.parse(recorded) : NaN;
  return Number.isFinite(old) && old > tick.getTime() ? (recorded ?? tick.toISOString()) : tick.toISOString();
}

/** The expression and time zone a schedule fires on, as one comparable string. */
function timingKey(schedule: StoredSchedule): string {
  const timing = timingOf(schedule.spec);
  return `${timing.schedule}\u0000${timing.timeZone ?? ''}`;
}
