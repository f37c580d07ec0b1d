// The Restore and Cluster-bootstrap reconcilers (the run-once machinery with restoreKind and
// bootstrapKind) against an API server in memory (fake API) and a fake executor that starts
// nothing: pending then claimed, waiting for a running Backup, failing when the worker is gone,
// announcing what a worker left out, and counting each outcome once.
import assert from 'node:assert/strict';
import type { Cluster, Restore } from '../../../crds/kinds.js';
import type { BackupRef, Executor, StartedWorker, WorkerState, WorkItem } from '../../../runner/executors/executor.js';
import { RunOnceReconciler, type Blocked } from '../../../runner/reconcile/run-once-reconciler.js';
import { bootstrapKind, restoreKind, type RestoreKindDeps } from '../../../runner/restores/restore-reconciler.js';
import { createRunnerMetrics, type RunnerMetrics } from '../../../runner/runner-metrics.js';
import { EventRecorder } from '../../../runner/status/event-recorder.js';
import type { Stored } from '../../../runner/status/status-writer.js';
import { FakeClock, FakeLifeboatApi, silentLog } from '../reconcile/fakes.js';

/** Records starts; the test says what isAlive answers. */
class FakeExecutor implements Executor {
  readonly kind = 'process';
  readonly restartable = false;
  readonly started: { kind: string; name: string; clusterName: string }[] = [];
  state: WorkerState = { state: 'alive' };

  plannedJobName(): string {
    return 'host-1/pending';
  }

  async start(work: WorkItem): Promise<StartedWorker> {
    await Promise.resolve();
    this.started.push({ kind: work.kind, name: work.name, clusterName: work.clusterName });
    return { jobName: `host-1/${1000 + this.started.length}`, description: 'process 1001 on host host-1' };
  }

  async isAlive(_work: BackupRef, _jobName: string): Promise<WorkerState> {
    return this.state;
  }

  async stop(): Promise<void> {}
  async hasStopped(): Promise<boolean> {
    return true;
  }
  onExit(): void {}
  close(): void {}
}

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

interface World {
  api: FakeLifeboatApi;
  clock: FakeClock;
  executor: FakeExecutor;
  metrics: RunnerMetrics;
  busyAsked: string[];
  /** What clusterBusy answers. */
  busy: Blocked | undefined;
  restores: (identity?: string) => RunOnceReconciler<Stored<Restore>>;
  bootstraps: (identity?: string) => RunOnceReconciler<Stored<Cluster>>;
  /** Restore r1's status. */
  restore: () => Record<string, unknown>;
  /** Cluster shop's status (bootstrap inside). */
  cluster: () => Record<string, unknown>;
  bootstrap: () => Record<string, unknown>;
  events: () => string[];
}

const RECOVERY = { backup: { name: 'nightly' } };

function world(opts: {
  restoreStatus?: Record<string, unknown>;
  recovery?: object | undefined;
  clusterStatus?: Record<string, unknown>;
}): World {
  const api = new FakeLifeboatApi();
  api.put('Restore', {
    metadata: { name: 'r1' },
    spec: { cluster: { name: 'shop' }, ...RECOVERY },
    ...(opts.restoreStatus ? { status: opts.restoreStatus } : {}),
  });
  api.put('Cluster', {
    metadata: { name: 'shop' },
    spec: {
      engine: 'mariadb',
      topology: 'standalone',
      instances: { static: [{ name: 'shop-0', host: 'db.shop.svc' }] },
      credentials: { secretRef: { name: 'shop-db' } },
      ...('recovery' in opts && opts.recovery === undefined
        ? {}
        : { bootstrap: { recovery: opts.recovery ?? RECOVERY } }),
    },
    ...(opts.clusterStatus ? { status: opts.clusterStatus } : {}),
  });
  const clock = new FakeClock();
  const executor = new FakeExecutor();
  const events = new EventRecorder(api, { log: silentLog, clock });
  const metrics = createRunnerMetrics({ processMetrics: false });
  const w: World = {
    api,
    clock,
    executor,
    metrics,
    busyAsked: [],
    busy: undefined,
    restores: (identity = 'runner-a') => new RunOnceReconciler(restoreKind(kindDeps), deps(identity)),
    bootstraps: (identity = 'runner-a') => new RunOnceReconciler(bootstrapKind(kindDeps), deps(identity)),
    restore: () => api.get('Restore', 'shop', 'r1')?.status ?? {},
    cluster: () => api.get('Cluster', 'shop', 'shop')?.status ?? {},
    bootstrap: () => (w.cluster()['bootstrap'] as Record<string, unknown> | undefined) ?? {},
    events: () => api.events.map((e) => `${e.involvedObject.kind}/${e.type}/${e.reason}`),
  };
  const kindDeps: RestoreKindDeps = {
    metrics,
    clusterBusy: async (ns, cluster) => {
      w.busyAsked.push(`${ns}/${cluster}`);
      return w.busy;
    },
  };
  const deps = (identity: string) => ({ client: api, executor, events, log: silentLog, identity, clock });
  return w;
}

/** Reconciles r1 `times` times: each time it stays pending and is requeued, Ready saying why. */
async function assertWaits(w: World, times: number, reason: string, message: string): Promise<void> {
  for (let i = 0; i < times; i++) {
    const outcome = await w.restores().reconcile('shop', 'r1');
    assert.deepEqual(outcome, { step: 'claim', result: { next: 'requeue', afterMs: 10_000 } });
  }
  assert.equal(w.restore()['phase'], 'pending');
  const ready = condition(w.restore(), 'Ready');
  assert.deepEqual(
    { status: ready?.status, reason: ready?.reason, message: ready?.message },
    { status: 'False', reason, message },
  );
}

function conditions(record: Record<string, unknown>): Condition[] {
  return (record['conditions'] ?? []) as Condition[];
}

function condition(record: Record<string, unknown>, type: string): Condition | undefined {
  return conditions(record).find((c) => c.type === type);
}

function patchedPhases(w: World, key: string): unknown[] {
  return w.api.patches
    .filter((p) => p.key === key)
    .map((p) => {
      const status = p.patch.status as Record<string, unknown>;
      const record = key.startsWith('Cluster/') ? (status['bootstrap'] as Record<string, unknown> | undefined) : status;
      return record?.['phase'];
    });
}

describe('restore reconciler (fake API, fake executor)', () => {
  it('shows a new Restore pending, then claims it (running, startedAt, the worker) and starts one restore worker', async () => {
    const w = world({});
    const outcome = await w.restores().reconcile('shop', 'r1');
    assert.deepEqual(outcome, { step: 'watch', result: { next: 'requeue', afterMs: 30_000 } });
    assert.deepEqual(patchedPhases(w, 'Restore/shop/r1'), ['pending', 'running', undefined]);
    const first = w.api.patches[0]?.patch.status as Record<string, unknown>;
    assert.deepEqual(
      conditions(first).map((c) => `${c.type}=${c.status}/${c.reason}: ${c.message}`),
      ['Ready=False/RestoreRunning: waiting for a worker'],
    );
    const s = w.restore();
    assert.equal(s['phase'], 'running');
    assert.equal(s['startedAt'], '2026-01-01T00:00:00Z');
    assert.equal(s['jobName'], 'host-1/1001');
    assert.deepEqual(
      conditions(s).map((c) => `${c.type}=${c.status}/${c.reason}`),
      ['Ready=False/RestoreRunning', 'WorkerRunning=True/WorkerStarted'],
    );
    assert.equal(condition(s, 'Ready')?.message, 'runner runner-a claimed the work and is starting its worker');
    assert.deepEqual(w.executor.started, [{ kind: 'restore', name: 'r1', clusterName: 'shop' }]);
    assert.deepEqual(w.events(), ['Restore/Normal/RestoreRunning']);
    assert.deepEqual(w.busyAsked, ['shop/shop']);
  });

  it('of two reconcilers racing on one Restore, exactly one claims it and starts a worker', async () => {
    const w = world({});
    await Promise.all([w.restores('runner-a').reconcile('shop', 'r1'), w.restores('runner-b').reconcile('shop', 'r1')]);
    assert.equal(w.executor.started.length, 1);
    assert.deepEqual(w.events(), ['Restore/Normal/RestoreRunning']);
  });

  it('waits while its Cluster is being backed up (pending, Ready says why, requeued), then is claimed', async () => {
    const w = world({});
    w.busy = { message: 'Backup nightly is backing up Cluster shop' };
    await assertWaits(w, 2, 'RestoreRunning', 'waiting: Backup nightly is backing up Cluster shop');
    assert.equal(w.api.patches.length, 1, 'waiting again writes nothing new');
    assert.deepEqual(w.executor.started, []);
    assert.deepEqual(w.events(), []);

    w.busy = undefined;
    const outcome = await w.restores().reconcile('shop', 'r1');
    assert.equal(outcome.step, 'watch');
    assert.equal(w.restore()['phase'], 'running');
    assert.deepEqual(w.executor.started, [{ kind: 'restore', name: 'r1', clusterName: 'shop' }]);
    assert.deepEqual(w.busyAsked, ['shop/shop', 'shop/shop', 'shop/shop']);
  });

  it('waits for a Cluster that does not exist with Ready reason WaitingForCluster and one Warning Event, then runs once it appears', async () => {
    const w = world({});
    const message =
      'Cluster shop does not exist in namespace shop; the Restore waits for it: create it, or fix spec.cluster.name';
    w.busy = { message, reason: 'WaitingForCluster', warning: true };
    await assertWaits(w, 3, 'WaitingForCluster', `waiting: ${message}`);
    assert.deepEqual(w.events(), ['Restore/Warning/WaitingForCluster'], 'one Event, not one per look');
    assert.equal(w.api.events[0]?.message, message);

    // The name fixed into another wrong one: a new Event names it.
    const other = message.replace('Cluster shop ', 'Cluster shoq ');
    w.busy = { message: other, reason: 'WaitingForCluster', warning: true };
    await assertWaits(w, 2, 'WaitingForCluster', `waiting: ${other}`);
    assert.deepEqual(w.events(), ['Restore/Warning/WaitingForCluster', 'Restore/Warning/WaitingForCluster']);
    assert.equal(w.api.events[1]?.message, other);

    w.busy = undefined;
    const outcome = await w.restores().reconcile('shop', 'r1');
    assert.equal(outcome.step, 'watch');
    assert.equal(w.restore()['phase'], 'running');
  });

  it('fails a running Restore whose worker is gone: ApplyFailed, what to do, a Warning Event', async () => {
    const w = world({});
    await w.restores().reconcile('shop', 'r1');
    w.executor.state = { state: 'gone', why: 'the restore worker (process 1001) exited with signal SIGKILL' };
    const outcome = await w.restores().reconcile('shop', 'r1');
    assert.equal(outcome.result.next, 'done');
    const s = w.restore();
    assert.equal(s['phase'], 'failed');
    assert.equal(s['reason'], 'ApplyFailed');
    assert.equal(
      s['error'],
      'the restore worker (process 1001) exited with signal SIGKILL; the target may be partially restored (nothing was recorded as applied); to try again, delete the Restore and apply it anew (with overwrite: true if the target now holds data)',
    );
    assert.equal(s['stoppedAt'], '2026-01-01T00:00:00Z');
    assert.equal(condition(s, 'Ready')?.reason, 'ApplyFailed');
    assert.equal(condition(s, 'WorkerRunning')?.status, 'False');
    assert.deepEqual(w.events(), ['Restore/Normal/RestoreRunning', 'Restore/Warning/RestoreFailed']);
    assert.equal(w.api.events[1]?.message, `restore failed (ApplyFailed): ${String(s['error'])}`);
  });

  it('announces a Restore the worker completed with only the phase: Ready True and an Event, once, never rerun', async () => {
    const w = world({
      restoreStatus: {
        phase: 'completed',
        startedAt: '2025-12-31T23:00:00Z',
        stoppedAt: '2025-12-31T23:10:00Z',
        jobName: 'host-1/4242',
        restoredFrom: 's3://lifeboat/p/shop/shop-1/20261130T181500Z/',
      },
    });
    await w.restores().reconcile('shop', 'r1');
    await w.restores().reconcile('shop', 'r1');
    await w.restores('runner-b').reconcile('shop', 'r1');
    assert.equal(w.api.patches.length, 1, 'nothing written after the first announcement');
    const ready = condition(w.restore(), 'Ready');
    assert.deepEqual(
      { status: ready?.status, reason: ready?.reason, message: ready?.message },
      {
        status: 'True',
        reason: 'RestoreCompleted',
        message: 'the restore is complete from s3://lifeboat/p/shop/shop-1/20261130T181500Z/',
      },
    );
    assert.deepEqual(w.events(), ['Restore/Normal/RestoreCompleted']);
    assert.equal(w.api.events[0]?.message, 'restore completed from s3://lifeboat/p/shop/shop-1/20261130T181500Z/');
    assert.deepEqual(w.executor.started, []);
  });

  it('announces a Restore the worker failed with only phase, reason and error: Ready False with its reason', async () => {
    const w = world({
      restoreStatus: { phase: 'failed', reason: 'ChecksumMismatch', error: 'the archive differs; restore another' },
    });
    await w.restores().reconcile('shop', 'r1');
    const ready = condition(w.restore(), 'Ready');
    assert.deepEqual(
      { status: ready?.status, reason: ready?.reason, message: ready?.message },
      { status: 'False', reason: 'ChecksumMismatch', message: 'the archive differs; restore another' },
    );
    assert.deepEqual(w.events(), ['Restore/Warning/RestoreFailed']);
    assert.equal(w.api.events[0]?.message, 'restore failed (ChecksumMismatch): the archive differs; restore another');
  });

  it('keeps an AlreadyApplied Ready as the worker wrote it: no new Ready, no Event; only the worker marked ended', async () => {
    const alreadyApplied = {
      type: 'Ready',
      status: 'True',
      reason: 'AlreadyApplied',
      message: 'already applied to shop-0 at 2025-12-30T00:00:00Z; nothing was applied again',
      lastTransitionTime: '2025-12-31T23:10:00Z',
    };
    const worker = {
      type: 'WorkerRunning',
      status: 'True',
      reason: 'WorkerStarted',
      message: 'pid 1',
      lastTransitionTime: '2025-12-31T23:00:00Z',
    };
    const w = world({
      restoreStatus: { phase: 'completed', stoppedAt: '2025-12-31T23:10:00Z', conditions: [alreadyApplied, worker] },
    });
    await w.restores().reconcile('shop', 'r1');
    await w.restores().reconcile('shop', 'r1');
    assert.deepEqual(condition(w.restore(), 'Ready'), alreadyApplied);
    assert.equal(condition(w.restore(), 'WorkerRunning')?.status, 'False');
    assert.equal(w.api.patches.length, 1);
    assert.deepEqual(w.events(), []);
  });

  it('stops at once for a Restore that no longer exists', async () => {
    const w = world({});
    assert.deepEqual(await w.restores().reconcile('shop', 'gone'), { step: 'load', result: { next: 'done' } });
  });
});

describe('bootstrap reconciler (fake API, fake executor)', () => {
  it('leaves a Cluster without spec.bootstrap.recovery alone: no status written, no worker', async () => {
    const w = world({ recovery: undefined, clusterStatus: { lastSuccessfulBackup: 'nightly' } });
    const outcome = await w.bootstraps().reconcile('shop', 'shop');
    assert.deepEqual(outcome, { step: 'load', result: { next: 'done' } });
    assert.deepEqual(w.api.patches, []);
    assert.deepEqual(w.cluster(), { lastSuccessfulBackup: 'nightly' });
    assert.deepEqual(w.executor.started, []);
    assert.deepEqual(w.events(), []);
  });

  it('claims status.bootstrap of a Cluster with spec.bootstrap.recovery and starts a bootstrap worker', async () => {
    const w = world({ clusterStatus: { lastSuccessfulBackup: 'nightly' } });
    const outcome = await w.bootstraps().reconcile('shop', 'shop');
    assert.deepEqual(outcome, { step: 'watch', result: { next: 'requeue', afterMs: 30_000 } });
    assert.deepEqual(patchedPhases(w, 'Cluster/shop/shop'), ['pending', 'running', undefined]);
    const b = w.bootstrap();
    assert.equal(b['phase'], 'running');
    assert.equal(b['startedAt'], '2026-01-01T00:00:00Z');
    assert.equal(b['jobName'], 'host-1/1001');
    assert.deepEqual(
      conditions(b).map((c) => `${c.type}=${c.status}/${c.reason}`),
      ['Ready=False/RestoreRunning', 'WorkerRunning=True/WorkerStarted'],
    );
    assert.equal(w.cluster()['lastSuccessfulBackup'], 'nightly', 'the rest of the status is kept');
    assert.equal(w.cluster()['conditions'], undefined, 'the conditions go into status.bootstrap');
    assert.equal(w.cluster()['phase'], undefined);
    assert.deepEqual(w.executor.started, [{ kind: 'bootstrap', name: 'shop', clusterName: 'shop' }]);
    assert.deepEqual(w.events(), ['Cluster/Normal/RestoreRunning']);
  });

  it('never claims a bootstrap again once it ended', async () => {
    const w = world({ clusterStatus: { bootstrap: { phase: 'failed', reason: 'ApplyFailed', error: 'x' } } });
    await w.bootstraps().reconcile('shop', 'shop');
    await w.bootstraps().reconcile('shop', 'shop');
    assert.equal(w.bootstrap()['phase'], 'failed');
    assert.deepEqual(w.executor.started, []);
  });

  it('fails a bootstrap whose worker is gone: ApplyFailed, re-create the Cluster', async () => {
    const w = world({});
    await w.bootstraps().reconcile('shop', 'shop');
    w.executor.state = { state: 'gone', why: 'the bootstrap worker (process 1001) is no longer running' };
    await w.bootstraps().reconcile('shop', 'shop');
    const b = w.bootstrap();
    assert.equal(b['phase'], 'failed');
    assert.equal(b['reason'], 'ApplyFailed');
    assert.equal(
      b['error'],
      'the bootstrap worker (process 1001) is no longer running; the target may be partially restored (nothing was recorded as applied); to try again, re-create the Cluster (its bootstrap runs once), or restore into it with a Restore',
    );
    assert.deepEqual(w.events(), ['Cluster/Normal/RestoreRunning', 'Cluster/Warning/RestoreFailed']);
  });
});

describe('restore metrics (fake API, fake executor)', () => {
  it('counts a completed Restore once, with its duration, and not one that ended before the runner started', async () => {
    const w = world({
      restoreStatus: { phase: 'completed', startedAt: '2026-01-01T00:00:00Z', stoppedAt: '2026-01-01T00:02:00Z' },
    });
    w.api.put('Restore', {
      metadata: { name: 'old' },
      spec: { cluster: { name: 'shop' }, ...RECOVERY },
      status: { phase: 'completed', startedAt: '2025-12-01T00:00:00Z', stoppedAt: '2025-12-01T00:05:00Z' },
    });
    const reconciler = w.restores();
    for (let i = 0; i < 3; i++) {
      await reconciler.reconcile('shop', 'r1');
      await reconciler.reconcile('shop', 'old');
    }
    const text = await w.metrics.registry.metrics();
    assert.match(text, /lifeboat_restores_total\{phase="completed",kind="restore"\} 1\n/);
    assert.match(text, /lifeboat_restore_duration_seconds_count\{kind="restore"\} 1\n/);
    assert.match(text, /lifeboat_restore_duration_seconds_sum\{kind="restore"\} 120\n/);
    assert.doesNotMatch(text, /kind="bootstrap"\} [1-9]/);
  });

  it('counts a bootstrap the runner failed once, under kind bootstrap, with no duration', async () => {
    const w = world({});
    const reconciler = w.bootstraps();
    await reconciler.reconcile('shop', 'shop');
    w.executor.state = { state: 'gone', why: 'the bootstrap worker is gone' };
    for (let i = 0; i < 3; i++) await reconciler.reconcile('shop', 'shop');
    const text = await w.metrics.registry.metrics();
    assert.match(text, /lifeboat_restores_total\{phase="failed",kind="bootstrap"\} 1\n/);
    assert.doesNotMatch(text, /lifeboat_restores_total\{phase="completed",kind="bootstrap"\} [1-9]/);
    assert.doesNotMatch(text, /lifeboat_restore_duration_seconds_count\{kind="bootstrap"\} [1-9]/);
  });
});
