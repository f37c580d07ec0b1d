// The Backup reconciler's steps against an API server in memory (fake API) and a fake executor
// that starts nothing: claim once, start once, fail when the worker is gone, never rerun.
import assert from 'node:assert/strict';
import type { BackupRef, Executor, StartedWorker, WorkerState, WorkItem } from '../../../runner/executors/executor.js';
import { BackupReconciler, type BackupReconcilerDeps } from '../../../runner/backups/backup-reconciler.js';
import { EventRecorder } from '../../../runner/status/event-recorder.js';
import { createRunnerMetrics } from '../../../runner/runner-metrics.js';
import { ClusterNotFoundError } from '../../../runner/work-failures.js';
import { FakeClock, FakeLifeboatApi, silentLog } from '../reconcile/fakes.js';

/** Records starts; the test says what isAlive answers. */
export class FakeExecutor implements Executor {
  readonly kind = 'process';
  restartable = false;
  readonly started: string[] = [];
  state: WorkerState = { state: 'alive' };
  startError: Error | undefined;

  plannedJobName(): string {
    return this.restartable ? 'lifeboat-backup-nightly' : 'host-1/pending';
  }

  async start(work: WorkItem): Promise<StartedWorker> {
    await Promise.resolve();
    if (this.startError) throw this.startError;
    this.started.push(work.name);
    if (this.restartable) return { jobName: 'lifeboat-backup-nightly', description: 'Job lifeboat-backup-nightly' };
    return { jobName: `host-1/${1000 + this.started.length}`, description: 'process 1001 on host host-1' };
  }

  async isAlive(_backup: BackupRef, _jobName: string): Promise<WorkerState> {
    return this.state;
  }

  readonly stopped: string[] = [];

  async stop(_backup: BackupRef, jobName: string): Promise<void> {
    await Promise.resolve();
    this.stopped.push(jobName);
  }

  /** Whether hasStopped() answers true: the test lets the worker stop. */
  workerStopped = false;

  async hasStopped(): Promise<boolean> {
    return this.workerStopped;
  }

  onExit(): void {}
  close(): void {}
}

interface World {
  api: FakeLifeboatApi;
  clock: FakeClock;
  executor: FakeExecutor;
  reconciler: (identity?: string) => BackupReconciler;
  status: () => Record<string, unknown>;
  reasons: () => (string | undefined)[];
}

function world(status?: Record<string, unknown>, extra: Partial<BackupReconcilerDeps> = {}): World {
  const api = new FakeLifeboatApi();
  api.put('Backup', { metadata: { name: 'nightly' }, spec: { cluster: { name: 'shop' } }, status });
  const clock = new FakeClock();
  const executor = new FakeExecutor();
  const events = new EventRecorder(api, { log: silentLog, clock });
  const reconciler = (identity = 'runner-a'): BackupReconciler =>
    new BackupReconciler({
      client: api,
      executor,
      events,
      log: silentLog,
      identity,
      clock,
      metrics: createRunnerMetrics({ processMetrics: false }),
      ...extra,
    });
  return {
    api,
    clock,
    executor,
    reconciler,
    status: () => api.get('Backup', 'shop', 'nightly')?.status ?? {},
    reasons: () => api.events.map((e) => e.reason),
  };
}

describe('backup reconciler (fake API, fake executor)', () => {
  it('claims a new Backup, starts one worker, records it, and checks on it later', async () => {
    const w = world();
    const outcome = await w.reconciler().reconcile('shop', 'nightly');
    assert.deepEqual(outcome, { step: 'watch', result: { next: 'requeue', afterMs: 30_000 } });
    assert.deepEqual(w.executor.started, ['nightly']);
    const s = w.status();
    assert.equal(s['phase'], 'running');
    assert.equal(s['startedAt'], '2026-01-01T00:00:00Z');
    assert.equal(s['jobName'], 'host-1/1001');
    const conditions = s['conditions'] as { type: string; status: string; reason: string }[];
    assert.deepEqual(
      conditions.map((c) => `${c.type}=${c.status}/${c.reason}`),
      ['Ready=False/BackupRunning', 'WorkerRunning=True/WorkerStarted'],
    );
    assert.deepEqual(w.reasons(), ['BackupRunning']);
  });

  it('of two reconcilers racing on one Backup, exactly one claims it and starts a worker', async () => {
    const w = world();
    await Promise.all([
      w.reconciler('runner-a').reconcile('shop', 'nightly'),
      w.reconciler('runner-b').reconcile('shop', 'nightly'),
    ]);
    assert.deepEqual(w.executor.started, ['nightly']);
    assert.deepEqual(w.reasons(), ['BackupRunning']);
  });

  it('keeps a new Backup pending and requeued while its Cluster is busy, and claims it once it is free', async () => {
    const asked: string[] = [];
    let busy: string | undefined = 'Restore r1 is restoring into Cluster shop';
    const w = world(undefined, {
      clusterBusy: async (namespace, cluster) => {
        asked.push(`${namespace}/${cluster}`);
        return busy === undefined ? undefined : { message: busy };
      },
    });
    for (let i = 0; i < 2; i++) {
      const outcome = await w.reconciler().reconcile('shop', 'nightly');
      assert.deepEqual(outcome, { step: 'claim', result: { next: 'requeue', afterMs: 10_000 } });
    }
    assert.equal(w.status()['phase'], 'pending');
    assert.equal(w.status()['jobName'], undefined);
    const ready = (w.status()['conditions'] as { type: string; status: string; reason: string; message: string }[])[0];
    assert.deepEqual(
      { type: ready?.type, status: ready?.status, reason: ready?.reason, message: ready?.message },
      {
        type: 'Ready',
        status: 'False',
        reason: 'BackupRunning',
        message: 'waiting: Restore r1 is restoring into Cluster shop',
      },
    );
    assert.equal(w.api.patches.length, 1, 'waiting again writes nothing new');
    assert.deepEqual(w.executor.started, []);
    assert.deepEqual(w.reasons(), []);

    busy = undefined;
    const outcome = await w.reconciler().reconcile('shop', 'nightly');
    assert.equal(outcome.step, 'watch');
    assert.equal(w.status()['phase'], 'running');
    assert.equal(w.status()['jobName'], 'host-1/1001');
    assert.deepEqual(w.executor.started, ['nightly']);
    assert.deepEqual(w.reasons(), ['BackupRunning']);
    assert.deepEqual(asked, ['shop/shop', 'shop/shop', 'shop/shop']);
  });

  it('fails a running Backup whose worker is gone, with DumpFailed and what to do', async () => {
    const w = world();
    await w.reconciler().reconcile('shop', 'nightly');
    w.executor.state = {
      state: 'gone',
      why: 'the backup worker (process 1001) exited with signal SIGKILL before finishing',
    };
    const outcome = await w.reconciler().reconcile('shop', 'nightly');
    assert.equal(outcome.result.next, 'done');
    const s = w.status();
    assert.equal(s['phase'], 'failed');
    assert.equal(s['reason'], 'DumpFailed');
    assert.equal(
      s['error'],
      'the backup worker (process 1001) exited with signal SIGKILL before finishing; apply a new Backup to try again',
    );
    assert.equal(s['stoppedAt'], '2026-01-01T00:00:00Z');
    assert.deepEqual(w.reasons(), ['BackupRunning', 'BackupFailed']);
    assert.equal(w.api.events[1]?.type, 'Warning');
  });

  it('cleans up after a dead worker before failing its Backup, says what it did, and sets the conditions it gives', async () => {
    const released: (string | undefined)[] = [];
    const w = world(
      { phase: 'running', startedAt: '2025-12-31T23:00:00Z', jobName: 'host-1/4242', destinationPath: 's3://b/x/' },
      {
        releaseLeftovers: async (b) => {
          released.push(b.status?.jobName);
          return {
            said: [
              'wsrep_desync was set back OFF on db-2',
              'its unfinished upload of s3://b/x/backup.xbstream was aborted',
            ],
            conditions: [{ type: 'SourceDesynced', status: 'False', reason: 'DesyncRestored', message: 'back OFF' }],
          };
        },
      },
    );
    w.executor.state = { state: 'gone', why: 'the backup worker (process 4242) exited with signal SIGKILL' };
    await w.reconciler().reconcile('shop', 'nightly');
    assert.deepEqual(released, ['host-1/4242']);
    assert.equal(w.status()['phase'], 'failed');
    assert.equal(
      w.status()['error'],
      'the backup worker (process 4242) exited with signal SIGKILL; wsrep_desync was set back OFF on db-2; its unfinished upload of s3://b/x/backup.xbstream was aborted; apply a new Backup to try again',
    );
    const conditions = w.status()['conditions'] as { type: string; status: string; reason: string }[];
    assert.ok(
      conditions.some((c) => c.type === 'SourceDesynced' && c.status === 'False' && c.reason === 'DesyncRestored'),
    );
  });

  it('cleans up nothing for a worker judged from a stale cache (a newer worker writes the same key)', async () => {
    const released: string[] = [];
    // The informer cache still holds an older worker of the same Backup.
    const stale = {
      metadata: { name: 'nightly', namespace: 'shop' },
      spec: { cluster: { name: 'shop' } },
      status: { phase: 'running', jobName: 'host-1/1001' },
    };
    const w = world(
      { phase: 'running', startedAt: '2025-12-31T23:00:00Z', jobName: 'host-1/1002' },
      {
        read: async () => structuredClone(stale),
        releaseLeftovers: async (b) => {
          released.push(b.metadata.name ?? '');
          return { said: [], conditions: [] };
        },
      },
    );
    w.executor.state = { state: 'gone', why: 'the backup worker (process 1001) is no longer running' };
    await w.reconciler().reconcile('shop', 'nightly');
    assert.deepEqual(released, []);
    assert.equal(w.status()['phase'], 'running');
  });

  it('on a runner restart, fails a running Backup whose recorded worker is not alive', async () => {
    const w = world({ phase: 'running', startedAt: '2025-12-31T23:00:00Z', jobName: 'host-1/4242' });
    w.executor.state = {
      state: 'gone',
      why: 'the backup worker (process 4242) is no longer running and did not finish',
    };
    await w.reconciler().reconcile('shop', 'nightly');
    assert.equal(w.status()['phase'], 'failed');
    assert.deepEqual(w.executor.started, [], 'a running Backup is never started again');
  });

  it('does not fail a Backup judged from a stale cache: the stored worker is not the one judged', async () => {
    const w = world({ phase: 'running', startedAt: '2025-12-31T23:00:00Z', jobName: 'host-1/1001' });
    // The informer cache still holds the claim, before the worker's pid was recorded.
    const stale = {
      ...w.api.get('Backup', 'shop', 'nightly'),
      status: { phase: 'running', startedAt: '2025-12-31T23:00:00Z', jobName: 'host-1/pending' },
    };
    w.executor.state = { state: 'missing', why: 'the backup worker was never started' };
    const reconciler = new BackupReconciler({
      client: w.api,
      executor: w.executor,
      events: new EventRecorder(w.api, { log: silentLog, clock: w.clock }),
      log: silentLog,
      identity: 'runner-a',
      clock: w.clock,
      read: async () => structuredClone(stale),
    });
    await reconciler.reconcile('shop', 'nightly');
    assert.equal(w.status()['phase'], 'running');
    assert.equal(w.status()['jobName'], 'host-1/1001');
  });

  it('leaves a failure alone when the worker wrote its outcome meanwhile', async () => {
    const w = world({ phase: 'running', jobName: 'host-1/4242' });
    w.executor.state = { state: 'gone', why: 'the backup worker (process 4242) exited with code 0 before finishing' };
    w.api.beforePatch = () => {
      w.api.beforePatch = undefined;
      w.api.setStatus('Backup', 'shop', 'nightly', { phase: 'completed', size: 10 });
    };
    await w.reconciler().reconcile('shop', 'nightly');
    assert.equal(w.status()['phase'], 'completed');
  });

  it('announces a Backup the worker completed once (Ready, Event), and never runs it again', async () => {
    const w = world({
      phase: 'completed',
      startedAt: '2025-12-31T23:00:00Z',
      stoppedAt: '2025-12-31T23:10:00Z',
      size: 2048,
    });
    await w.reconciler().reconcile('shop', 'nightly');
    const writes = w.api.patches.length;
    await w.reconciler().reconcile('shop', 'nightly');
    await w.reconciler('runner-b').reconcile('shop', 'nightly');
    assert.equal(w.api.patches.length, writes, 'nothing written after the first announcement');
    assert.equal(writes, 1);
    assert.deepEqual(w.reasons(), ['BackupCompleted']);
    assert.deepEqual(w.executor.started, []);
    const ready = (w.status()['conditions'] as { type: string; status: string }[]).find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'True');
  });

  it('adds no Event of its own when the worker already set Ready, but marks the worker ended', async () => {
    const ready = {
      type: 'Ready',
      status: 'True',
      reason: 'BackupCompleted',
      message: 'backed up',
      lastTransitionTime: '2026-01-01T00:00:00Z',
    };
    const worker = { ...ready, type: 'WorkerRunning', reason: 'WorkerStarted', message: 'pid 1' };
    const w = world({ phase: 'completed', stoppedAt: '2026-01-01T00:00:00Z', conditions: [ready, worker] });
    await w.reconciler().reconcile('shop', 'nightly');
    await w.reconciler().reconcile('shop', 'nightly');
    assert.deepEqual(w.reasons(), []);
    assert.equal(w.api.patches.length, 1);
    const conditions = w.status()['conditions'] as { type: string; status: string }[];
    assert.deepEqual(
      conditions.map((c) => `${c.type}=${c.status}`),
      ['Ready=True', 'WorkerRunning=False'],
    );
  });

  it('counts each outcome once in the metrics, and not those that ended before the runner started', async () => {
    const w = world({
      phase: 'completed',
      startedAt: '2026-01-01T00:00:00Z',
      stoppedAt: '2026-01-01T00:02:00Z',
      size: 7,
    });
    w.api.put('Backup', {
      metadata: { name: 'old' },
      spec: { cluster: { name: 'shop' } },
      status: { phase: 'completed', stoppedAt: '2025-12-01T00:00:00Z', size: 3 },
    });
    const metrics = createRunnerMetrics({ processMetrics: false });
    const events = new EventRecorder(w.api, { log: silentLog, clock: w.clock });
    const deps = {
      client: w.api,
      executor: w.executor,
      events,
      log: silentLog,
      identity: 'a',
      clock: w.clock,
      metrics,
    };
    const reconciler = new BackupReconciler(deps);
    for (let i = 0; i < 3; i++) {
      await reconciler.reconcile('shop', 'nightly');
      await reconciler.reconcile('shop', 'old');
    }
    const text = await metrics.registry.metrics();
    assert.match(text, /lifeboat_backups_total\{phase="completed"\} 1\n/);
    assert.match(text, /lifeboat_backup_duration_seconds_count 1\n/);
    assert.match(text, /lifeboat_backup_size_bytes\{namespace="shop",cluster="shop"\} 7/);
  });

  it('retries a start that failed on an API hiccup when starting again is safe (a Job), within the grace', async () => {
    const w = world();
    w.executor.restartable = true;
    w.executor.startError = new Error('create Job: 503 the server is currently unable to handle the request');
    await assert.rejects(w.reconciler().reconcile('shop', 'nightly'), /503/);
    assert.equal(w.status()['phase'], 'running', 'the claim stands; the queue retries');
    w.executor.startError = undefined;
    await w.clock.advance(5_000);
    await w.reconciler().reconcile('shop', 'nightly');
    assert.deepEqual(w.executor.started, ['nightly']);
    const conditions = w.status()['conditions'] as { type: string; status: string }[];
    assert.ok(conditions.some((c) => c.type === 'WorkerRunning' && c.status === 'True'));
    await w.reconciler().reconcile('shop', 'nightly');
    assert.deepEqual(w.executor.started, ['nightly'], 'a recorded start is not repeated');
  });

  it('gives up retrying a start after the grace, and fails the Backup with the error', async () => {
    const w = world();
    w.executor.restartable = true;
    w.executor.startError = new Error('create Job: 503 unavailable');
    await assert.rejects(w.reconciler().reconcile('shop', 'nightly'));
    await w.clock.advance(61_000);
    w.executor.startError = new Error('create Job: 503 unavailable');
    await w.reconciler().reconcile('shop', 'nightly');
    assert.equal(w.status()['phase'], 'failed');
    assert.equal(w.status()['error'], 'create Job: 503 unavailable; apply a new Backup to try again');
  });

  it('stops a lingering worker (a stuck Job) before failing its Backup; a worker merely gone is left alone', async () => {
    const w = world({ phase: 'running', startedAt: '2026-01-01T00:00:00Z', jobName: 'lifeboat-backup-nightly' });
    w.executor.state = { state: 'gone', why: 'the backup Job lifeboat-backup-nightly never ran: …', lingering: true };
    await w.reconciler().reconcile('shop', 'nightly');
    assert.equal(w.status()['phase'], 'failed');
    assert.deepEqual(w.executor.stopped, ['lifeboat-backup-nightly']);

    const gone = world({ phase: 'running', startedAt: '2026-01-01T00:00:00Z', jobName: 'host-1/4242' });
    gone.executor.state = {
      state: 'gone',
      why: 'the backup worker (process 4242) exited with code 1 before finishing',
    };
    await gone.reconciler().reconcile('shop', 'nightly');
    assert.equal(gone.status()['phase'], 'failed');
    assert.deepEqual(gone.executor.stopped, []);
  });

  it('fails an alive worker that is past the deadline with Timeout, then asks it to stop', async () => {
    const w = world({ phase: 'running', startedAt: '2026-01-01T00:00:00Z', jobName: 'host-1/4242' });
    await w.reconciler().reconcile('shop', 'nightly');
    assert.equal(w.status()['phase'], 'running');
    assert.deepEqual(w.executor.stopped, []);
    await w.clock.advance((6 * 60 + 11) * 60_000);
    const outcome = await w.reconciler().reconcile('shop', 'nightly');
    assert.equal(outcome.result.next, 'done');
    assert.equal(w.status()['phase'], 'failed');
    assert.equal(w.status()['reason'], 'Timeout');
    assert.match(String(w.status()['error']), /has not finished within 6\.2 h and is being stopped/);
    assert.deepEqual(w.executor.stopped, ['host-1/4242']);
  });

  it('does not stop an overdue worker that wrote its outcome just before the Timeout (a finished Job keeps its logs)', async () => {
    const w = world({ phase: 'running', startedAt: '2026-01-01T00:00:00Z', jobName: 'lifeboat-backup-nightly' });
    await w.clock.advance((6 * 60 + 11) * 60_000);
    w.api.beforePatch = () => {
      w.api.beforePatch = undefined;
      w.api.setStatus('Backup', 'shop', 'nightly', { phase: 'completed', size: 10 });
    };
    await w.reconciler().reconcile('shop', 'nightly');
    assert.equal(w.status()['phase'], 'completed');
    assert.deepEqual(w.executor.stopped, []);
  });

  it('never reruns a failed Backup', async () => {
    const w = world({ phase: 'failed', reason: 'UploadFailed', error: 'bucket gone' });
    await w.reconciler().reconcile('shop', 'nightly');
    await w.reconciler().reconcile('shop', 'nightly');
    assert.deepEqual(w.executor.started, []);
    assert.equal(w.status()['phase'], 'failed');
    assert.deepEqual(w.reasons(), ['BackupFailed']);
  });

  for (const [what, restartable, error, reason] of [
    [
      'a WorkFailure: its reason',
      true,
      new ClusterNotFoundError('Cluster shop not found; create it'),
      'ClusterNotFound',
    ],
    ['a failed spawn (never a second process for a claim)', false, new Error('spawn lifeboat ENOENT'), 'DumpFailed'],
  ] as const) {
    it(`fails the Backup at once when the worker cannot start for good: ${what}`, async () => {
      const w = world();
      w.executor.restartable = restartable;
      w.executor.startError = error;
      await w.reconciler().reconcile('shop', 'nightly');
      assert.equal(w.status()['phase'], 'failed');
      assert.equal(w.status()['reason'], reason);
      assert.deepEqual(w.executor.started, []);
    });
  }

  it('gives up on a worker it cannot see (another host) only after the deadline', async () => {
    const w = world({ phase: 'running', startedAt: '2026-01-01T00:00:00Z', jobName: 'other-host/7' });
    w.executor.state = { state: 'unknown', why: 'the backup worker (process 7) runs on host other-host' };
    assert.equal((await w.reconciler().reconcile('shop', 'nightly')).result.next, 'requeue');
    await w.clock.advance(7 * 3_600_000);
    await w.reconciler().reconcile('shop', 'nightly');
    assert.equal(w.status()['reason'], 'Timeout');
  });

  it('waits a grace period for a claimed worker that has not appeared (another runner starting it), then fails', async () => {
    const w = world({ phase: 'running', startedAt: '2026-01-01T00:00:00Z', jobName: 'host-1/pending' });
    w.executor.state = { state: 'missing', why: 'the backup worker was never started' };
    assert.deepEqual((await w.reconciler().reconcile('shop', 'nightly')).result, { next: 'requeue', afterMs: 5_000 });
    assert.equal(w.status()['phase'], 'running');
    await w.clock.advance(61_000);
    await w.reconciler().reconcile('shop', 'nightly');
    assert.equal(w.status()['phase'], 'failed');
    assert.equal(w.status()['error'], 'the backup worker was never started; apply a new Backup to try again');
  });

  it('stops at once for a Backup that no longer exists', async () => {
    const w = world();
    assert.deepEqual(await w.reconciler().reconcile('shop', 'deleted'), { step: 'load', result: { next: 'done' } });
  });
});
