// ScheduledBackups on a real API server, run by whole runners started here (the stack's runner is
// stopped for the file, so that no other runner fires these schedules). Most runners run only the
// ScheduledBackup reconciler, so the Backups they create stay unrun; the store-down test runs the
// Backups too, with real mariadb-dump workers against the stack's MariaDB and MinIO.
import assert from 'node:assert/strict';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { type RunningRunner } from '../runner/runner-main.js';
import { GROUP, VERSION } from '../crds/api-constants.js';
import { kube, namespacePerTest, type KubeObject, type TestNamespace } from './support/kube.js';
import { createStackSecrets, minioStore, stackCluster } from './support/stack-objects.js';
import { withScheduleFloorOfOneSecond, withoutStackRunner } from './support/stack.js';
import { eventually } from './support/eventually.js';
import { SCHEDULED_AT, backups, ticks } from './support/schedule-objects.js';
import { startNamespaceRunner } from './support/namespace-runner.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function schedule(name: string, spec: Record<string, unknown>, cluster = 'db'): KubeObject {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'ScheduledBackup',
    metadata: { name },
    spec: { backupTemplate: { cluster: { name: cluster }, method: 'mariadb-dump' }, ...spec },
  };
}

async function eventReasons(ns: TestNamespace, name: string): Promise<string[]> {
  const list = await kube().core.listNamespacedEvent({
    namespace: ns.name,
    fieldSelector: `involvedObject.name=${name},involvedObject.kind=ScheduledBackup`,
  });
  return list.items.map((e) => e.reason ?? '');
}

/** The Backup is named for its tick, created within 1 s of it, owned and labelled by its schedule. */
function assertMadeForItsTick(b: KubeObject, scheduleName: string, everyS: number): void {
  const tick = Date.parse(b.metadata.annotations?.[SCHEDULED_AT] ?? '');
  assert.equal(new Date(tick).getUTCSeconds() % everyS, 0, `${b.metadata.name}: a tick of */${everyS}`);
  const stamp = new Date(tick).toISOString().replace(/[-:T]/g, '').slice(0, 14);
  assert.equal(b.metadata.name, `${scheduleName}-${stamp}`);
  // creationTimestamp has whole seconds: within 1 s of the tick.
  const created = Date.parse(String(b.metadata.creationTimestamp));
  assert.ok(Math.abs(created - tick) <= 1000, `${b.metadata.name}: created ${created - tick} ms after its tick`);
  assert.equal(b.metadata.ownerReferences?.[0]?.kind, 'ScheduledBackup');
  assert.equal(b.metadata.labels?.['lifeboat.dev/scheduled-backup'], scheduleName);
  assert.deepEqual(b.spec?.['cluster'], { name: 'db' });
}

describe('ScheduledBackups fire on the runner (real API server)', function () {
  this.timeout(180_000);
  withoutStackRunner();
  withScheduleFloorOfOneSecond();
  let ns: TestNamespace;
  const runners: RunningRunner[] = [];
  afterEach(async function () {
    for (const r of runners.splice(0)) await r.stop();
    await kube().core.deleteCollectionNamespacedEvent({ namespace: ns.name });
  });
  namespacePerTest((created) => (ns = created));

  async function runner(identity: string, reconcilers = ['ScheduledBackup']): Promise<RunningRunner> {
    const started = await startNamespaceRunner(ns, {
      identity,
      reconcilers,
      leaseSeconds: 4,
      waitToLead: runners.length === 0,
    });
    runners.push(started);
    return started;
  }

  async function stop(r: RunningRunner): Promise<void> {
    runners.splice(runners.indexOf(r), 1);
    await r.stop();
  }

  it('a seconds-level schedule creates a Backup for each tick, named for it, each within 1 s of its tick', async function () {
    const r = await runner('runner-a');
    await ns.create('scheduledbackups', schedule('every3s', { schedule: '*/3 * * * * *', concurrencyPolicy: 'Allow' }));
    const seen = await eventually(
      '4 Backups',
      async () => ((await backups(ns)).length >= 4 ? backups(ns) : undefined),
      30_000,
    );
    await stop(r);
    for (const b of seen) assertMadeForItsTick(b, 'every3s', 3);
    const times = seen.map((b) => Date.parse(b.metadata.annotations?.[SCHEDULED_AT] ?? '')).sort((a, b) => a - b);
    for (let i = 1; i < times.length; i++)
      assert.equal((times[i] ?? 0) - (times[i - 1] ?? 0), 3000, 'no tick skipped or doubled');
    const status = (await ns.get('scheduledbackups', 'every3s')).status ?? {};
    assert.equal(Date.parse(String(status['lastScheduleTime'])), times[times.length - 1]);
    assert.ok(Date.parse(String(status['nextScheduleTime'])) > Date.parse(String(status['lastScheduleTime'])));
    assert.ok((await eventReasons(ns, 'every3s')).includes('BackupScheduled'));
  });

  it('Forbid skips a tick while the previous Backup still runs and records it; Replace deletes that Backup for a new one', async function () {
    await runner('runner-a');
    await ns.create('scheduledbackups', schedule('forbid', { schedule: '*/2 * * * * *' }));
    await eventually('the first Backup', async () => ((await backups(ns)).length === 1 ? true : undefined), 20_000);
    await sleep(5_000);
    const held = await backups(ns);
    assert.equal(held.length, 1, 'the unrun Backup blocks later ticks');
    const status = (await ns.get('scheduledbackups', 'forbid')).status ?? {};
    assert.ok(Date.parse(String(status['lastSkippedTime'])) > Date.parse(String(status['lastScheduleTime'])));
    assert.ok((await eventReasons(ns, 'forbid')).includes('TickSkipped'));
    await ns.patch('scheduledbackups', 'forbid', { spec: { concurrencyPolicy: 'Replace' } });
    const first = held[0]?.metadata.name;
    await eventually(
      'the first Backup replaced',
      async () => {
        const now = await backups(ns);
        return now.length === 1 && now[0]?.metadata.name !== first ? true : undefined;
      },
      20_000,
    );
    assert.ok((await eventReasons(ns, 'forbid')).includes('BackupReplaced'));
  });

  it('the runner stopped across several ticks: exactly one catch-up, for the newest missed tick, inside startingDeadlineSeconds', async function () {
    const a = await runner('runner-a');
    await ns.create(
      'scheduledbackups',
      schedule('catchup', { schedule: '*/4 * * * * *', concurrencyPolicy: 'Allow', startingDeadlineSeconds: 10 }),
    );
    await eventually('a first Backup', async () => ((await backups(ns)).length >= 1 ? true : undefined), 20_000);
    await stop(a);
    const stoppedAt = Date.now();
    const before = await ticks(ns);
    await sleep(8_000); // two ticks pass unfired
    await sleep(Math.floor(Date.now() / 4000) * 4000 + 5_000 - Date.now()); // then 1 s past the next one
    const restartedAt = Date.now();
    await runner('runner-b');
    await sleep(1_500);
    const caughtUp = (await ticks(ns)).filter((t) => !before.includes(t) && t <= restartedAt);
    assert.equal(
      caughtUp.length,
      1,
      `one catch-up, got ticks ${caughtUp.map((t) => new Date(t).toISOString()).join(', ')}`,
    );
    const newestMissed = Math.floor(restartedAt / 4000) * 4000;
    assert.equal(caughtUp[0], newestMissed, 'the newest missed tick is the one caught up');
    assert.ok(newestMissed > stoppedAt, 'it was missed while the runner was stopped');
    await sleep(4_500);
    assert.ok(
      (await ticks(ns)).some((t) => t > restartedAt),
      'the ticks go on after the catch-up',
    );
  });

  it('a tick missed by more than startingDeadlineSeconds is not caught up: recorded as missed, the next tick fires', async function () {
    const a = await runner('runner-a');
    await ns.create(
      'scheduledbackups',
      schedule('late', { schedule: '*/10 * * * * *', concurrencyPolicy: 'Allow', startingDeadlineSeconds: 2 }),
    );
    const first =
      (
        await eventually('a first Backup', async () => ((await ticks(ns)).length >= 1 ? ticks(ns) : undefined), 30_000)
      )[0] ?? 0;
    await stop(a);
    // Start again 5 s after the next tick: it is missed by more than the 2 s deadline.
    const missed = first + 10_000;
    await sleep(missed + 5_000 - Date.now());
    await runner('runner-b');
    await sleep(1_500);
    assert.deepEqual(await ticks(ns), [first], 'no catch-up past the deadline');
    const status = (await ns.get('scheduledbackups', 'late')).status ?? {};
    assert.equal(Date.parse(String(status['lastSkippedTime'])), missed);
    assert.ok((await eventReasons(ns, 'late')).includes('TickMissed'));
    await eventually(
      'the next tick',
      async () => ((await ticks(ns)).includes(missed + 10_000) ? true : undefined),
      15_000,
    );
    assert.deepEqual(await ticks(ns), [first, missed + 10_000]);
  });

  it('the lead changes hands during a schedule: no tick lost, none doubled', async function () {
    const a = await runner('runner-a');
    const b = await runner('runner-b');
    const leader = a.isLeader() ? a : b;
    await ns.create(
      'scheduledbackups',
      schedule('handover', { schedule: '*/3 * * * * *', concurrencyPolicy: 'Allow', startingDeadlineSeconds: 10 }),
    );
    await eventually('2 Backups', async () => ((await ticks(ns)).length >= 2 ? true : undefined), 30_000);
    await stop(leader);
    const handedAt = Date.now();
    const other = leader === a ? b : a;
    await eventually('the other runner to lead', async () => (other.isLeader() ? true : undefined), 20_000);
    await eventually(
      '3 Backups after the handover',
      async () => ((await ticks(ns)).filter((t) => t > handedAt).length >= 3 ? true : undefined),
      30_000,
    );
    await stop(other);
    const all = await ticks(ns);
    for (let i = 1; i < all.length; i++) {
      assert.equal(
        (all[i] ?? 0) - (all[i - 1] ?? 0),
        3000,
        `ticks ${all.map((t) => new Date(t).toISOString()).join(', ')}`,
      );
    }
    await kube().config.makeApiClient(CoordinationV1Api).deleteCollectionNamespacedLease({ namespace: ns.name });
  });

  it('immediate: true creates a Backup at once; suspend: true creates none until it is lifted', async function () {
    await runner('runner-a');
    await ns.create('scheduledbackups', schedule('yearly', { schedule: '0 0 1 1 *', immediate: true }));
    await ns.create('scheduledbackups', schedule('paused', { schedule: '*/2 * * * * *', suspend: true }));
    const made = await eventually(
      'the immediate Backup',
      async () => {
        const list = await backups(ns);
        return list.length > 0 ? list : undefined;
      },
      15_000,
    );
    assert.deepEqual(
      made.map((b) => b.metadata.labels?.['lifeboat.dev/scheduled-backup']),
      ['yearly'],
    );
    await sleep(4_000);
    assert.equal((await backups(ns)).length, 1, 'the suspended schedule created nothing');
    const paused = (await ns.get('scheduledbackups', 'paused')).status ?? {};
    const ready = (paused['conditions'] as { type: string; status: string; reason: string }[]).find(
      (c) => c.type === 'Ready',
    );
    assert.equal(ready?.reason, 'ScheduleSuspended');
    await ns.patch('scheduledbackups', 'paused', { spec: { suspend: false } });
    await eventually(
      'a Backup of the resumed schedule',
      async () =>
        (await backups(ns)).some((b) => b.metadata.labels?.['lifeboat.dev/scheduled-backup'] === 'paused')
          ? true
          : undefined,
      15_000,
    );
    const yearly = (await ns.get('scheduledbackups', 'yearly')).status ?? {};
    assert.match(String(yearly['nextScheduleTime']), /-01-01T00:00:00/);
  });

  it('Backups that fail (object store unreachable) never stop the ticks; they complete again once the store is back', async function () {
    await createStackSecrets(ns);
    const down = { ...minioStore(`e2e/${ns.name}`), endpoint: 'http://127.0.0.1:9' };
    await ns.create('clusters', stackCluster('db', 'standalone', down));
    await runner('runner-a', ['ScheduledBackup', 'Backup']);
    await ns.create('scheduledbackups', schedule('nightly', { schedule: '*/6 * * * * *' }));
    const failed = await eventually(
      '2 failed Backups',
      async () => {
        const list = (await backups(ns)).filter((b) => b.status?.['phase'] === 'failed');
        return list.length >= 2 ? list : undefined;
      },
      90_000,
    );
    assert.ok(
      failed.every(
        (b) =>
          b.status?.['reason'] === 'UploadFailed' ||
          b.status?.['reason'] === 'ObjectStoreMissing' ||
          typeof b.status?.['reason'] === 'string',
      ),
    );
    const status = await eventually('lastFailedBackup', async () => {
      const s = (await ns.get('scheduledbackups', 'nightly')).status ?? {};
      return s['lastFailedBackup'] ? s : undefined;
    });
    assert.ok(failed.some((b) => b.metadata.name === status['lastFailedBackup']));
    assert.ok((await eventReasons(ns, 'nightly')).includes('ScheduledBackupFailed'));
    await ns.patch('clusters', 'db', { spec: { backup: { objectStore: { endpoint: minioStore().endpoint } } } });
    const done = await eventually(
      'a completed Backup',
      async () => {
        const s = (await ns.get('scheduledbackups', 'nightly')).status ?? {};
        return s['lastSuccessfulBackup'] ? s : undefined;
      },
      90_000,
    );
    const completed = (await backups(ns)).find((b) => b.metadata.name === done['lastSuccessfulBackup']);
    assert.equal(completed?.status?.['phase'], 'completed');
    await eventually(
      'the runner idle',
      async () =>
        (await backups(ns)).every((b) => ['completed', 'failed'].includes(String(b.status?.['phase'])))
          ? true
          : undefined,
      60_000,
    ).catch(() => undefined);
  });
});
