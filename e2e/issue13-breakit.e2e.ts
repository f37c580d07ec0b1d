// ScheduledBackups handled as a GitOps user handles them, on a real API server with a whole runner
// started here (the stack's runner is stopped for the file): the manifest deleted and applied
// again, the expression edited while it runs, suspend lifted without catching up the pause. Only
// the ScheduledBackup reconciler runs, so the Backups it creates stay unrun.
import assert from 'node:assert/strict';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../crds/api-constants.js';
import { type RunningRunner } from '../runner/runner-main.js';
import { kube, namespacePerTest, type KubeObject, type TestNamespace } from './support/kube.js';
import { stackEnv, withScheduleFloorOfOneSecond, withoutStackRunner } from './support/stack.js';
import { eventually } from './support/eventually.js';
import { SCHEDULED_AT, backups, ticks } from './support/schedule-objects.js';
import { startNamespaceRunner } from './support/namespace-runner.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function schedule(name: string, spec: Record<string, unknown>): KubeObject {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'ScheduledBackup',
    metadata: { name },
    spec: { backupTemplate: { cluster: { name: 'db' }, method: 'mariadb-dump' }, concurrencyPolicy: 'Allow', ...spec },
  };
}

function iso(times: readonly number[]): string {
  return times.map((t) => new Date(t).toISOString()).join(', ');
}

describe('ScheduledBackups as GitOps handles them (real API server, a runner from this tree)', function () {
  this.timeout(120_000);
  withoutStackRunner();
  withScheduleFloorOfOneSecond();
  let ns: TestNamespace;
  let runner: RunningRunner | undefined;
  namespacePerTest((created) => (ns = created));
  async function start(identity: string): Promise<RunningRunner> {
    const started = await startNamespaceRunner(ns, { identity, reconcilers: ['ScheduledBackup'], leaseSeconds: 4 });
    runner = started;
    return started;
  }
  beforeEach(async function () {
    await start('runner-a');
  });
  afterEach(async function () {
    await runner?.stop();
    runner = undefined;
    await kube().config.makeApiClient(CoordinationV1Api).deleteCollectionNamespacedLease({ namespace: ns.name });
  });

  it('deleted and applied again: the old Backups stay (or go with the garbage collector), the new schedule starts afresh, no tick fired twice', async function () {
    const manifest = schedule('resync', { schedule: '*/2 * * * * *' });
    const old = await ns.create('scheduledbackups', manifest);
    await eventually('2 Backups', async () => ((await backups(ns)).length >= 2 ? true : undefined));
    await kube().custom.deleteNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns.name,
      plural: 'scheduledbackups',
      name: 'resync',
    });
    const again = await ns.create('scheduledbackups', manifest);
    assert.notEqual(again.metadata.uid, old.metadata.uid);
    await eventually(
      '2 Backups of the new schedule',
      async () => {
        const mine = (await backups(ns)).filter((b) => b.metadata.ownerReferences?.[0]?.uid === again.metadata.uid);
        return mine.length >= 2 ? true : undefined;
      },
      20_000,
    );
    await runner?.stop();
    const all = await ticks(ns);
    assert.equal(new Set(all).size, all.length, `a tick fired twice: ${iso(all)}`);
    for (let i = 1; i < all.length; i++) assert.ok((all[i] ?? 0) - (all[i - 1] ?? 0) >= 2000, iso(all));
    // With the stack's node, Kubernetes' garbage collector deletes the Backups the old schedule
    // owned (README: `--cascade=orphan` keeps them); without one they stay. The runner does neither.
    const gc = stackEnv().LIFEBOAT_NODE === '1';
    if (gc)
      await eventually('the garbage collector to delete the old schedule’s Backups', async () =>
        (await backups(ns)).some((b) => b.metadata.ownerReferences?.[0]?.uid === old.metadata.uid) ? undefined : true,
      );
    const owners = new Set((await backups(ns)).map((b) => b.metadata.ownerReferences?.[0]?.uid));
    const expected = gc ? [again.metadata.uid] : [old.metadata.uid, again.metadata.uid];
    assert.deepEqual([...owners].sort(), expected.sort(), gc ? 'only the new Backups stay' : 'the old Backups stay');
    const status = (await ns.get('scheduledbackups', 'resync')).status ?? {};
    const created = Date.parse(String(again.metadata.creationTimestamp));
    assert.ok(Date.parse(String(status['lastScheduleTime'])) >= created, 'the new status names only its own ticks');
  });

  it('the expression edited while it runs: the old timer stops, nextScheduleTime follows the new one, no tick doubled', async function () {
    await ns.create('scheduledbackups', schedule('edited', { schedule: '*/3 * * * * *' }));
    await eventually('2 Backups', async () => ((await ticks(ns)).length >= 2 ? true : undefined));
    await ns.patch('scheduledbackups', 'edited', { spec: { schedule: '*/5 * * * * *' } });
    const editedAt = Date.now();
    await eventually(
      'nextScheduleTime on the new expression',
      async () => {
        const next = Date.parse(String((await ns.get('scheduledbackups', 'edited')).status?.['nextScheduleTime']));
        return next > editedAt && new Date(next).getUTCSeconds() % 5 === 0 ? true : undefined;
      },
      10_000,
    );
    await sleep(11_000);
    await runner?.stop();
    const all = await ticks(ns);
    assert.equal(new Set(all).size, all.length, `a tick fired twice: ${iso(all)}`);
    // One second of grace: the edit may land just as an old tick fires.
    const after = all.filter((t) => t > editedAt + 1000);
    assert.ok(after.length >= 2, `ticks of the new expression: ${iso(after)}`);
    assert.ok(
      after.every((t) => new Date(t).getUTCSeconds() % 5 === 0),
      `the old */3 timer fired after the edit: ${iso(after)}`,
    );
  });

  it('suspend lifted after several ticks: none of the paused ticks is caught up, even without startingDeadlineSeconds', async function () {
    await ns.create('scheduledbackups', schedule('paused', { schedule: '*/2 * * * * *' }));
    await eventually('a first Backup', async () => ((await ticks(ns)).length >= 1 ? true : undefined));
    await ns.patch('scheduledbackups', 'paused', { spec: { suspend: true } });
    await eventually(
      'Ready False ScheduleSuspended',
      async () => {
        const conditions = (await ns.get('scheduledbackups', 'paused')).status?.['conditions'] as
          { type: string; reason: string }[] | undefined;
        return conditions?.some((c) => c.type === 'Ready' && c.reason === 'ScheduleSuspended') ? true : undefined;
      },
      10_000,
    );
    const before = await ticks(ns);
    await sleep(5_000);
    assert.deepEqual(await ticks(ns), before, 'nothing while suspended');
    await ns.patch('scheduledbackups', 'paused', { spec: { suspend: false } });
    const resumedAt = Date.now();
    await eventually(
      'a Backup after the resume',
      async () => ((await ticks(ns)).length > before.length ? true : undefined),
      10_000,
    );
    await runner?.stop();
    const resumed = (await ticks(ns)).filter((t) => !before.includes(t));
    assert.ok(
      resumed.every((t) => t >= resumedAt - 1000),
      `a tick from the pause was caught up: ${iso(resumed)} (resumed ${new Date(resumedAt).toISOString()})`,
    );
  });

  it('a leader that died after creating a tick’s Backup, before its status write: the next leader leaves that Backup be (Replace)', async function () {
    await runner?.stop();
    const sb = await ns.create(
      'scheduledbackups',
      schedule('killed', { schedule: '*/10 * * * * *', concurrencyPolicy: 'Replace' }),
    );
    // The tick comes with no runner leading; the dead leader had created its Backup, nothing more.
    const tick = Math.ceil((Date.now() + 1000) / 10_000) * 10_000;
    await sleep(tick + 200 - Date.now());
    const name = `killed-${new Date(tick).toISOString().replace(/[-:T]/g, '').slice(0, 14)}`;
    const made = await ns.create('backups', {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'Backup',
      metadata: {
        name,
        labels: { 'lifeboat.dev/scheduled-backup': 'killed' },
        annotations: { [SCHEDULED_AT]: new Date(tick).toISOString() },
        ownerReferences: [
          {
            apiVersion: `${GROUP}/${VERSION}`,
            kind: 'ScheduledBackup',
            name: 'killed',
            uid: sb.metadata.uid ?? '',
            controller: true,
          },
        ],
      },
      spec: { cluster: { name: 'db' }, method: 'mariadb-dump' },
    });
    await start('runner-b');
    await eventually(
      'lastScheduleTime at the tick',
      async () =>
        Date.parse(String((await ns.get('scheduledbackups', 'killed')).status?.['lastScheduleTime'])) === tick
          ? true
          : undefined,
      8_000,
    );
    const now = (await backups(ns)).find((b) => b.metadata.name === name);
    assert.equal(now?.metadata.uid, made.metadata.uid, `${name} was deleted and created again`);
    const events = await kube().core.listNamespacedEvent({
      namespace: ns.name,
      fieldSelector: 'involvedObject.name=killed,involvedObject.kind=ScheduledBackup',
    });
    const reasons = events.items.map((e) => e.reason ?? '');
    assert.ok(!reasons.includes('BackupReplaced') && !reasons.includes('TickSkipped'), reasons.join(', '));
  });
});
