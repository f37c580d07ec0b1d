// `lifeboat worker backup ns/name`: one claimed Backup from its database into the object store
// (docs/design.md, backup steps 1–5), its outcome written to the Backup's status. The same code runs as a process
// of the runner or in a Job. A completed or failed Backup is never run again.
import type { S3Client } from '@aws-sdk/client-s3';
import { ANNOTATION_UNSAFE_REASON } from '../../crds/api-constants.js';
import type { Backup, Cluster } from '../../crds/kinds.js';
import {
  archiveKey,
  destinationPath,
  metadataKey,
  newBackupId,
  preflightProbeKey,
  type BackupLocation,
} from '../../crds/object-keys.js';
import { createS3Client, objectLockFor, resolveS3Access, type ObjectLockWrite } from '../../lib/s3-client.js';
import { assertCompressionSupported, uploadArchive, type UploadedArchive } from '../data-path/archive-upload.js';
import { writeBackupMetadata } from '../data-path/backup-metadata.js';
import { preflightBucket } from '../data-path/bucket-preflight.js';
import { startBackupTool, type ToolResult } from '../engine/backup-tool.js';
import { connectInstance, type DbCredentials } from '../engine/db-connection.js';
import { withDesync } from '../engine/galera-desync.js';
import type { DbInstance } from '../engine/instance-list.js';
import { selectSource, type SelectedSource } from '../engine/source-selection.js';
import { memberHolder, type MemberLeaseOptions } from '../worker/member-lease.js';
import { chooseHeldSource } from './backup-member.js';
import { EventRecorder } from '../status/event-recorder.js';
import type { Stored } from '../status/status-writer.js';
import {
  databaseCredentials,
  decodeAs,
  instancesOf,
  isOwnWork,
  jobCredentials,
  secretKeyReader,
  secretKeysFor,
  type JobCredentials,
  type WorkerDeps,
} from '../worker/worker-inputs.js';
import { UploadFailedError } from '../work-failures.js';
import { planBackup, type BackupPlan } from './backup-plan.js';
import { allowlistSettings } from '../worker/worker-allowlists.js';
import {
  markCompleted,
  markFailed,
  markDesynced,
  markDesyncRestored,
  markStarted,
  NoLongerRunningError,
  positions,
  toWorkFailure,
  type Finished,
} from './backup-status.js';

export type BackupWorkerDeps = WorkerDeps;

export type WorkerOutcome = 'completed' | 'failed' | 'skipped';

/** The Backup cannot be worked on at all (missing, or not claimed); the worker exits with this. */
export class WorkerRefusedError extends Error {
  readonly reason = 'WorkerRefused';
}

interface Context extends BackupWorkerDeps {
  readonly namespace: string;
  readonly name: string;
  readonly events: EventRecorder;
  readonly startedAt: Date;
  readonly fromJob: JobCredentials;
}

interface Store {
  readonly client: S3Client;
  readonly bucket: string;
  readonly location: BackupLocation;
  /** The one lock both objects get, so that the status records it exactly. */
  readonly objectLock: ObjectLockWrite | undefined;
}

/** The claimed Backup to work on, or 'skipped' for a finished one; throws for one never claimed. */
async function claimedBackup(
  namespace: string,
  name: string,
  deps: BackupWorkerDeps,
): Promise<Stored<Backup> | 'skipped'> {
  const stored = decodeAs('Backup', await deps.kube.getLifeboat('Backup', namespace, name)) as
    Stored<Backup> | undefined;
  if (!stored)
    throw new WorkerRefusedError(`Backup ${namespace}/${name} does not exist or no longer passes its schema`);
  if (!isOwnWork(deps, stored)) {
    const found = stored.metadata.uid ?? 'none';
    deps.log.warn(
      { namespace, name, uid: deps.uid, found },
      'the Backup this worker was started for was deleted; the one of that name now is other work, left alone',
    );
    return 'skipped';
  }
  const phase = stored.status?.phase;
  if (phase === 'completed' || phase === 'failed') {
    deps.log.info({ namespace, name, phase }, 'the Backup has finished already; a finished Backup is never run again');
    return 'skipped';
  }
  if (phase !== 'running') {
    throw new WorkerRefusedError(
      `Backup ${namespace}/${name} has not been claimed (phase ${phase ?? 'none'}); lifeboat runner claims a Backup and then starts its worker`,
    );
  }
  return stored;
}

export async function runBackupWorker(namespace: string, name: string, deps: BackupWorkerDeps): Promise<WorkerOutcome> {
  const stored = await claimedBackup(namespace, name, deps);
  if (stored === 'skipped') return 'skipped';
  const events = new EventRecorder(deps.kube, { log: deps.log, component: 'lifeboat-worker' });
  const startedAt = stored.status?.startedAt ? new Date(stored.status.startedAt) : (deps.now ?? (() => new Date()))();
  const fromJob = jobCredentials(deps.env ?? process.env);
  // Every write is guarded by the uid: a Backup deleted and applied anew mid-run is not written.
  const uid = deps.uid ?? stored.metadata.uid;
  const ctx: Context = { ...deps, uid, namespace, name, events, startedAt, fromJob };
  try {
    const finished = await backUp(ctx, stored);
    await markCompleted(ctx, finished);
    return 'completed';
  } catch (err) {
    if (err instanceof NoLongerRunningError) {
      deps.log.warn({ namespace, name }, err.message);
      return 'skipped';
    }
    const failure = toWorkFailure(err, deps.signal);
    deps.log.warn({ namespace, name, reason: failure.reason, err: failure.message }, 'backup failed');
    await markFailed(ctx, failure);
    return 'failed';
  }
}

async function backUp(ctx: Context, backup: Backup): Promise<Finished> {
  const cluster = decodeAs('Cluster', await ctx.kube.getLifeboat('Cluster', ctx.namespace, backup.spec.cluster.name));
  const inJob = ctx.fromJob.s3 !== undefined;
  const secrets = inJob ? new Map() : await secretKeysFor(ctx.kube, ctx.namespace, backup);
  const plan = planBackup({ backup, cluster, secrets, secretsKnown: !inJob, settings: allowlistSettings(process.env) });
  assertCompressionSupported(plan.compression);
  const store = await openStore(ctx, plan);
  const credentials = await databaseCredentials(ctx.kube, plan.cluster, ctx.fromJob);
  const instances = await instancesOf(ctx.kube, plan.cluster);
  const { source, hold } = await chooseHeldSource({
    leases: memberLeases(ctx, plan),
    instances: instances.map((i) => i.name),
    choose: (busy) => chooseSource(ctx, plan, { credentials, instances, busy }),
    signal: ctx.signal,
    log: ctx.log,
  });
  try {
    const key = archiveKey(store.location, plan.method, plan.compression);
    await markStarted(ctx, {
      instanceName: source.instance.name,
      method: plan.method,
      backupId: store.location.backupId,
      destinationPath: destinationPath(store.bucket, store.location),
      location: archiveLocation(plan, store, key),
      compression: plan.compression,
    });
    const run = (): Promise<[UploadedArchive, ToolResult]> =>
      dumpAndUpload(ctx, { plan, store, key, source, credentials });
    const [archive, tool] = source.desync
      ? await withDesync(source.connection, run, {
          signal: ctx.signal,
          instanceName: source.instance.name,
          logger: ctx.log,
          // A dump of hours can outlive the idle connection; wsrep_desync must still go back OFF.
          reconnect: () => connectInstance(source.instance, credentials),
          onDesync: () => markDesynced(ctx, source.instance.name),
          onRestored: () => markDesyncRestored(ctx, source.instance.name),
        })
      : await run();
    const stoppedAt = (ctx.now ?? (() => new Date()))();
    const finished: Finished = { plan, archive, tool, instanceName: source.instance.name, stoppedAt };
    await writeMetadata(ctx, store, finished);
    return finished;
  } finally {
    await source.connection.close();
    await hold?.release();
  }
}

/** Galera members are coordinated through Leases in the Cluster's namespace, where the API allows. */
function memberLeases(ctx: Context, plan: BackupPlan): MemberLeaseOptions | undefined {
  const clusterUid = (plan.cluster as Stored<Cluster>).metadata.uid;
  if (plan.cluster.spec.topology !== 'galera' || !ctx.leases || !clusterUid) return undefined;
  const holder = memberHolder(ctx.namespace, ctx.name, ctx.uid);
  return {
    api: ctx.leases,
    namespace: plan.cluster.metadata.namespace ?? ctx.namespace,
    clusterUid,
    holder,
    log: ctx.log,
  };
}

/** Where this backup goes, recorded before the first byte so a restore or a clean-up never re-derives it. */
function archiveLocation(plan: BackupPlan, store: Store, key: string): NonNullable<Backup['status']>['location'] {
  const { endpoint, region, path } = plan.objectStore;
  return {
    bucket: store.bucket,
    ...(endpoint ? { endpoint } : {}),
    ...(region ? { region } : {}),
    ...(path ? { path } : {}),
    archiveKey: key,
    metadataKey: metadataKey(store.location),
    ...(store.objectLock
      ? { objectLock: { mode: store.objectLock.mode, retainUntil: store.objectLock.retainUntil.toISOString() } }
      : {}),
  };
}

async function openStore(ctx: Context, plan: BackupPlan): Promise<Store> {
  const store = plan.objectStore;
  const resolved = await resolveS3Access(
    ctx.fromJob.s3 ? { ...store, credentials: undefined } : store,
    secretKeyReader(ctx.kube, ctx.namespace),
  );
  const access = ctx.fromJob.s3 && store.credentials ? { ...resolved, credentials: ctx.fromJob.s3 } : resolved;
  const client = createS3Client(store, access);
  const location: BackupLocation = {
    path: store.path,
    cluster: plan.cluster.metadata.name ?? '',
    backupName: ctx.name,
    backupId: newBackupId(ctx.startedAt),
  };
  await preflightBucket({
    client,
    bucket: store.bucket,
    probeKey: preflightProbeKey(location),
    serverSideEncryption: store.serverSideEncryption,
    objectLock: store.objectLock,
    signal: ctx.signal,
  });
  const objectLock = objectLockFor(store.objectLock, (ctx.now ?? (() => new Date()))());
  return { client, bucket: store.bucket, location, objectLock };
}

interface SourceInputs {
  readonly credentials: DbCredentials;
  readonly instances: readonly DbInstance[];
  /** Members another Backup holds. */
  readonly busy: ReadonlySet<string>;
}

async function chooseSource(ctx: Context, plan: BackupPlan, inputs: SourceInputs): Promise<SelectedSource> {
  const { cluster } = plan;
  const source = await selectSource({
    clusterName: cluster.metadata.name ?? '',
    topology: cluster.spec.topology,
    target: plan.target,
    allowUnsafe: plan.allowUnsafe,
    instances: inputs.instances,
    credentials: inputs.credentials,
    busy: inputs.busy,
    logger: ctx.log,
  });
  ctx.log.info(
    { namespace: ctx.namespace, name: ctx.name, instance: source.instance.name, why: source.why },
    'source chosen',
  );
  if (source.waived.length > 0) {
    const why = plan.backup.metadata.annotations?.[ANNOTATION_UNSAFE_REASON] ?? '';
    await ctx.events.record(
      { kind: 'Backup', metadata: plan.backup.metadata },
      {
        type: 'Warning',
        reason: 'BackupRunning',
        message: `allowUnsafe: backing up from ${source.instance.name} although ${source.waived.join('; ')} (reason given: ${why})`,
      },
    );
  }
  return source;
}

interface Transfer {
  readonly plan: BackupPlan;
  readonly store: Store;
  readonly key: string;
  readonly source: SelectedSource;
  readonly credentials: DbCredentials;
}

/** The tool's stdout straight into the object store; both must succeed. */
async function dumpAndUpload(ctx: Context, transfer: Transfer): Promise<[UploadedArchive, ToolResult]> {
  const { plan, store, key, source, credentials } = transfer;
  const { cluster } = plan;
  const tool = await startBackupTool({
    method: plan.method,
    engine: cluster.spec.engine,
    version: cluster.spec.version,
    topology: cluster.spec.topology,
    instance: source.instance,
    credentials,
    connection: source.connection,
    logger: ctx.log,
    signal: ctx.signal,
    ...(ctx.toolPath ? { path: ctx.toolPath } : {}),
  });
  const upload = uploadArchive({
    client: store.client,
    bucket: store.bucket,
    key,
    source: tool.stdout,
    compression: plan.compression,
    storageClass: plan.objectStore.storageClass,
    serverSideEncryption: plan.objectStore.serverSideEncryption,
    objectLock: store.objectLock,
    signal: ctx.signal,
    sourceDone: tool.done.then(() => undefined),
  });
  // Both settle before the worker goes on: a failed upload has aborted its multipart upload by
  // then, and the tool, whose stdout the upload closed, has exited.
  const [uploaded, ran] = await Promise.allSettled([upload, tool.done]);
  if (uploaded.status === 'fulfilled' && ran.status === 'fulfilled') return [uploaded.value, ran.value];
  // The object store's failure explains the tool's broken pipe, not the other way round.
  if (uploaded.status === 'rejected' && uploaded.reason instanceof UploadFailedError) throw uploaded.reason;
  throw ran.status === 'rejected' ? ran.reason : (uploaded as PromiseRejectedResult).reason;
}

async function writeMetadata(ctx: Context, store: Store, finished: Finished): Promise<void> {
  const { plan, archive, tool } = finished;
  await writeBackupMetadata({
    client: store.client,
    bucket: store.bucket,
    key: metadataKey(store.location),
    serverSideEncryption: plan.objectStore.serverSideEncryption,
    objectLock: store.objectLock,
    metadata: {
      formatVersion: 1,
      cluster: store.location.cluster,
      namespace: ctx.namespace,
      backupName: ctx.name,
      backupId: store.location.backupId,
      engine: plan.cluster.spec.engine,
      serverVersion: tool.serverVersion,
      method: plan.method,
      sourceInstance: finished.instanceName,
      objectKey: archive.key,
      size: archive.size,
      sha256: archive.sha256,
      compression: plan.compression,
      startedAt: ctx.startedAt.toISOString(),
      stoppedAt: finished.stoppedAt.toISOString(),
      ...positions(tool),
    },
  });
}
