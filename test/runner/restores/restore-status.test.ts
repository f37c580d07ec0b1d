// Where a restore is recorded (a Restore's status, a Cluster's status.bootstrap) and the writers a
// restore worker uses, against an API server in memory (fake API): every write lands only while
// the record is `running`, so a runner that already failed the work is never contradicted.
import assert from 'node:assert/strict';
import type { Cluster, LifeboatKind, Restore } from '../../../crds/kinds.js';
import {
  markResolved,
  markRestoreCompleted,
  markProgress,
  markRestoreFailed,
  markVerified,
  RESUME_EVENTS,
  resumedReadEvents,
  RestoreNoLongerRunningError,
  restoreRecord,
  toRestoreFailure,
  writableRestoreRecord,
  type RestoreKind,
  type RestoreStatusContext,
} from '../../../runner/restores/restore-status.js';
import { EventRecorder } from '../../../runner/status/event-recorder.js';
import type { Stored } from '../../../runner/status/status-writer.js';
import { S3ConfigError } from '../../../lib/s3-client.js';
import {
  ApplyFailedError,
  ChecksumMismatchError,
  ConnectionFailedError,
  DownloadFailedError,
} from '../../../runner/work-failures.js';
import { FakeClock, FakeLifeboatApi, silentLog } from '../reconcile/fakes.js';

const RECOVERY = { backup: { name: 'nightly' } };
const NOW = new Date('2026-01-01T00:05:00Z');

function restoreObject(status?: Record<string, unknown>): Stored<Restore> {
  return {
    apiVersion: 'lifeboat.dev/v1alpha1',
    kind: 'Restore',
    metadata: { name: 'r1', namespace: 'shop' },
    spec: { cluster: { name: 'shop' }, ...RECOVERY },
    ...(status ? { status } : {}),
  } as Stored<Restore>;
}

function clusterObject(recovery: object | undefined, status?: Record<string, unknown>): Stored<Cluster> {
  return {
    apiVersion: 'lifeboat.dev/v1alpha1',
    kind: 'Cluster',
    metadata: { name: 'shop', namespace: 'shop' },
    spec: {
      engine: 'mariadb',
      topology: 'standalone',
      instances: { static: [{ name: 'shop-0', host: 'db.shop.svc' }] },
      credentials: { secretRef: { name: 'shop-db' } },
      ...(recovery ? { bootstrap: { recovery } } : {}),
    },
    ...(status ? { status } : {}),
  } as Stored<Cluster>;
}

interface World {
  api: FakeLifeboatApi;
  ctx: RestoreStatusContext;
  /** The record as stored: the Restore's status, or the Cluster's status.bootstrap. */
  record: () => Record<string, unknown>;
  /** The Cluster's whole status (bootstrap only). */
  clusterStatus: () => Record<string, unknown>;
  events: () => { type?: string; reason?: string; kind?: string; message?: string }[];
}

function world(kind: RestoreKind, record: Record<string, unknown> | undefined): World {
  const api = new FakeLifeboatApi();
  const objectKind: LifeboatKind = kind === 'restore' ? 'Restore' : 'Cluster';
  if (kind === 'restore') {
    api.put('Restore', restoreObject(record) as unknown as Record<string, unknown>);
  } else {
    const status = record ? { lastSuccessfulBackup: 'older', bootstrap: record } : undefined;
    api.put('Cluster', clusterObject(RECOVERY, status) as unknown as Record<string, unknown>);
  }
  const clock = new FakeClock();
  const ctx: RestoreStatusContext = {
    kube: api,
    log: silentLog,
    events: new EventRecorder(api, { log: silentLog, clock }),
    kind,
    namespace: 'shop',
    name: kind === 'restore' ? 'r1' : 'shop',
    now: () => NOW,
  };
  const stored = (): Record<string, unknown> => {
    const o = api.get(objectKind, 'shop', ctx.name);
    const status = o?.status ?? {};
    return kind === 'restore' ? status : ((status['bootstrap'] as Record<string, unknown> | undefined) ?? {});
  };
  return {
    api,
    ctx,
    record: stored,
    clusterStatus: () => api.get('Cluster', 'shop', 'shop')?.status ?? {},
    events: () =>
      api.events.map((e) => ({
        type: e.type,
        reason: e.reason,
        kind: e.involvedObject.kind,
        message: e.message,
      })),
  };
}

interface ReadyCondition {
  type: string;
  status: string;
  reason: string;
  message: string;
  lastTransitionTime: string;
}

function ready(record: Record<string, unknown>): ReadyCondition | undefined {
  const conditions = (record['conditions'] ?? []) as ReadyCondition[];
  return conditions.find((c) => c.type === 'Ready');
}

const RESOLVED = {
  backupId: '20261130T181500Z',
  backupName: 'shop-1',
  restoredFrom: 's3://lifeboat/p/shop/shop-1/20261130T181500Z/',
  instanceName: 'shop-0',
};

describe('restore record', () => {
  it("a Restore's record is its status, {} before any was written", () => {
    const restore = restoreObject({ phase: 'running', jobName: 'host-1/7' });
    assert.equal(restoreRecord(restore), restore.status);
    assert.deepEqual(restoreRecord(restoreObject()), {});
  });

  it('a Cluster with spec.bootstrap.recovery: its status.bootstrap, {} before any was written', () => {
    const cluster = clusterObject(RECOVERY, { bootstrap: { phase: 'completed' }, lastSuccessfulBackup: 'b' });
    assert.deepEqual(restoreRecord(cluster), { phase: 'completed' });
    assert.equal(restoreRecord(cluster), cluster.status?.bootstrap);
    assert.deepEqual(restoreRecord(clusterObject(RECOVERY)), {});
    assert.deepEqual(restoreRecord(clusterObject(RECOVERY, { lastSuccessfulBackup: 'b' })), {});
  });

  it('a Cluster without spec.bootstrap.recovery asks for no restore: undefined, whatever its status says', () => {
    assert.equal(restoreRecord(clusterObject(undefined)), undefined);
    assert.equal(restoreRecord(clusterObject(undefined, { bootstrap: { phase: 'completed' } })), undefined);
    const emptyBootstrap = clusterObject(undefined);
    (emptyBootstrap.spec as { bootstrap?: object }).bootstrap = {};
    assert.equal(restoreRecord(emptyBootstrap), undefined);
  });

  it('the writable record of a Restore is its status, created when absent, on the object itself', () => {
    const restore = restoreObject();
    const record = writableRestoreRecord(restore);
    record.phase = 'running';
    assert.deepEqual(restore.status, { phase: 'running' });
    const existing = restoreObject({ phase: 'pending' });
    assert.equal(writableRestoreRecord(existing), existing.status);
  });

  it('the writable record of a Cluster is status.bootstrap, created when absent, other status kept', () => {
    const bare = clusterObject(RECOVERY);
    writableRestoreRecord(bare).phase = 'running';
    assert.deepEqual(bare.status, { bootstrap: { phase: 'running' } });
    const withStatus = clusterObject(RECOVERY, { lastSuccessfulBackup: 'b' });
    writableRestoreRecord(withStatus).phase = 'pending';
    assert.deepEqual(withStatus.status, { lastSuccessfulBackup: 'b', bootstrap: { phase: 'pending' } });
    const claimed = clusterObject(RECOVERY, { bootstrap: { phase: 'running', jobName: 'j' } });
    assert.equal(writableRestoreRecord(claimed), claimed.status?.bootstrap);
  });
});

for (const kind of ['restore', 'bootstrap'] as const) {
  const objectKind = kind === 'restore' ? 'Restore' : 'Cluster';

  describe(`restore status writers: ${kind} (fake API)`, () => {
    it('markResolved records the backup, where from and the instance while running', async () => {
      const w = world(kind, { phase: 'running', jobName: 'host-1/7' });
      await markResolved(w.ctx, RESOLVED);
      assert.deepEqual(w.record(), { phase: 'running', jobName: 'host-1/7', ...RESOLVED });
      if (kind === 'bootstrap') assert.equal(w.clusterStatus()['lastSuccessfulBackup'], 'older');
      assert.deepEqual(w.events(), []);
    });

    for (const [what, record] of [
      ['pending', { phase: 'pending' }],
      ['failed by the runner', { phase: 'failed', reason: 'ApplyFailed', error: 'worker gone' }],
      ['completed', { phase: 'completed' }],
      ['never seen', undefined],
    ] as const) {
      it(`markResolved throws RestoreNoLongerRunningError and writes nothing when the record is ${what}`, async () => {
        const w = world(kind, record);
        const before = structuredClone(w.record());
        await assert.rejects(
          markResolved(w.ctx, RESOLVED),
          (err) =>
            err instanceof RestoreNoLongerRunningError &&
            err.message === `${objectKind} shop/${w.ctx.name} is no longer running; nothing is applied`,
        );
        assert.deepEqual(w.record(), before);
        assert.equal(w.api.patches.length, 0);
      });
    }

    it('markResolved throws RestoreNoLongerRunningError when the object is gone', async () => {
      const w = world(kind, { phase: 'running' });
      w.api.objects.clear();
      await assert.rejects(markResolved(w.ctx, RESOLVED), RestoreNoLongerRunningError);
    });

    it('markResolved does not throw when the restore is running and already records these values', async () => {
      // The contract: it throws only "when the restore is no longer running".
      const w = world(kind, { phase: 'running', jobName: 'host-1/7', ...RESOLVED });
      await markResolved(w.ctx, RESOLVED);
      assert.equal(w.record()['phase'], 'running');
    });

    it('markVerified sets sha256Verified while running, and nothing otherwise (no throw)', async () => {
      const running = world(kind, { phase: 'running' });
      await markVerified(running.ctx);
      assert.equal(running.record()['sha256Verified'], true);

      const failed = world(kind, { phase: 'failed', reason: 'ApplyFailed' });
      await markVerified(failed.ctx);
      assert.equal(failed.record()['sha256Verified'], undefined);
      assert.equal(failed.api.patches.length, 0);
    });

    it('markRestoreCompleted: completed, stoppedAt, Ready True RestoreCompleted, a Normal Event', async () => {
      const w = world(kind, { phase: 'running', startedAt: '2026-01-01T00:00:00Z', ...RESOLVED });
      await markRestoreCompleted(w.ctx, 'restored backup 20261130T181500Z into shop-0');
      const record = w.record();
      assert.equal(record['phase'], 'completed');
      assert.equal(record['stoppedAt'], NOW.toISOString());
      const { type, status, reason, message, lastTransitionTime } = ready(record) ?? {};
      assert.deepEqual(
        { type, status, reason, message, lastTransitionTime },
        {
          type: 'Ready',
          status: 'True',
          reason: 'RestoreCompleted',
          message: 'restored backup 20261130T181500Z into shop-0',
          lastTransitionTime: NOW.toISOString(),
        },
      );
      assert.deepEqual(w.events(), [
        {
          type: 'Normal',
          reason: 'RestoreCompleted',
          kind: objectKind,
          message: 'restored backup 20261130T181500Z into shop-0',
        },
      ]);
    });

    it('markProgress writes how far the read is while running, without an Event; completion removes it, failure keeps it', async () => {
      const progress = {
        step: 'applying' as const,
        bytesRead: 450,
        size: 1000,
        percent: 45,
        updatedAt: NOW.toISOString(),
      };
      const done = world(kind, { phase: 'running' });
      await markProgress(done.ctx, progress);
      assert.deepEqual(done.record()['progress'], progress);
      assert.deepEqual(done.events(), []);
      await markRestoreCompleted(done.ctx, 'restored');
      assert.equal(done.record()['phase'], 'completed');
      assert.equal('progress' in done.record(), false, 'removed from the stored status');

      const failed = world(kind, { phase: 'running', progress });
      await markRestoreFailed(failed.ctx, new ApplyFailedError('the client stopped at line 7'));
      assert.deepEqual(failed.record()['progress'], progress, 'says how far it got');

      const judged = world(kind, { phase: 'failed', reason: 'ApplyFailed' });
      await markProgress(judged.ctx, progress);
      assert.equal(judged.record()['progress'], undefined);
      assert.equal(judged.api.patches.length, 0);
    });

    it('markRestoreCompleted(alreadyApplied): Ready and the Event say AlreadyApplied', async () => {
      const w = world(kind, { phase: 'running' });
      await markRestoreCompleted(w.ctx, 'already applied to shop-0; nothing was applied again', true);
      assert.equal(w.record()['phase'], 'completed');
      assert.equal(ready(w.record())?.reason, 'AlreadyApplied');
      assert.equal(ready(w.record())?.status, 'True');
      assert.deepEqual(
        w.events().map((e) => `${e.type}/${e.reason}`),
        ['Normal/AlreadyApplied'],
      );
    });

    it('a read that broke off and went on: a Warning ReadResumed Event for each of the first few, the status untouched', async () => {
      const w = world(kind, { phase: 'running' });
      const before = JSON.stringify(w.record());
      const onResume = resumedReadEvents(w.ctx);
      for (const at of [100, 200, 300, 400, 500]) {
        onResume({ at, size: 1000, cause: 'read ECONNRESET', message: `broke off at byte ${at} of 1000` });
      }
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(JSON.stringify(w.record()), before);
      assert.deepEqual(
        w.events().map((e) => `${e.type}/${e.reason}/${e.kind}: ${e.message}`),
        [
          `Warning/ReadResumed/${objectKind}: broke off at byte 100 of 1000`,
          `Warning/ReadResumed/${objectKind}: broke off at byte 200 of 1000`,
          `Warning/ReadResumed/${objectKind}: broke off at byte 300 of 1000; any further ones are in the worker log only`,
        ],
      );
      assert.equal(RESUME_EVENTS, 3);
    });

    it('markRestoreFailed: failed with the reason and error, Ready False, a Warning RestoreFailed Event', async () => {
      const w = world(kind, { phase: 'running' });
      const failure = new ChecksumMismatchError('the archive does not match its sha256; restore another backup');
      await markRestoreFailed(w.ctx, failure);
      const record = w.record();
      assert.equal(record['phase'], 'failed');
      assert.equal(record['reason'], 'ChecksumMismatch');
      assert.equal(record['error'], 'the archive does not match its sha256; restore another backup');
      assert.equal(record['stoppedAt'], NOW.toISOString());
      const condition = ready(record);
      assert.equal(condition?.status, 'False');
      assert.equal(condition?.reason, 'ChecksumMismatch');
      assert.deepEqual(w.events(), [
        {
          type: 'Warning',
          reason: 'RestoreFailed',
          kind: objectKind,
          message: 'restore failed (ChecksumMismatch): the archive does not match its sha256; restore another backup',
        },
      ]);
    });

    it('an outcome is neither written nor announced once the runner failed the work', async () => {
      const judged = { phase: 'failed', reason: 'ApplyFailed', error: 'the worker is gone; try again' };
      const w = world(kind, judged);
      await markRestoreCompleted(w.ctx, 'restored');
      await markRestoreFailed(w.ctx, new ChecksumMismatchError('late'));
      assert.deepEqual(w.record(), judged);
      assert.equal(w.api.patches.length, 0);
      assert.deepEqual(w.events(), []);
    });

    it('a write racing the runner (409) is re-read and dropped when the record is no longer running', async () => {
      const w = world(kind, { phase: 'running', jobName: 'host-1/7' });
      w.api.beforePatch = () => {
        w.api.beforePatch = undefined;
        const failed = { phase: 'failed', reason: 'ApplyFailed', jobName: 'host-1/7' };
        if (kind === 'restore') w.api.setStatus('Restore', 'shop', 'r1', failed);
        else w.api.setStatus('Cluster', 'shop', 'shop', { bootstrap: failed });
      };
      await markRestoreCompleted(w.ctx, 'restored');
      assert.equal(w.record()['phase'], 'failed');
      assert.deepEqual(w.events(), []);
    });
  });
}

describe('restore status writers: the object the worker was started for (fake API)', () => {
  it('a Restore deleted and applied anew (another uid) is not written by the old worker', async () => {
    const w = world('restore', { phase: 'running' });
    const stale = { ...w.ctx, uid: 'uid-of-the-deleted-r1' };
    await assert.rejects(markResolved(stale, RESOLVED), RestoreNoLongerRunningError);
    await markRestoreFailed(stale, new ApplyFailedError('the old worker was stopped'));
    assert.equal(w.record()['phase'], 'running');
    assert.equal(w.record()['error'], undefined);
    assert.deepEqual(w.events(), []);
    await markResolved({ ...w.ctx, uid: 'uid-r1' }, RESOLVED);
    assert.equal(w.record()['backupId'], RESOLVED.backupId, 'its own worker writes');
  });
});

describe('toRestoreFailure: what a failed restore records', () => {
  const stopped = (): AbortController => {
    const stop = new AbortController();
    stop.abort(new ApplyFailedError('the restore worker was stopped by SIGTERM before it finished'));
    return stop;
  };

  it('a stop during the apply keeps the note on the target that the apply added to the stop', () => {
    const stop = stopped();
    const noted = new ApplyFailedError(
      'the restore worker was stopped by SIGTERM before it finished; the SQL client was killed; the target db-0 may be partially restored',
      { cause: stop.signal.reason },
    );
    assert.equal(toRestoreFailure(noted, stop.signal), noted);
  });

  it('a stop with any other error (a read cancelled by it) is the stop', () => {
    const stop = stopped();
    const failure = toRestoreFailure(new DownloadFailedError('reading s3://b/k was cancelled'), stop.signal);
    assert.equal(failure, stop.signal.reason);
  });

  it('object-store settings that cannot be read: DownloadFailed, not a backup reason', () => {
    const failure = toRestoreFailure(new S3ConfigError('Secret s3 has no key SECRET'), new AbortController().signal);
    assert.ok(failure instanceof DownloadFailedError, failure.constructor.name);
    assert.equal(failure.message, 'Secret s3 has no key SECRET');
  });

  it("an account that may not read lifeboat's table: ConnectionFailed naming the privilege, not 'the backup worker'", () => {
    const denied = Object.assign(
      new Error("SELECT command denied to user 'low'@'10.0.0.1' for table `applied_restores`"),
      {
        code: 'ER_TABLEACCESS_DENIED_ERROR',
      },
    );
    const failure = toRestoreFailure(denied, new AbortController().signal);
    assert.ok(failure instanceof ConnectionFailedError, failure.constructor.name);
    assert.match(
      failure.message,
      /^the account in the target Cluster's credentials Secret lacks a privilege the restore needs: SELECT command denied/,
    );
  });

  it('anything else: ApplyFailed, the restore worker failed unexpectedly', () => {
    const failure = toRestoreFailure(new Error('boom'), new AbortController().signal);
    assert.ok(failure instanceof ApplyFailedError);
    assert.equal(failure.message, "the restore worker failed unexpectedly: boom; see the worker's log");
  });
});
