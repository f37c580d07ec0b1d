// The ScheduledBackup reconciler against a fake API server in memory (fake client, fake cache,
// fixed clock): what a reconcile creates, skips, replaces, catches up and writes. The node-cron
// timers it arms are real but never reach a tick here; each test drops the lead to disarm them.
import assert from 'node:assert/strict';
import type { LifeboatKind } from '../../../crds/kinds.js';
import { KubeApiError, KubeConflictError } from '../../../lib/kube-client.js';
import type { Clock } from '../../../runner/reconcile/clock.js';
import { createRunnerMetrics } from '../../../runner/runner-metrics.js';
import { ScheduleReconciler } from '../../../runner/schedules/schedule-reconciler.js';
import { EventRecorder } from '../../../runner/status/event-recorder.js';
import { FakeLifeboatApi, silentLog } from '../reconcile/fakes.js';

const NOW = Date.parse('2026-12-03T10:00:00Z');

class FakeScheduleApi extends FakeLifeboatApi {
  created: string[] = [];
  deleted: { name: string; uid: string }[] = [];
  failCreate: Error | undefined;
  /** While set, creates wait for it. */
  gate: Promise<void> | undefined;

  async createLifeboat(kind: LifeboatKind, _ns: string, body: object): Promise<unknown> {
    await (this.gate ?? Promise.resolve());
    if (this.failCreate) throw this.failCreate;
    const meta = (body as { metadata: { name: string } }).metadata;
    if (this.get(kind, 'shop', meta.name)) throw new KubeConflictError(`${meta.name} exists`, 409);
    this.created.push(meta.name);
    return this.put(kind, body as Record<string, unknown>);
  }

  async deleteLifeboat(kind: LifeboatKind, namespace: string, name: string, uid: string): Promise<void> {
    await Promise.resolve();
    this.deleted.push({ name, uid });
    this.objects.delete(`${kind}/${namespace}/${name}`);
  }
}

const fixed: Clock = { now: () => NOW, after: () => ({ cancel: () => undefined }) };

function setup(spec: Record<string, unknown>, initial: Record<string, unknown> = {}, created = '2026-12-01T00:00:00Z') {
  const api = new FakeScheduleApi();
  api.put('Cluster', { metadata: { name: 'db' }, spec: {} });
  const stored = api.put('ScheduledBackup', {
    metadata: { name: 'nightly', creationTimestamp: created },
    spec: { schedule: '0 3 * * *', backupTemplate: { cluster: { name: 'db' }, method: 'mariadb-dump' }, ...spec },
  });
  if (Object.keys(initial).length > 0) api.setStatus('ScheduledBackup', 'shop', 'nightly', initial);
  const requeued: string[] = [];
  const metrics = createRunnerMetrics({ processMetrics: false });
  const reconciler = new ScheduleReconciler({
    client: api,
    events: new EventRecorder(api, { log: silentLog }),
    log: silentLog,
    metrics,
    cache: {
      get: (kind, ns, name) => api.get(kind, ns, name),
      list: (kind) => [...api.objects.values()].filter((o) => o.kind === kind),
    },
    requeue: (_ns, name) => requeued.push(name),
    clock: fixed,
  });
  const status = (): Record<string, unknown> => api.get('ScheduledBackup', 'shop', 'nightly')?.status ?? {};
  const reasons = (): string[] => api.events.map((e) => e.reason ?? '');
  return { api, reconciler, status, reasons, requeued, metrics, uid: stored.metadata.uid };
}

function child(api: FakeScheduleApi, name: string, uid: string, status: Record<string, unknown>): void {
  api.put('Backup', {
    metadata: {
      name,
      ownerReferences: [{ apiVersion: 'lifeboat.dev/v1alpha1', kind: 'ScheduledBackup', name: 'nightly', uid }],
    },
    spec: { cluster: { name: 'db' } },
  });
  if (Object.keys(status).length > 0) api.setStatus('Backup', 'shop', name, status);
}

async function countOf(metrics: ReturnType<typeof createRunnerMetrics>, result: string): Promise<number | undefined> {
  const got = await metrics.scheduled.get();
  return got.values.find((v) => v.labels['result'] === result)?.value;
}

function ready(status: Record<string, unknown>): { status: string; reason: string } | undefined {
  return (status['conditions'] as { type: string; status: string; reason: string }[] | undefined)?.find(
    (c) => c.type === 'Ready',
  );
}

describe('schedule reconciler (fake API, fixed clock)', () => {
  let current: ScheduleReconciler | undefined;
  afterEach(() => current?.onLeadership(false));

  it('arms a timer, writes nextScheduleTime and Ready, creates nothing when no tick was missed', async () => {
    const t = setup({}, { nextScheduleTime: '2026-12-04T03:00:00Z', lastScheduleTime: '2026-12-03T03:00:00Z' });
    current = t.reconciler;
    await t.reconciler.reconcile('shop', 'nightly');
    assert.deepEqual(t.api.created, []);
    assert.equal(t.reconciler.timers, 1);
    assert.match(String(t.status()['nextScheduleTime']), /T03:00:00/);
    assert.equal(ready(t.status())?.reason, 'ScheduleActive');
  });

  it('immediate: creates the first Backup at once, named for the creation, owned, labelled and stamped', async () => {
    const t = setup({ immediate: true }, {}, '2026-12-03T09:59:58Z');
    current = t.reconciler;
    await t.reconciler.reconcile('shop', 'nightly');
    assert.deepEqual(t.api.created, ['nightly-20261203095958']);
    const backup = t.api.get('Backup', 'shop', 'nightly-20261203095958') as unknown as {
      metadata: {
        labels: Record<string, string>;
        annotations: Record<string, string>;
        ownerReferences: { uid: string; controller: boolean }[];
      };
      spec: Record<string, unknown>;
    };
    assert.equal(backup.metadata.labels['lifeboat.dev/scheduled-backup'], 'nightly');
    assert.equal(backup.metadata.annotations['lifeboat.dev/scheduled-at'], '2026-12-03T09:59:58.000Z');
    assert.deepEqual(
      backup.metadata.ownerReferences.map((o) => [o.uid, o.controller]),
      [[t.uid, true]],
    );
    assert.deepEqual(backup.spec, { cluster: { name: 'db' }, method: 'mariadb-dump' });
    assert.equal(t.status()['lastScheduleTime'], '2026-12-03T09:59:58.000Z');
    assert.ok(t.reasons().includes('BackupScheduled'));
    await t.reconciler.reconcile('shop', 'nightly');
    assert.equal(t.api.created.length, 1, 'immediate fires once');
  });

  it('a tick missed while no runner led is caught up once, without a deadline however old', async () => {
    const t = setup({}, { lastScheduleTime: '2026-12-01T03:00:00Z', nextScheduleTime: '2026-12-02T03:00:00Z' });
    current = t.reconciler;
    await t.reconciler.reconcile('shop', 'nightly');
    assert.deepEqual(t.api.created, ['nightly-20261203030000'], 'only the newest missed tick, not 2 Dec as well');
    await t.reconciler.reconcile('shop', 'nightly');
    assert.equal(t.api.created.length, 1, 'no second catch-up');
    assert.equal(await countOf(t.metrics, 'created'), 1);
  });

  it('puts off an armed schedule’s status write while Backups are being created, and writes it once they are done', async () => {
    const t = setup({}, { lastScheduleTime: '2026-12-02T03:00:00Z', nextScheduleTime: '2026-12-03T03:00:00Z' });
    current = t.reconciler;
    t.api.put('ScheduledBackup', {
      metadata: { name: 'hourly', creationTimestamp: '2026-12-01T00:00:00Z' },
      spec: { schedule: '0 * * * *', backupTemplate: { cluster: { name: 'db' } } },
    });
    t.api.setStatus('ScheduledBackup', 'shop', 'hourly', { lastScheduleTime: '2026-12-03T10:00:00Z' });
    assert.equal(await t.reconciler.reconcile('shop', 'hourly'), undefined, 'arms it');
    const stale = '2026-12-03T09:00:00Z';
    t.api.setStatus('ScheduledBackup', 'shop', 'hourly', { nextScheduleTime: stale });
    let open = (): void => undefined;
    t.api.gate = new Promise<void>((resolve) => (open = resolve));
    const catchingUp = t.reconciler.reconcile('shop', 'nightly'); // its missed 03:00 tick waits at the gate
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(await t.reconciler.reconcile('shop', 'hourly'), { requeueAfterMs: 1_000 });
    const hourly = (): Record<string, unknown> => t.api.get('ScheduledBackup', 'shop', 'hourly')?.status ?? {};
    assert.equal(hourly()['nextScheduleTime'], stale, 'no status written while a create is in flight');
    open();
    assert.equal(await catchingUp, undefined);
    assert.deepEqual(t.api.created, ['nightly-20261203030000']);
    assert.equal(t.status()['lastScheduleTime'], '2026-12-03T03:00:00.000Z', 'the last create done, it writes');
    assert.equal(await t.reconciler.reconcile('shop', 'hourly'), undefined);
    assert.match(String(hourly()['nextScheduleTime']), /T\d\d:00:00\.000Z$/, 'written: the stale one corrected');
  });

  it('an edit of an armed schedule (suspend, new timing) takes effect while Backups are being created', async () => {
    const t = setup({}, { lastScheduleTime: '2026-12-02T03:00:00Z', nextScheduleTime: '2026-12-03T03:00:00Z' });
    current = t.reconciler;
    /** Puts hourly with this spec, keeping the status it had (an edit). */
    const hourly = (spec: Record<string, unknown>): void => {
      const status = t.api.get('ScheduledBackup', 'shop', 'hourly')?.status;
      t.api.put('ScheduledBackup', {
        metadata: { name: 'hourly', creationTimestamp: '2026-12-01T00:00:00Z' },
        spec: { schedule: '0 * * * *', backupTemplate: { cluster: { name: 'db' } }, ...spec },
      });
      if (status) t.api.setStatus('ScheduledBackup', 'shop', 'hourly', status);
    };
    hourly({});
    t.api.setStatus('ScheduledBackup', 'shop', 'hourly', { lastScheduleTime: '2026-12-03T10:00:00Z' });
    assert.equal(await t.reconciler.reconcile('shop', 'hourly'), undefined, 'arms it');
    let open = (): void => undefined;
    t.api.gate = new Promise<void>((resolve) => (open = resolve));
    const catchingUp = t.reconciler.reconcile('shop', 'nightly'); // its missed 03:00 tick waits at the gate
    await new Promise((resolve) => setImmediate(resolve));
    const status = (): Record<string, unknown> => t.api.get('ScheduledBackup', 'shop', 'hourly')?.status ?? {};
    try {
      hourly({ schedule: '30 * * * *' });
      assert.equal(await t.reconciler.reconcile('shop', 'hourly'), undefined, 'the new timing is armed now');
      assert.match(String(status()['nextScheduleTime']), /T\d\d:30:00\.000Z$/);
      hourly({ schedule: '30 * * * *', suspend: true });
      assert.equal(await t.reconciler.reconcile('shop', 'hourly'), undefined, 'the suspension is applied now');
      assert.equal(ready(status())?.reason, 'ScheduleSuspended');
      assert.equal(t.reconciler.timers, 1, 'only nightly stays armed');
    } finally {
      open();
      await catchingUp;
    }
  });

  it('a tick missed by more than startingDeadlineSeconds: no Backup, TickMissed, lastSkippedTime', async () => {
    const t = setup(
      { startingDeadlineSeconds: 3600 },
      { lastScheduleTime: '2026-12-02T03:00:00Z', nextScheduleTime: '2026-12-03T03:00:00Z' },
    );
    current = t.reconciler;
    await t.reconciler.reconcile('shop', 'nightly');
    assert.deepEqual(t.api.created, []);
    assert.equal(t.status()['lastSkippedTime'], '2026-12-03T03:00:00.000Z');
    assert.deepEqual(
      t.reasons().filter((r) => r === 'TickMissed'),
      ['TickMissed'],
    );
    await t.reconciler.reconcile('shop', 'nightly');
    assert.deepEqual(
      t.reasons().filter((r) => r === 'TickMissed'),
      ['TickMissed'],
      'reported once',
    );
  });

  it('Forbid: a tick while a child runs is skipped and recorded; Replace deletes the running child first', async () => {
    const t = setup({}, { lastScheduleTime: '2026-12-02T03:00:00Z', nextScheduleTime: '2026-12-03T03:00:00Z' });
    current = t.reconciler;
    child(t.api, 'nightly-20261202030000', t.uid, { phase: 'running' });
    await t.reconciler.reconcile('shop', 'nightly');
    assert.deepEqual(t.api.created, []);
    assert.equal(t.status()['lastSkippedTime'], '2026-12-03T03:00:00.000Z');
    assert.ok(t.reasons().includes('TickSkipped'));

    const r = setup(
      { concurrencyPolicy: 'Replace' },
      { lastScheduleTime: '2026-12-02T03:00:00Z', nextScheduleTime: '2026-12-03T03:00:00Z' },
    );
    current?.onLeadership(false);
    current = r.reconciler;
    child(r.api, 'nightly-20261202030000', r.uid, { phase: 'running' });
    await r.reconciler.reconcile('shop', 'nightly');
    assert.deepEqual(r.api.deleted, [{ name: 'nightly-20261202030000', uid: 'uid-nightly-20261202030000' }]);
    assert.deepEqual(r.api.created, ['nightly-20261203030000']);
    assert.ok(r.reasons().includes('BackupReplaced'));
  });

  it('a Backup of the tick’s name existing already counts as the tick done: never a stuck schedule', async () => {
    const t = setup({}, { lastScheduleTime: '2026-12-02T03:00:00Z', nextScheduleTime: '2026-12-03T03:00:00Z' });
    current = t.reconciler;
    child(t.api, 'nightly-20261203030000', 'someone-else', { phase: 'completed' });
    await t.reconciler.reconcile('shop', 'nightly');
    assert.equal(t.status()['lastScheduleTime'], '2026-12-03T03:00:00.000Z');
    assert.equal(await countOf(t.metrics, 'existed'), 1);
  });

  it('a Backup that cannot be created: TickFailed Event, Ready False, and the reconcile fails so it is tried again', async () => {
    const t = setup({}, { lastScheduleTime: '2026-12-02T03:00:00Z', nextScheduleTime: '2026-12-03T03:00:00Z' });
    current = t.reconciler;
    t.api.failCreate = new KubeApiError('create backups: the API server could not be reached', 0);
    await assert.rejects(t.reconciler.reconcile('shop', 'nightly'), /could not be reached/);
    assert.ok(t.reasons().includes('TickFailed'));
    assert.equal(ready(t.status())?.reason, 'TickFailed');
    t.api.failCreate = undefined;
    await t.reconciler.reconcile('shop', 'nightly');
    assert.deepEqual(t.api.created, ['nightly-20261203030000'], 'the retry creates it');
    assert.equal(ready(t.status())?.reason, 'ScheduleActive');
  });

  it('suspend: no timer, Ready False ScheduleSuspended; a schedule that does not parse: InvalidSchedule', async () => {
    const t = setup({ suspend: true }, { nextScheduleTime: '2026-12-03T03:00:00Z' });
    current = t.reconciler;
    await t.reconciler.reconcile('shop', 'nightly');
    assert.equal(t.reconciler.timers, 0);
    assert.deepEqual(t.api.created, []);
    assert.equal(ready(t.status())?.reason, 'ScheduleSuspended');
    assert.equal(t.status()['nextScheduleTime'], undefined);
    const bad = setup({ schedule: '0 0 30 2 *' });
    current = bad.reconciler;
    await bad.reconciler.reconcile('shop', 'nightly');
    assert.equal(bad.reconciler.timers, 0);
    assert.equal(ready(bad.status())?.reason, 'InvalidSchedule');
  });

  it('a child that failed: lastFailedBackup and one ScheduledBackupFailed Event; lastSuccessfulBackup from the newest completed', async () => {
    const t = setup({}, { nextScheduleTime: '2026-12-04T03:00:00Z', lastScheduleTime: '2026-12-03T03:00:00Z' });
    current = t.reconciler;
    child(t.api, 'nightly-20261202030000', t.uid, { phase: 'completed', stoppedAt: '2026-12-02T03:01:00Z' });
    child(t.api, 'nightly-20261203030000', t.uid, {
      phase: 'failed',
      stoppedAt: '2026-12-03T03:01:00Z',
      reason: 'UploadFailed',
      error: 'store down',
    });
    await t.reconciler.reconcile('shop', 'nightly');
    await t.reconciler.reconcile('shop', 'nightly');
    assert.equal(t.status()['lastFailedBackup'], 'nightly-20261203030000');
    assert.equal(t.status()['lastSuccessfulBackup'], 'nightly-20261202030000');
    const failed = t.api.events.filter((e) => e.reason === 'ScheduledBackupFailed');
    assert.equal(failed.length, 1);
    assert.match(failed[0]?.message ?? '', /UploadFailed: store down/);
  });

  it('losing the lead disarms every timer; a deleted schedule is disarmed; a child Backup’s event concerns its schedule', async () => {
    const t = setup({}, { nextScheduleTime: '2026-12-04T03:00:00Z' });
    current = t.reconciler;
    await t.reconciler.reconcile('shop', 'nightly');
    assert.equal(t.reconciler.timers, 1);
    t.reconciler.onLeadership(false);
    assert.equal(t.reconciler.timers, 0);
    await t.reconciler.reconcile('shop', 'nightly');
    t.api.objects.delete('ScheduledBackup/shop/nightly');
    await t.reconciler.reconcile('shop', 'nightly');
    assert.equal(t.reconciler.timers, 0);
    const event = {
      type: 'update' as const,
      kind: 'Backup' as const,
      namespace: 'shop',
      name: 'nightly-x',
      object: { metadata: { ownerReferences: [{ kind: 'ScheduledBackup', name: 'nightly', uid: 'u' }] } },
    };
    assert.deepEqual(t.reconciler.related(event), [{ namespace: 'shop', name: 'nightly' }]);
    assert.deepEqual(t.reconciler.related({ ...event, object: { metadata: {} } }), []);
  });

  it('a new leader catching up a tick whose Backup the old leader created (then died before its status write) neither skips nor replaces it', async () => {
    // The old leader armed 3 Dec 03:00 (nextScheduleTime), created its Backup and was killed
    // before writing lastScheduleTime: the tick looks missed, but its Backup runs.
    const initial = { lastScheduleTime: '2026-12-02T03:00:00Z', nextScheduleTime: '2026-12-03T03:00:00Z' };
    for (const policy of ['Forbid', 'Replace', 'Allow']) {
      const t = setup({ concurrencyPolicy: policy }, initial);
      current?.onLeadership(false);
      current = t.reconciler;
      child(t.api, 'nightly-20261203030000', t.uid, { phase: 'running' });
      await t.reconciler.reconcile('shop', 'nightly');
      assert.deepEqual(t.api.deleted, [], `${policy}: the tick's own Backup is not replaced`);
      assert.deepEqual(t.api.created, [], policy);
      assert.equal(t.status()['lastScheduleTime'], '2026-12-03T03:00:00.000Z', `${policy}: the tick counts as done`);
      assert.equal(t.status()['lastSkippedTime'], undefined, `${policy}: not skipped`);
      assert.ok(!t.reasons().includes('TickSkipped'), `${policy}: no TickSkipped`);
      assert.equal(await countOf(t.metrics, 'existed'), 1, policy);
    }
  });

  it('a timeZone edit read from a cache that does not show the last tick’s status yet fires that instant no second time', async () => {
    const T = Date.parse('2026-12-03T10:00:30Z');
    const initial = { lastScheduleTime: '2026-12-03T09:00:00Z', nextScheduleTime: '2026-12-03T10:00:00Z' };
    const t = setup({ schedule: '0 * * * *', concurrencyPolicy: 'Allow' }, initial);
    const stale = structuredClone(t.api.get('ScheduledBackup', 'shop', 'nightly'));
    const view: { edited?: typeof stale } = {};
    const clock: Clock = { now: () => T, after: () => ({ cancel: () => undefined }) };
    const r = new ScheduleReconciler({
      client: t.api,
      events: new EventRecorder(t.api, { log: silentLog }),
      log: silentLog,
      cache: {
        // The edit arrives on an object read before the catch-up's status write.
        get: (kind, ns, name) => (kind === 'ScheduledBackup' && view.edited ? view.edited : t.api.get(kind, ns, name)),
        list: (kind) => [...t.api.objects.values()].filter((o) => o.kind === kind),
      },
      requeue: () => undefined,
      clock,
    });
    current = r;
    await r.reconcile('shop', 'nightly');
    assert.deepEqual(t.api.created, ['nightly-20261203100000'], 'the 10:00 tick is caught up');
    view.edited = structuredClone(stale);
    if (view.edited) view.edited.spec = { ...view.edited.spec, timeZone: 'Europe/Berlin' };
    await r.reconcile('shop', 'nightly');
    assert.deepEqual(t.api.created, ['nightly-20261203100000'], 'not again as nightly-20261203110000 (Berlin)');
  });
});
