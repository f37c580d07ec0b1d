// What the backup worker writes to its Backup's status, through the one status writer: the details
// once the source is chosen, then completed or failed. Each change applies only while the Backup is
// still running, so a runner that already judged the worker gone is never contradicted.
import type { Backup } from '../../crds/kinds.js';
import type { Logger } from '../../lib/logger.js';
import { S3ConfigError } from '../../lib/s3-client.js';
import type { UploadedArchive } from '../data-path/archive-upload.js';
import type { ToolResult } from '../engine/backup-tool.js';
import { setCondition, type ConditionInput } from '../status/conditions.js';
import type { EventRecorder } from '../status/event-recorder.js';
import { updateOwnStatus, type Stored } from '../status/status-writer.js';
import { DumpFailedError, UploadFailedError, WorkFailure } from '../work-failures.js';
import type { BackupPlan } from './backup-plan.js';
import type { WorkerKube } from '../worker/worker-inputs.js';

export interface StatusContext {
  readonly kube: WorkerKube;
  readonly log: Logger;
  readonly events: EventRecorder;
  readonly namespace: string;
  readonly name: string;
  /** The uid of the Backup this worker was started for: a Backup re-created under its name is not its to write. */
  readonly uid?: string | undefined;
  readonly now?: () => Date;
}

/** A backup whose archive and metadata.json are in the object store. */
export interface Finished {
  readonly plan: BackupPlan;
  readonly archive: UploadedArchive;
  readonly tool: ToolResult;
  readonly instanceName: string;
  readonly stoppedAt: Date;
}

type BackupStatus = NonNullable<Backup['status']>;

function nowOf(ctx: StatusContext): Date {
  return ctx.now ? ctx.now() : new Date();
}

/** Writes `fields` and the condition while the Backup is running; returns the stored object when it changed. */
async function writeWhileRunning(
  ctx: StatusContext,
  fields: Partial<BackupStatus>,
  condition?: ConditionInput,
): Promise<Stored<Backup> | undefined> {
  const now = nowOf(ctx);
  const own = { kind: 'Backup', namespace: ctx.namespace, name: ctx.name, uid: ctx.uid } as const;
  const result = await updateOwnStatus<Backup>(ctx.kube, own, (b) => {
    if (b.status?.phase !== 'running') return;
    const status: BackupStatus = { ...b.status, ...fields };
    if (condition) setCondition(status, condition, now);
    b.status = status;
  });
  if (!result.changed && result.before?.status?.phase !== 'running') {
    ctx.log.warn(
      { namespace: ctx.namespace, name: ctx.name, uid: ctx.uid, phase: result.before?.status?.phase },
      'status left alone: the Backup is no longer running, or was deleted (and perhaps applied anew)',
    );
  }
  return result.changed ? result.after : undefined;
}

/** Records the source and destination; throws when the Backup is no longer running, so no dump starts. */
export async function markStarted(
  ctx: StatusContext,
  fields: Pick<BackupStatus, 'instanceName' | 'method' | 'backupId' | 'destinationPath' | 'location' | 'compression'>,
): Promise<void> {
  const written = await writeWhileRunning(ctx, fields);
  if (!written)
    throw new NoLongerRunningError(`Backup ${ctx.namespace}/${ctx.name} is no longer running; not backing it up`);
}

/**
 * Written before wsrep_desync=ON on a Galera source: if the worker dies with the member desynced,
 * this is how the runner knows to put it back.
 */
export async function markDesynced(ctx: StatusContext, instanceName: string): Promise<void> {
  const message = `wsrep_desync=ON on ${instanceName} for the backup; it is set back OFF when the backup ends`;
  const written = await writeWhileRunning(
    ctx,
    {},
    { ...DESYNCED, status: 'True', reason: 'DesyncedForBackup', message },
  );
  if (!written)
    throw new NoLongerRunningError(`Backup ${ctx.namespace}/${ctx.name} is no longer running; not desyncing`);
}

export async function markDesyncRestored(ctx: StatusContext, instanceName: string): Promise<void> {
  const message = `wsrep_desync is back OFF on ${instanceName}, and it is Synced`;
  await writeWhileRunning(ctx, {}, { ...DESYNCED, status: 'False', reason: 'DesyncRestored', message });
}

const DESYNCED = { type: 'SourceDesynced' } as const;

/** The Backup left `running` under the worker (a runner judged it gone); it stops without writing. */
export class NoLongerRunningError extends Error {
  readonly reason = 'NoLongerRunning';
}

/** The GTID and binlog positions the tool could tell, without empty fields. */
export function positions(tool: ToolResult): Pick<ToolResult, 'beginGTID' | 'endGTID' | 'beginBinlog' | 'endBinlog'> {
  const { beginGTID, endGTID, beginBinlog, endBinlog } = tool;
  return Object.fromEntries(
    Object.entries({ beginGTID, endGTID, beginBinlog, endBinlog }).filter(([, v]) => typeof v === 'string' && v !== ''),
  );
}

export async function markCompleted(ctx: StatusContext, finished: Finished): Promise<void> {
  const { archive, instanceName } = finished;
  const message = `backed up ${instanceName} with ${finished.plan.method}: ${archive.size} bytes, sha256 ${archive.sha256}`;
  const after = await writeWhileRunning(
    ctx,
    {
      phase: 'completed',
      sha256: archive.sha256,
      size: archive.size,
      serverVersion: finished.tool.serverVersion,
      stoppedAt: finished.stoppedAt.toISOString(),
      ...positions(finished.tool),
    },
    { type: 'Ready', status: 'True', reason: 'BackupCompleted', message },
  );
  if (!after) return;
  ctx.log.info(
    { namespace: ctx.namespace, name: ctx.name, size: archive.size, sha256: archive.sha256 },
    'backup completed',
  );
  await ctx.events.record(
    { kind: 'Backup', metadata: after.metadata },
    { type: 'Normal', reason: 'BackupCompleted', message },
  );
}

export async function markFailed(ctx: StatusContext, failure: WorkFailure): Promise<void> {
  const after = await writeWhileRunning(
    ctx,
    { phase: 'failed', reason: failure.reason, error: failure.message, stoppedAt: nowOf(ctx).toISOString() },
    { type: 'Ready', status: 'False', reason: failure.reason, message: failure.message },
  );
  if (after) {
    const message = `${failure.reason}: ${failure.message}`;
    await ctx.events.record(
      { kind: 'Backup', metadata: after.metadata },
      { type: 'Warning', reason: 'BackupFailed', message },
    );
  }
}

/** Any error as the failure the Backup reports: SIGTERM's own reason, a WorkFailure, or one named for what broke. */
export function toWorkFailure(err: unknown, signal: AbortSignal): WorkFailure {
  if (signal.aborted && signal.reason instanceof WorkFailure) return signal.reason;
  if (err instanceof WorkFailure) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof S3ConfigError) return new UploadFailedError(`${message}; fix spec.objectStore`, { cause: err });
  return new DumpFailedError(`the backup worker failed unexpectedly: ${message}; see the worker's log`, { cause: err });
}
