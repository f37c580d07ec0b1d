// Where a restore is recorded (a Restore's status, or a Cluster's status.bootstrap) and what its
// worker writes there, through the one status writer. Every write applies only while the record is
// still `running`, so a runner that already judged the worker gone is never contradicted.
import type { Static } from '@sinclair/typebox';
import type { Cluster, Restore } from '../../crds/kinds.js';
import type { restoreStatusFields } from '../../crds/restore-types.js';
import type { Logger } from '../../lib/logger.js';
import type { RunRecord } from '../reconcile/run-once-reconciler.js';
import { REASONS, setCondition, type ConditionInput } from '../status/conditions.js';
import type { EventRecorder } from '../status/event-recorder.js';
import { updateOwnStatus, type StatusClient, type Stored } from '../status/status-writer.js';
import { messageOf } from '../../lib/error-message.js';
import { S3ConfigError } from '../../lib/s3-client.js';
import { ApplyFailedError, ConnectionFailedError, DownloadFailedError, WorkFailure } from '../work-failures.js';
import type { ResumedRead } from '../data-path/archive-download.js';

type FieldSchemas = typeof restoreStatusFields;
export type RestoreRecord = { -readonly [K in keyof FieldSchemas]?: Static<FieldSchemas[K]> };

/** What a user does after a failed restore, completing "…; ". */
export const RESTORE_AGAIN =
  'to try again, delete the Restore and apply it anew (with overwrite: true if the target now holds data)';
export const BOOTSTRAP_AGAIN =
  'to try again, re-create the Cluster (its bootstrap runs once), or restore into it with a Restore';

export type RestoreKind = 'restore' | 'bootstrap';
export type RestoreObject = Stored<Restore> | Stored<Cluster>;

/** The record of a restore, or undefined when the object asks for none (a Cluster without bootstrap.recovery). */
export function restoreRecord(object: RestoreObject): RestoreRecord | undefined {
  if (object.kind === 'Cluster' || !('spec' in object && 'cluster' in object.spec)) {
    const cluster = object as Stored<Cluster>;
    return cluster.spec.bootstrap?.recovery ? (cluster.status?.bootstrap ?? {}) : undefined;
  }
  return (object as Stored<Restore>).status ?? {};
}

/** The record on a draft about to be written, created when absent. */
export function writableRestoreRecord(object: RestoreObject): RestoreRecord {
  if (object.kind === 'Cluster' || !('spec' in object && 'cluster' in object.spec)) {
    const status = ((object as Stored<Cluster>).status ??= {});
    return (status.bootstrap ??= {});
  }
  return ((object as Stored<Restore>).status ??= {});
}

export function asRunRecord(record: RestoreRecord | undefined): RunRecord | undefined {
  return record as RunRecord | undefined;
}

export interface RestoreStatusContext {
  readonly kube: StatusClient;
  readonly log: Logger;
  readonly events: EventRecorder;
  readonly kind: RestoreKind;
  readonly namespace: string;
  readonly name: string;
  /** The uid of the object this worker was started for: a re-created one is not its to write. */
  readonly uid?: string | undefined;
  readonly now?: () => Date;
}

/** The restore was taken off its worker (the runner failed it, or it was deleted). */
export class RestoreNoLongerRunningError extends Error {}

function objectKind(kind: RestoreKind): 'Restore' | 'Cluster' {
  return kind === 'restore' ? 'Restore' : 'Cluster';
}

async function writeWhileRunning(
  ctx: RestoreStatusContext,
  change: Partial<RestoreRecord>,
  condition?: ConditionInput,
): Promise<RestoreObject | undefined> {
  const now = ctx.now ? ctx.now() : new Date();
  const own = { kind: objectKind(ctx.kind), namespace: ctx.namespace, name: ctx.name, uid: ctx.uid };
  const result = await updateOwnStatus<RestoreObject>(ctx.kube, own, (o) => {
    if (restoreRecord(o)?.phase !== 'running') return;
    const record = writableRestoreRecord(o);
    Object.assign(record, change);
    if (condition) setCondition(record, condition, now);
  });
  if (result.changed) return result.after;
  // Unchanged but still running (the values were there already) is no reason to stop.
  const after = result.after;
  return after && restoreRecord(after)?.phase === 'running' ? after : undefined;
}

/** Records which backup, from where, onto which instance; throws when the restore is no longer running. */
export async function markResolved(
  ctx: RestoreStatusContext,
  change: Pick<RestoreRecord, 'backupId' | 'backupName' | 'restoredFrom' | 'instanceName'>,
): Promise<void> {
  const written = await writeWhileRunning(ctx, change);
  if (!written)
    throw new RestoreNoLongerRunningError(
      `${objectKind(ctx.kind)} ${ctx.namespace}/${ctx.name} is no longer running; nothing is applied`,
    );
}

export async function markVerified(ctx: RestoreStatusContext): Promise<void> {
  await writeWhileRunning(ctx, { sha256Verified: true });
}

/** How far the restore's read is (restore-progress.ts); written only while it runs. */
export async function markProgress(ctx: RestoreStatusContext, progress: RestoreRecord['progress']): Promise<void> {
  await writeWhileRunning(ctx, { progress });
}

async function announce(
  ctx: RestoreStatusContext,
  after: RestoreObject | undefined,
  event: { type: 'Normal' | 'Warning'; reason: string; message: string },
): Promise<void> {
  if (!after) return;
  await ctx.events.record(
    { kind: objectKind(ctx.kind), metadata: after.metadata },
    event as Parameters<EventRecorder['record']>[1],
  );
}

/** Events about reads that broke off and went on, per restore; the worker log has every one. */
export const RESUME_EVENTS = 3;

/**
 * What a restore's archive reads call when they resume: a Warning Event each, for the first
 * RESUME_EVENTS of them (a connection that keeps breaking must not flood the namespace's Events).
 * The status does not change: the restore goes on.
 */
export function resumedReadEvents(ctx: RestoreStatusContext): (resumed: ResumedRead) => void {
  const metadata = { name: ctx.name, namespace: ctx.namespace, ...(ctx.uid ? { uid: ctx.uid } : {}) };
  let seen = 0;
  return (resumed) => {
    seen++;
    if (seen > RESUME_EVENTS) return;
    const more = seen === RESUME_EVENTS ? '; any further ones are in the worker log only' : '';
    const message = `${resumed.message}${more}`;
    void ctx.events.record(
      { kind: objectKind(ctx.kind), metadata },
      { type: 'Warning', reason: REASONS.ReadResumed, message },
    );
  };
}

/**
 * Another restore applies to the same server (two Cluster objects name it): a Warning Event, once,
 * so that `kubectl describe` says why a running restore does not move.
 */
export function announceTargetBusy(ctx: RestoreStatusContext, where: string): void {
  const metadata = { name: ctx.name, namespace: ctx.namespace, ...(ctx.uid ? { uid: ctx.uid } : {}) };
  const message = `another restore is applying to ${where} (another Cluster object names the same server); this one waits for it to end`;
  ctx.log.warn({ target: where }, message);
  void ctx.events.record(
    { kind: objectKind(ctx.kind), metadata },
    { type: 'Warning', reason: REASONS.TargetBusy, message },
  );
}

/** Completed: applied now, or found applied before (`alreadyApplied`: nothing was applied again). */
export async function markRestoreCompleted(
  ctx: RestoreStatusContext,
  message: string,
  alreadyApplied = false,
): Promise<void> {
  const reason = alreadyApplied ? REASONS.AlreadyApplied : REASONS.RestoreCompleted;
  const stoppedAt = (ctx.now ? ctx.now() : new Date()).toISOString();
  // The progress of a finished read says nothing the phase does not.
  const after = await writeWhileRunning(
    ctx,
    { phase: 'completed', stoppedAt, progress: undefined },
    { type: 'Ready', status: 'True', reason, message },
  );
  ctx.log.info({ kind: ctx.kind, namespace: ctx.namespace, name: ctx.name, alreadyApplied }, message);
  await announce(ctx, after, { type: 'Normal', reason, message });
}

/** Failed, with `then` (what to do to try again) after the failure's own advice. */
export async function markRestoreFailed(ctx: RestoreStatusContext, failure: WorkFailure, then?: string): Promise<void> {
  const stoppedAt = (ctx.now ? ctx.now() : new Date()).toISOString();
  const message = then ? `${failure.message}; ${then}` : failure.message;
  const change = { phase: 'failed' as const, reason: failure.reason, error: message, stoppedAt };
  const after = await writeWhileRunning(ctx, change, {
    type: 'Ready',
    status: 'False',
    reason: failure.reason,
    message,
  });
  await announce(ctx, after, {
    type: 'Warning',
    reason: REASONS.RestoreFailed,
    message: `restore failed (${failure.reason}): ${message}`,
  });
}

// The account may connect but not do what a restore does (read or write a table, use a database).
const PRIVILEGE_ERRORS = new Set([
  'ER_TABLEACCESS_DENIED_ERROR',
  'ER_COLUMNACCESS_DENIED_ERROR',
  'ER_DBACCESS_DENIED_ERROR',
  'ER_SPECIFIC_ACCESS_DENIED_ERROR',
]);

/**
 * Why a restore failed, as the failure its status records. A stop (SIGTERM, the heartbeat lost)
 * that came during the apply returns from sql-apply with a note on the target ("the SQL client
 * was killed; the target may be partially restored"), made from the stop's own failure: that one
 * is kept, not the bare stop.
 */
export function toRestoreFailure(err: unknown, signal: AbortSignal): WorkFailure {
  if (signal.aborted && signal.reason instanceof WorkFailure) {
    return err instanceof WorkFailure && err.cause === signal.reason ? err : signal.reason;
  }
  if (err instanceof WorkFailure) return err;
  const message = messageOf(err);
  if (err instanceof S3ConfigError) return new DownloadFailedError(message, { cause: err });
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && PRIVILEGE_ERRORS.has(code)) {
    return new ConnectionFailedError(
      `the account in the target Cluster's credentials Secret lacks a privilege the restore needs: ${message}; ` +
        'grant it all privileges (a restore replays a whole dump, and records itself in the lifeboat schema)',
      { cause: err },
    );
  }
  return new ApplyFailedError(`the restore worker failed unexpectedly: ${message}; see the worker's log`, {
    cause: err,
  });
}
