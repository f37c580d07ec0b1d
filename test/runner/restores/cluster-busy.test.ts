// Work on one Cluster is claimed one at a time (fake API): two Restores into one Cluster reconciled
// at once end with one claimed and one waiting; what each kind waits for; the claim lock itself.
import assert from 'node:assert/strict';
import type { Executor, StartedWorker, WorkerState, WorkItem } from '../../../runner/executors/executor.js';
import { KeyedLock } from '../../../runner/reconcile/keyed-lock.js';
import { RunOnceReconciler } from '../../../runner/reconcile/run-once-reconciler.js';
import { clusterBusy } from '../../../runner/restores/cluster-busy.js';
import { restoreKind } from '../../../runner/restores/restore-reconciler.js';
import { EventRecorder } from '../../../runner/status/event-recorder.js';
import { FakeClock, FakeLifeboatApi, silentLog } from '../reconcile/fakes.js';

class StartingExecutor implements Executor {
  readonly kind = 'process';
  readonly restartable = false;
  readonly started: string[] = [];
  plannedJobName(): string {
    return 'host-1/pending';
  }
  async start(work: WorkItem): Promise<StartedWorker> {
    await new Promise((resolve) => setTimeout(resolve, 5));
    this.started.push(work.name);
    return { jobName: `host-1/${1000 + this.started.length}`, description: 'a process' };
  }
  async isAlive(): Promise<WorkerState> {
    return { state: 'alive' };
  }
  async stop(): Promise<void> {}
  async hasStopped(): Promise<boolean> {
    return true;
  }
  onExit(): void {}
  close(): void {}
}

function cluster(name = 'shop', status?: object): Record<string, unknown> {
  return {
    metadata: { name },
    spec: {
      engine: 'mariadb',
      topology: 'standalone',
      instances: { static: [{ name: `${name}-0`, host: 'db' }] },
      credentials: { secretRef: { name: 'db' } },
    },
    ...(status ? { status } : {}),
  };
}

const restore = (name: string, clusterName = 'shop'): Record<string, unknown> => ({
  metadata: { name },
  spec: { cluster: { name: clusterName }, backup: { name: 'nightly' } },
});

describe('one claim at a time per Cluster (fake API)', () => {
  it('two Restores into one Cluster reconciled at once: one is claimed, the other waits, saying why', async () => {
    const api = new FakeLifeboatApi();
    api.put('Cluster', cluster());
    api.put('Restore', restore('ra'));
    api.put('Restore', restore('rb'));
    const executor = new StartingExecutor();
    const clock = new FakeClock();
    const deps = {
      client: api,
      executor,
      events: new EventRecorder(api, { log: silentLog, clock }),
      log: silentLog,
      identity: 'runner-a',
      clock,
      claimLock: new KeyedLock(),
    };
    const reconciler = new RunOnceReconciler(restoreKind({ clusterBusy: clusterBusy(api).forRestore }), deps);
    await Promise.all([reconciler.reconcile('shop', 'ra'), reconciler.reconcile('shop', 'rb')]);
    assert.equal(executor.started.length, 1, `started ${executor.started.join(', ')}`);
    const phases = ['ra', 'rb'].map((n) => (api.get('Restore', 'shop', n)?.status as { phase?: string })?.phase).sort();
    assert.deepEqual(phases, ['pending', 'running']);
    const waiting = ['ra', 'rb'].find((n) => n !== executor.started[0]) ?? '';
    const ready = (api.get('Restore', 'shop', waiting)?.status as { conditions?: { message: string }[] }).conditions;
    assert.match(
      ready?.[0]?.message ?? '',
      new RegExp(`waiting: Restore ${executor.started[0]} of Cluster shop is running`),
    );
  });
});

describe('what each kind of work waits for (fake API)', () => {
  it('a Restore waits for its Cluster to exist, its bootstrap, a running Restore or Backup; a Backup for restores only', async () => {
    const api = new FakeLifeboatApi();
    const busy = clusterBusy(api);
    assert.deepEqual(await busy.forRestore('shop', 'shop'), {
      message:
        'Cluster shop does not exist in namespace shop; the Restore waits for it: create it, or fix spec.cluster.name',
      reason: 'WaitingForCluster',
      warning: true,
    });
    assert.equal(await busy.forBackup('shop', 'shop'), undefined);
    api.put('Cluster', cluster('shop', { bootstrap: { phase: 'running' } }));
    assert.match((await busy.forRestore('shop', 'shop'))?.message ?? '', /being bootstrapped/);
    assert.match((await busy.forBackup('shop', 'shop'))?.message ?? '', /being bootstrapped/);
    api.put('Cluster', cluster('shop', { bootstrap: { phase: 'completed' } }));
    assert.equal(await busy.forRestore('shop', 'shop'), undefined);
    api.put('Backup', { metadata: { name: 'b1' }, spec: { cluster: { name: 'shop' } }, status: { phase: 'running' } });
    assert.match((await busy.forRestore('shop', 'shop'))?.message ?? '', /Backup b1 of Cluster shop is running/);
    assert.match((await busy.forBootstrap('shop', 'shop'))?.message ?? '', /Backup b1/);
    assert.equal(await busy.forBackup('shop', 'shop'), undefined, 'Backups do not wait for each other');
    api.put('Restore', { ...restore('r0'), status: { phase: 'running' } });
    assert.match((await busy.forBackup('shop', 'shop'))?.message ?? '', /Restore r0 of Cluster shop is running/);
    assert.match(
      (await busy.forRestore('shop', 'other'))?.message ?? '',
      /^Cluster other does not exist in namespace shop;/,
    );
  });
});

describe('KeyedLock', () => {
  it('runs work of one key one at a time, and of different keys side by side', async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    const step = (name: string, ms: number) => async (): Promise<void> => {
      log.push(`${name}+`);
      await new Promise((resolve) => setTimeout(resolve, ms));
      log.push(`${name}-`);
    };
    await Promise.all([lock.run('a', step('a1', 20)), lock.run('a', step('a2', 1)), lock.run('b', step('b1', 5))]);
    assert.deepEqual(log, ['a1+', 'b1+', 'b1-', 'a1-', 'a2+', 'a2-']);
  });

  it('a failing run releases the key', async () => {
    const lock = new KeyedLock();
    await assert.rejects(
      lock.run('a', () => Promise.reject(new Error('boom'))),
      /boom/,
    );
    assert.equal(await lock.run('a', () => Promise.resolve(7)), 7);
  });
});
