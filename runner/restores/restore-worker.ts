// `lifeboat worker restore ns/name` and `lifeboat worker bootstrap ns/cluster`: one claimed logical
// restore (docs/design.md, "Restore data path"). Resolve the backup, check the target, verify the
// whole archive against its metadata.json before a byte is applied, then stream it (decompressed)
// into the SQL client on the target, and record in the target that this restore was applied, so a
// re-created Restore never applies it twice. The outcome goes to the Restore's status, or the
// Cluster's status.bootstrap. Finished work is never run again.
import { setTimeout as delay } from 'node:timers/promises';
import type { Cluster } from '../../crds/kinds.js';
import type { RecoverySpec } from '../../crds/recovery-types.js';
import { assertDecompressionSupported, openArchive, verifyArchive } from '../data-path/archive-download.js';
import { releaseBatch } from '../data-path/archive-socket-read.js';
import { connectInstance, isAccessDenied, type DbCredentials } from '../engine/db-connection.js';
import { address } from '../engine/instance-list.js';
import { appliedRestore, recoverKeptMarkers, withMarkersKept, type AppliedRestore } from '../engine/restore-marker.js';
import {
  APPLY_LOCK,
  assertTargetEmpty,
  chooseRestoreTarget,
  lockTargetForRestore,
  userDatabases,
  type RestoreTarget,
} from '../engine/restore-target.js';
import { applySql } from '../engine/sql-apply.js';
import { findClient, isPhysical } from '../engine/tool-commands.js';
import { EventRecorder } from '../status/event-recorder.js';
import {
  databaseCredentials,
  decodeAs,
  instancesOf,
  isOwnWork,
  jobCredentials,
  type WorkerDeps,
  type WorkerKube,
} from '../worker/worker-inputs.js';
import {
  BackupIdNotFoundError,
  ChecksumMismatchError,
  ClusterNotFoundError,
  ConnectionFailedError,
  DownloadFailedError,
  NoBackupsFoundError,
  TargetNotEmptyError,
  UnsupportedMethodError,
} from '../work-failures.js';
import type { ResumedRead } from '../data-path/archive-download.js';
import type { Logger } from '../../lib/logger.js';
import { ProgressReporter, type RestoreStep } from './restore-progress.js';
import { bootstrapChoiceTime, refusePointInTime, resolveRestoreSource, type RestoreSource } from './restore-source.js';
import {
  BOOTSTRAP_AGAIN,
  markResolved,
  markRestoreCompleted,
  markRestoreFailed,
  announceTargetBusy,
  markProgress,
  markVerified,
  toRestoreFailure,
  resumedReadEvents,
  restoreRecord,
  RESTORE_AGAIN,
  RestoreNoLongerRunningError,
  type RestoreKind,
  type RestoreObject,
  type RestoreStatusContext,
} from './restore-status.js';

export interface RestoreWorkerDeps extends WorkerDeps {
  /** A bootstrap waits this long for the database to answer; default BOOTSTRAP_WAIT_MS. */
  readonly bootstrapWaitMs?: number;
  readonly bootstrapRetryMs?: number;
}

export type RestoreOutcome = 'completed' | 'failed' | 'skipped';

/** The work cannot be done at all (missing, not claimed); the worker exits with this. */
export class RestoreRefusedError extends Error {
  readonly reason = 'WorkerRefused';
}

/** What one restore is: where it goes, from what, whether it may overwrite, and its marker key. */
interface Plan {
  readonly kind: RestoreKind;
  readonly object: RestoreObject;
  readonly cluster: Cluster;
  readonly recovery: RecoverySpec;
  readonly overwrite: boolean;
  readonly markerKey: string;
}

async function claimed(
  kind: RestoreKind,
  namespace: string,
  name: string,
  deps: RestoreWorkerDeps,
): Promise<RestoreObject | 'skipped'> {
  const what = kind === 'restore' ? 'Restore' : 'Cluster';
  const object = decodeAs(what, await deps.kube.getLifeboat(what, namespace, name)) as RestoreObject | undefined;
  const record = object ? restoreRecord(object) : undefined;
  if (!object || !record) {
    throw new RestoreRefusedError(
      `${what} ${namespace}/${name} does not exist, no longer passes its schema, or asks for no restore`,
    );
  }
  if (!isOwnWork(deps, object)) {
    deps.log.warn(
      { namespace, name, uid: deps.uid, found: object.metadata.uid },
      `the ${what} this worker was started for was deleted; the one of that name now is other work, left alone`,
    );
    return 'skipped';
  }
  if (record.phase === 'completed' || record.phase === 'failed') {
    deps.log.info({ namespace, name, phase: record.phase }, 'the restore has finished already; it is never run again');
    return 'skipped';
  }
  if (record.phase !== 'running') {
    throw new RestoreRefusedError(
      `${what} ${namespace}/${name} has not been claimed (phase ${record.phase ?? 'none'}); lifeboat runner claims it and then starts its worker`,
    );
  }
  return object;
}

async function planOf(kind: RestoreKind, object: RestoreObject, kube: WorkerKube): Promise<Plan> {
  const namespace = object.metadata.namespace ?? 'default';
  if (kind === 'bootstrap') {
    const cluster = object as Cluster;
    const recovery = cluster.spec.bootstrap?.recovery as RecoverySpec;
    return {
      kind,
      object,
      cluster,
      recovery,
      overwrite: false,
      markerKey: `cluster:${namespace}/${cluster.metadata.name ?? ''}`,
    };
  }
  const restore = object as Extract<RestoreObject, { kind: 'Restore' }>;
  const clusterName = restore.spec.cluster.name;
  const cluster = decodeAs('Cluster', await kube.getLifeboat('Cluster', namespace, clusterName));
  if (!cluster) {
    throw new ClusterNotFoundError(
      `Cluster ${clusterName} does not exist in namespace ${namespace}; create it or fix spec.cluster.name`,
    );
  }
  const { backup, source, backupID, recoveryTarget, overwrite } = restore.spec;
  const recovery: RecoverySpec = { backup, source, backupID, recoveryTarget };
  return {
    kind,
    object,
    cluster,
    recovery,
    overwrite: overwrite === true,
    markerKey: `${namespace}/${restore.metadata.name ?? ''}`,
  };
}

export async function runRestoreWorker(
  kind: RestoreKind,
  namespace: string,
  name: string,
  deps: RestoreWorkerDeps,
): Promise<RestoreOutcome> {
  const object = await claimed(kind, namespace, name, deps);
  if (object === 'skipped') return 'skipped';
  const events = new EventRecorder(deps.kube, { log: deps.log, component: 'lifeboat-worker' });
  const ctx: RestoreStatusContext = {
    kube: deps.kube,
    log: deps.log,
    events,
    kind,
    namespace,
    name,
    uid: deps.uid ?? object.metadata.uid,
    ...(deps.now ? { now: deps.now } : {}),
  };
  try {
    const said = await restore(ctx, deps, await planOf(kind, object, deps.kube));
    await markRestoreCompleted(ctx, said.message, said.alreadyApplied);
    return 'completed';
  } catch (err) {
    if (err instanceof RestoreNoLongerRunningError) {
      deps.log.warn({ namespace, name }, err.message);
      return 'skipped';
    }
    const failure = toRestoreFailure(err, deps.signal);
    deps.log.warn({ kind, namespace, name, reason: failure.reason, err: failure.message }, 'restore failed');
    await markRestoreFailed(ctx, failure, kind === 'restore' ? RESTORE_AGAIN : BOOTSTRAP_AGAIN);
    return 'failed';
  }
}

function refuseUnsupported(plan: Plan, source: RestoreSource, toolPath: string | undefined): void {
  const { metadata } = source;
  if (isPhysical(metadata.method) && plan.kind === 'restore') {
    throw new UnsupportedMethodError(
      `backup ${metadata.backupId} is a physical backup (${metadata.method}); it cannot be applied to a running server: restore it into a new data directory with lifeboat restore-datadir (spec.bootstrap.recovery of a new Cluster, in the database pod's init container)`,
    );
  }
  assertDecompressionSupported(metadata.compression);
  // Now, not after the whole archive has been downloaded and verified.
  if (!isPhysical(metadata.method) && toolPath === undefined) findClient(plan.cluster.spec.engine);
}

interface Said {
  readonly message: string;
  readonly alreadyApplied: boolean;
}

async function restore(ctx: RestoreStatusContext, deps: RestoreWorkerDeps, plan: Plan): Promise<Said> {
  // Before the bucket is read: what cannot be done fails as that, not as whatever the listing finds.
  refusePointInTime(plan.recovery, plan.kind === 'restore' ? 'spec' : 'spec.bootstrap.recovery');
  const fromJob = jobCredentials(deps.env ?? process.env);
  let source: RestoreSource;
  try {
    source = await resolveRestoreSource({
      kube: deps.kube,
      cluster: plan.cluster,
      recovery: plan.recovery,
      // A running server takes logical backups only. A new Cluster's bootstrap takes the newest of
      // either kind complete when the Cluster was created, as restore-datadir --from-cluster does,
      // so the two agree on one backup.
      kind: plan.kind === 'restore' ? 'logical' : undefined,
      completedBy: plan.kind === 'bootstrap' ? bootstrapChoiceTime(plan.cluster) : undefined,
      s3: fromJob.s3,
      signal: deps.signal,
    });
  } catch (err) {
    if (!backupGone(err)) throw err;
    const said = await appliedWithBackupGone(ctx, deps, plan, fromJob);
    if (said) return said;
    throw err;
  }
  try {
    refuseUnsupported(plan, source, deps.toolPath);
    // A bootstrap may wait many minutes for its server: what it chose is recorded now, so that
    // retention keeps that backup meanwhile (it keeps what running restores record).
    if (plan.kind === 'bootstrap') {
      const { backupId, backupName } = source.metadata;
      await markResolved(ctx, { backupId, backupName, restoredFrom: source.folder });
    }
    const { target, credentials } = await connectTarget(deps, plan, fromJob);
    try {
      return await onTarget(ctx, deps, { plan, source, target, credentials });
    } finally {
      await target.connection.close();
    }
  } finally {
    source.client.destroy();
  }
}

async function connectTarget(
  deps: RestoreWorkerDeps,
  plan: Plan,
  fromJob: ReturnType<typeof jobCredentials>,
): Promise<{ target: RestoreTarget; credentials: DbCredentials }> {
  const credentials = await databaseCredentials(deps.kube, plan.cluster, fromJob);
  const instances = await instancesOf(deps.kube, plan.cluster);
  const choose = (): Promise<RestoreTarget> =>
    chooseRestoreTarget(plan.cluster.spec.topology, instances, (i) => connectInstance(i, credentials));
  const target = plan.kind === 'bootstrap' ? await untilReachable(choose, deps) : await choose();
  return { target, credentials };
}

/** The backup is no longer where the restore would find it: deleted by hand, or by retention. */
function backupGone(err: unknown): boolean {
  if (err instanceof NoBackupsFoundError || err instanceof BackupIdNotFoundError) return true;
  return err instanceof DownloadFailedError && (err.cause as { name?: unknown } | undefined)?.name === 'NoSuchKey';
}

/**
 * A Restore applied anew after its backup went (retention, or by hand): the target still says
 * whether it ran, so a GitOps sync of a restore that ran ends AlreadyApplied instead of failing
 * over a backup it no longer needs. Undefined when the target has no record of it.
 */
async function appliedWithBackupGone(
  ctx: RestoreStatusContext,
  deps: RestoreWorkerDeps,
  plan: Plan,
  fromJob: ReturnType<typeof jobCredentials>,
): Promise<Said | undefined> {
  // A target that cannot be reached cannot say: the missing backup is then the failure to report.
  const reached = await connectTarget(deps, plan, fromJob).catch(() => undefined);
  if (!reached) return undefined;
  const { target } = reached;
  try {
    await recoverKeptMarkers(target.connection);
    const before = await appliedRestore(target.connection, plan.markerKey);
    if (!before) return undefined;
    const where = `${target.instance.name} (${address(target.instance)})`;
    const pinned = plan.recovery.backupID;
    if (pinned !== undefined && pinned !== before.backupId) throw ranOnce(plan, before, where, pinned);
    const said = await recordedBefore(ctx, before, target.instance.name, where);
    return { ...said, message: `${said.message}; the backup it names is no longer in the object store` };
  } finally {
    await target.connection.close();
  }
}

/**
 * The target records this restore as applied (the same manifest applied anew): nothing is applied
 * again, and the status names what was applied then. A Restore that now pins another backup
 * (backup.name or backupID changed in Git) is refused: a name runs once.
 */
async function alreadyApplied(
  ctx: RestoreStatusContext,
  a: Apply,
  before: AppliedRestore,
  where: string,
): Promise<Said> {
  const { metadata } = a.source;
  const pinned = a.plan.recovery.backup !== undefined || a.plan.recovery.backupID !== undefined;
  if (pinned && (before.backupId !== metadata.backupId || before.sha256 !== metadata.sha256)) {
    throw ranOnce(a.plan, before, where, metadata.backupId);
  }
  return recordedBefore(ctx, before, a.target.instance.name, where);
}

function ranOnce(plan: Plan, before: AppliedRestore, where: string, backupId: string): TargetNotEmptyError {
  const again =
    plan.kind === 'restore'
      ? `to restore backup ${backupId} there, apply it as a Restore of another name with overwrite: true`
      : `to restore backup ${backupId} into it, apply a Restore with overwrite: true`;
  return new TargetNotEmptyError(
    `this restore was applied to ${where} at ${before.appliedAt} with backup ${before.backupId} (${before.source}), and now names backup ${backupId}; a restore runs once: ${again}`,
  );
}

/** The status names what was applied then; nothing is applied again. */
async function recordedBefore(
  ctx: RestoreStatusContext,
  before: AppliedRestore,
  instanceName: string,
  where: string,
): Promise<Said> {
  const folder = before.source.slice(0, before.source.lastIndexOf('/') + 1);
  await markResolved(ctx, {
    backupId: before.backupId,
    backupName: folder.split('/').slice(-3, -2)[0] ?? before.backupId,
    restoredFrom: folder,
    instanceName,
  });
  const message = `already applied to ${where} at ${before.appliedAt} (backup ${before.backupId} from ${before.source}); nothing was applied again, so what was written since is kept`;
  return { message, alreadyApplied: true };
}

/**
 * A physical backup is put in place by `lifeboat restore-datadir` before the server starts (the
 * database pod's init container); the runner cannot apply it. It judges by what the server holds:
 * data means the data directory was restored; an empty server means nobody restored it.
 */
async function physicalBootstrap(a: Apply, where: string): Promise<Said> {
  const { metadata } = a.source;
  const ref = `${a.plan.cluster.metadata.namespace ?? 'default'}/${a.plan.cluster.metadata.name ?? ''}`;
  const found = await userDatabases(a.target.connection);
  if (found.length === 0) {
    throw new UnsupportedMethodError(
      `backup ${metadata.backupId} is a physical backup (${metadata.method}) and ${where} holds no databases: run lifeboat restore-datadir --to <data directory> --from-cluster ${ref} in the database pod's init container, before the server starts, then re-create this Cluster`,
    );
  }
  return {
    // The runner cannot look into a data directory: the server holding data is what it goes by.
    message: `physical backup ${metadata.backupId} (${metadata.method}): ${where} holds ${found.join(', ')}, so its data directory is taken as restored by lifeboat restore-datadir before the server started; the runner applied nothing`,
    alreadyApplied: false,
  };
}

/** How long a bootstrap waits for a new Cluster's database to accept connections. */
export const BOOTSTRAP_WAIT_MS = 30 * 60_000;
const BOOTSTRAP_RETRY_MS = 5_000;

/**
 * A new Cluster's database may still be starting (its pod scheduled, an init container restoring
 * a data directory) when the runner sees the Cluster: the bootstrap waits for it to answer. Wrong
 * credentials and everything else fail at once.
 */
async function untilReachable(choose: () => Promise<RestoreTarget>, deps: RestoreWorkerDeps): Promise<RestoreTarget> {
  const deadline = Date.now() + (deps.bootstrapWaitMs ?? BOOTSTRAP_WAIT_MS);
  for (let attempt = 1; ; attempt++) {
    try {
      return await choose();
    } catch (err) {
      const waitable = err instanceof ConnectionFailedError && !isAccessDenied(err.cause);
      if (!waitable || Date.now() >= deadline || deps.signal.aborted) throw err;
      if (attempt === 1)
        deps.log.info({ why: err.message }, 'waiting for the new Cluster’s database to accept connections');
      await delay(deps.bootstrapRetryMs ?? BOOTSTRAP_RETRY_MS, undefined, { signal: deps.signal }).catch(
        () => undefined,
      );
    }
  }
}

/** A read that failed while verifying: says that nothing was applied, when it does not already. */
function beforeApply(err: unknown): unknown {
  if (!(err instanceof DownloadFailedError) || err.message.includes('nothing was applied')) return err;
  return new DownloadFailedError(`${err.message}; nothing was applied`, { cause: err });
}

/** A damaged newest backup need not block a restore from source: an older one may be sound. */
function olderBackupHint(err: unknown, plan: Plan): unknown {
  if (!(err instanceof ChecksumMismatchError) || plan.recovery.source === undefined || plan.recovery.backupID)
    return err;
  return new ChecksumMismatchError(
    `${err.message}; to restore an older backup instead, set backupID (lifeboat backups list shows the backups and whether they are complete)`,
    { cause: err },
  );
}

interface Apply {
  readonly plan: Plan;
  readonly source: RestoreSource;
  readonly target: RestoreTarget;
  readonly credentials: DbCredentials;
}

async function onTarget(ctx: RestoreStatusContext, deps: RestoreWorkerDeps, a: Apply): Promise<Said> {
  const { plan, source, target } = a;
  const { metadata } = source;
  const where = `${target.instance.name} (${address(target.instance)})`;
  await lockTargetForRestore(target.connection, {
    signal: deps.signal,
    onWait: () => announceTargetBusy(ctx, where),
  });
  const recovered = await recoverKeptMarkers(target.connection);
  if (recovered > 0) {
    deps.log.warn(
      { target: where, recovered },
      'wrote back the restore records that a restore killed mid-apply had kept aside',
    );
  }
  const before = await appliedRestore(target.connection, plan.markerKey);
  if (before) return alreadyApplied(ctx, a, before, where);
  await markResolved(ctx, {
    backupId: metadata.backupId,
    backupName: metadata.backupName,
    restoredFrom: source.folder,
    instanceName: target.instance.name,
  });
  if (isPhysical(metadata.method)) return physicalBootstrap(a, where);
  const found = await assertTargetEmpty(target.connection, { overwrite: plan.overwrite, where });
  if (found.length > 0)
    deps.log.warn({ target: where, databases: found }, 'overwrite: restoring over existing databases');
  const onResume = resumedReadEvents(ctx);
  // The shared worker log must say which restore a resumed read belongs to.
  const log = deps.log.child({ kind: ctx.kind, namespace: ctx.namespace, name: ctx.name });
  const progress = new ProgressReporter<RestoreStep>({
    size: metadata.size,
    write: (p) => markProgress(ctx, p),
    log,
  });
  // Stopped before the final status, which then never meets a progress write still under way.
  try {
    const said = await verifyAndApply(ctx, deps, a, { log, onResume, progress });
    await progress.stop();
    return said;
  } catch (err) {
    await progress.stop({ final: true });
    throw err;
  }
}

interface ReadContext {
  readonly log: Logger;
  readonly onResume: (resumed: ResumedRead) => void;
  readonly progress: ProgressReporter<RestoreStep>;
}

async function verifyAndApply(
  ctx: RestoreStatusContext,
  deps: RestoreWorkerDeps,
  a: Apply,
  r: ReadContext,
): Promise<Said> {
  const { plan, source, target } = a;
  const { metadata } = source;
  const where = `${target.instance.name} (${address(target.instance)})`;
  const { log, onResume } = r;
  const verified = await verifyArchive(source, {
    signal: deps.signal,
    log,
    onResume,
    onProgress: r.progress.begin('verifying'),
  }).catch((err: unknown) => {
    throw olderBackupHint(beforeApply(err), a.plan);
  });
  await markVerified(ctx);
  deps.log.info(
    { backupId: metadata.backupId, size: verified.size, sha256: verified.sha256 },
    'archive verified; applying',
  );
  const record: AppliedRestore = {
    key: plan.markerKey,
    backupId: metadata.backupId,
    sha256: verified.sha256,
    source: `s3://${source.bucket}/${metadata.objectKey}`,
    appliedAt: new Date().toISOString(),
    restoreUid: plan.object.metadata.uid ?? '',
  };
  const applied = await withMarkersKept(target.connection, record, () =>
    applySql({
      instance: target.instance,
      engine: plan.cluster.spec.engine,
      credentials: a.credentials,
      input: openArchive(source, {
        ...(verified.etag ? { etag: verified.etag } : {}),
        signal: deps.signal,
        log,
        onResume,
        onProgress: r.progress.begin('applying'),
        socketRead: true,
      }),
      onWritten: releaseBatch,
      sessionLock: APPLY_LOCK,
      signal: deps.signal,
      log: deps.log,
      ...(deps.toolPath ? { toolPath: deps.toolPath } : {}),
    }),
  );
  const message = `restored backup ${metadata.backupId} (${metadata.backupName}, ${metadata.size} bytes, sha256 verified) from ${source.folder} into ${where}: ${applied.bytes} bytes of SQL applied`;
  return { message, alreadyApplied: false };
}
