// Work belongs to the object it was claimed on (fake API, fake executor): the runner's finalizer
// goes on before a worker starts; deleting running work stops its worker and releases the object
// only once the worker has stopped and its leftovers are cleaned up; finished work is released at
// once; the runner never judges a re-created object by what it saw of the old one; and at most
// --max-workers workers run at once.
import assert from 'node:assert/strict';
import { BackupReconciler, type BackupReconcilerDeps } from '../../../runner/backups/backup-reconciler.js';
import { WorkerSlots } from '../../../runner/reconcile/worker-slots.js';
import { EventRecorder } from '../../../runner/status/event-recorder.js';
import { FakeExecutor } from '../backups/backup-reconciler.test.js';
import { FakeClock, FakeLifeboatApi, silentLog } from './fakes.js';

const HELD = ['lifeboat.dev/worker'];

function world(extra: Partial<BackupReconcilerDeps> = {}) {
  const api = new FakeLifeboatApi();
  api.put('Backup', { metadata: { name: 'nightly' }, spec: { cluster: { name: 'shop' } } });
  const clock = new FakeClock();
  const executor = new FakeExecutor();
  const events = new EventRecorder(api, { log: silentLog, clock });
  const deps: BackupReconcilerDeps = {
    client: api,
    executor,
    events,
    log: silentLog,
    identity: 'runner-a',
    clock,
    finalizers: api,
    ...extra,
  };
  return {
    api,
    clock,
    executor,
    reconciler: (more: Partial<BackupReconcilerDeps> = {}) => new BackupReconciler({ ...deps, ...more }),
    stored: (name = 'nightly') => api.get('Backup', 'shop', name),
  };
}

describe('work ownership (fake API, fake executor)', () => {
  it('puts the finalizer on before claiming, and a worker starts only on a held object', async () => {
    const w = world();
    let heldAtStart: string[] | undefined;
    const start = w.executor.start.bind(w.executor);
    w.executor.start = async (work) => {
      heldAtStart = w.stored()?.metadata.finalizers;
      return start(work);
    };
    await w.reconciler().reconcile('shop', 'nightly');
    assert.deepEqual(heldAtStart, HELD);
    assert.equal(w.stored()?.status?.['phase'], 'running');
  });

  it('a deleted running Backup: its worker is stopped once, the Backup stays until it has stopped, then goes', async () => {
    const cleaned: string[] = [];
    const w = world({
      releaseLeftovers: async (b) => {
        cleaned.push(b.metadata.uid ?? '');
        return { said: ['its unfinished upload was aborted'], conditions: [] };
      },
    });
    await w.reconciler().reconcile('shop', 'nightly');
    w.api.delete('Backup', 'shop', 'nightly');
    assert.ok(w.stored()?.metadata.deletionTimestamp, 'held by the finalizer');
    const reconciler = w.reconciler();
    for (let i = 0; i < 2; i++) {
      const outcome = await reconciler.reconcile('shop', 'nightly');
      assert.deepEqual(outcome, { step: 'release', result: { next: 'requeue', afterMs: 2_000 } });
    }
    assert.deepEqual(w.executor.stopped, ['host-1/1001'], 'asked once: a second SIGTERM would cut its clean-up short');
    assert.ok(w.stored(), 'still there while the worker runs');
    assert.deepEqual(cleaned, []);
    w.executor.workerStopped = true;
    const outcome = await reconciler.reconcile('shop', 'nightly');
    assert.deepEqual(outcome, { step: 'release', result: { next: 'done' } });
    assert.deepEqual(cleaned, ['uid-nightly'], 'leftovers cleaned up before the release');
    assert.equal(w.stored(), undefined, 'gone once the finalizer was removed');
  });

  it('a Backup deleted before it was claimed gets no finalizer and no worker', async () => {
    const w = world();
    w.api.get('Backup', 'shop', 'nightly')!.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
    await w.reconciler().reconcile('shop', 'nightly');
    assert.deepEqual(w.executor.started, []);
    assert.deepEqual(w.api.finalizerPatches, []);
  });

  it('finished work is released at once, so deleting it is immediate', async () => {
    const w = world();
    await w.reconciler().reconcile('shop', 'nightly');
    w.api.setStatus('Backup', 'shop', 'nightly', { phase: 'completed' });
    await w.reconciler().reconcile('shop', 'nightly');
    assert.deepEqual(w.stored()?.metadata.finalizers, []);
    w.api.delete('Backup', 'shop', 'nightly');
    assert.equal(w.stored(), undefined);
  });

  it('a finalizer left by a runner that died is removed by the next one', async () => {
    const w = world();
    await w.reconciler({ identity: 'runner-a' }).reconcile('shop', 'nightly');
    w.api.delete('Backup', 'shop', 'nightly');
    w.executor.workerStopped = true;
    await w.reconciler({ identity: 'runner-b' }).reconcile('shop', 'nightly');
    assert.equal(w.stored(), undefined);
  });

  it('never fails a re-created Backup for the old one’s worker (a stale read of the old uid)', async () => {
    const w = world();
    await w.reconciler().reconcile('shop', 'nightly');
    const old = structuredClone(w.stored());
    // Deleted and applied anew under the same name; the new one is claimed and running.
    w.api.objects.delete('Backup/shop/nightly');
    w.api.put('Backup', {
      metadata: { name: 'nightly', uid: 'uid-new' },
      spec: { cluster: { name: 'shop' } },
      status: { phase: 'running', jobName: 'host-1/1001', startedAt: '2026-01-01T00:00:00Z' },
    });
    w.executor.state = { state: 'gone', why: 'the backup worker (process 1001) exited with code 1 before finishing' };
    // The decision is made on what a cache still holds: the old object.
    await w.reconciler({ read: async () => old }).reconcile('shop', 'nightly');
    assert.equal(w.stored()?.status?.['phase'], 'running', 'the new Backup is left alone');
    assert.equal(w.stored()?.metadata.uid, 'uid-new');
  });

  it('with --max-workers 1, a second Backup waits pending (one Event) and is claimed once the first ends', async () => {
    const running = new Set<string>();
    const w = world();
    const slots = new WorkerSlots(1, () => running, w.clock);
    w.api.put('Backup', { metadata: { name: 'second' }, spec: { cluster: { name: 'other' } } });
    const reconciler = w.reconciler({ slots });
    await reconciler.reconcile('shop', 'nightly');
    running.add('uid-nightly');
    for (let i = 0; i < 2; i++) {
      const outcome = await reconciler.reconcile('shop', 'second');
      assert.deepEqual(outcome, { step: 'claim', result: { next: 'requeue', afterMs: 5_000 } });
    }
    const second = w.stored('second')?.status ?? {};
    assert.equal(second['phase'], 'pending');
    const ready = (second['conditions'] as { reason: string; message: string }[])[0];
    assert.equal(ready?.reason, 'WaitingForWorkerSlot');
    assert.match(ready?.message ?? '', /at most 1 workers? at once \(--max-workers\)/);
    const waits = w.api.events.filter((e) => e.reason === 'WaitingForWorkerSlot');
    assert.equal(waits.length, 1, 'one Event, not one per look');
    assert.deepEqual(w.executor.started, ['nightly']);

    w.api.setStatus('Backup', 'shop', 'nightly', { phase: 'completed' });
    running.delete('uid-nightly');
    await reconciler.reconcile('shop', 'nightly');
    await reconciler.reconcile('shop', 'second');
    assert.deepEqual(w.executor.started, ['nightly', 'second']);
    assert.equal(w.stored('second')?.status?.['phase'], 'running');
  });

  it('with --max-workers 1, of two Backups claimed at the same moment exactly one starts', async () => {
    const w = world();
    w.api.put('Backup', { metadata: { name: 'second' }, spec: { cluster: { name: 'other' } } });
    // The caches lag behind: only the slots' own record of its claims counts the first.
    const slots = new WorkerSlots(1, () => [], w.clock);
    await Promise.all([
      w.reconciler({ slots }).reconcile('shop', 'nightly'),
      w.reconciler({ slots }).reconcile('shop', 'second'),
    ]);
    assert.equal(w.executor.started.length, 1);
  });
});
