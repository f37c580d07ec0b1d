// The Argo CD health checks of deploy/argocd, run with a real Lua against statuses shaped as the
// runner writes them: each sample passes the CRD schema (the webhook's validator), and the
// conditions are built with the runner's own condition helpers and reasons.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { API_VERSION } from '../../crds/api-constants.js';
import type { Backup, Restore, ScheduledBackup } from '../../crds/kinds.js';
import { PACKAGE_ROOT } from '../../policies/cli/package-paths.js';
import { decode } from '../../policies/schema-check.js';
import { outcomeCondition } from '../../runner/backups/backup-outcome.js';
import { REASONS, setCondition, type ConditionInput, type HasConditions } from '../../runner/status/conditions.js';
import { runHealth, type Health } from './lua-harness.js';

const script = (kind: string): string =>
  join(PACKAGE_ROOT, 'deploy', 'argocd', 'health-checks', 'lifeboat.dev', kind, 'health.lua');
const T0 = new Date('2026-03-01T03:00:00Z');

function withConditions<S extends HasConditions>(status: S, conditions: readonly ConditionInput[]): S {
  for (const c of conditions) setCondition(status, c, T0);
  return status;
}

type BackupStatus = NonNullable<Backup['status']>;
type RestoreStatus = NonNullable<Restore['status']>;
type ScheduleStatus = NonNullable<ScheduledBackup['status']>;
const backupStatus = (s: BackupStatus, ...c: ConditionInput[]): BackupStatus => withConditions(s, c);
const restoreStatus = (s: RestoreStatus, ...c: ConditionInput[]): RestoreStatus => withConditions(s, c);
const scheduleStatus = (s: ScheduleStatus, ...c: ConditionInput[]): ScheduleStatus => withConditions(s, c);

/** Every sample must be an object the API server would store: the CRD schema checks it. */
function valid<T>(object: T): T {
  const decoded = decode(object);
  assert.equal(decoded.type, 'lifeboat', `sample is not a valid Lifeboat object: ${JSON.stringify(decoded)}`);
  return object;
}

function health(kind: 'Backup' | 'Restore' | 'ScheduledBackup', object: unknown): Health {
  return runHealth(script(kind), valid(object));
}

function backup(status?: Backup['status']): Backup {
  return {
    apiVersion: API_VERSION,
    kind: 'Backup',
    metadata: { name: 'shop-first', namespace: 'prod' },
    spec: { cluster: { name: 'shop' } },
    ...(status ? { status } : {}),
  };
}

const slotWait = {
  type: 'Ready',
  status: 'False',
  reason: REASONS.WaitingForWorkerSlot,
  message:
    'waiting for a free worker slot: this runner runs at most 4 workers at once (--max-workers); the work starts when one ends',
} as const;

const running = {
  phase: 'running',
  startedAt: '2026-03-01T03:00:00Z',
  jobName: 'lifeboat-backup-shop-first-1a2b3c',
} as const;

describe('Argo CD health: Backup', () => {
  it('no status yet: Progressing, waiting for the runner', () => {
    const h = health('Backup', backup());
    assert.equal(h.status, 'Progressing');
    assert.match(h.message ?? '', /waiting for the Lifeboat runner/i);
  });

  it('pending for a worker slot: Progressing with the runner’s reason', () => {
    const h = health('Backup', backup(backupStatus({ phase: 'pending' }, slotWait)));
    assert.deepEqual(h, { status: 'Progressing', message: `pending: ${slotWait.message}` });
  });

  it('running: Progressing, since when and from which instance', () => {
    const status = backupStatus(
      { ...running, instanceName: 'shop-1' },
      { type: 'Ready', status: 'False', reason: REASONS.BackupRunning, message: 'runner r-1 claimed the work' },
      { type: 'WorkerRunning', status: 'True', reason: REASONS.WorkerStarted, message: 'Job started' },
    );
    const h = health('Backup', backup(status));
    assert.equal(h.status, 'Progressing');
    assert.equal(h.message, 'running since 2026-03-01T03:00:00Z from shop-1: runner r-1 claimed the work');
  });

  it('completed: Healthy, with the Ready message', () => {
    const done = backup({
      ...running,
      phase: 'completed',
      stoppedAt: '2026-03-01T03:04:00Z',
      destinationPath: 's3://lifeboat/prod/shop/20260301T030000Z',
      size: 1048576,
    });
    done.status = backupStatus(done.status ?? {}, outcomeCondition(done));
    const h = health('Backup', done);
    assert.deepEqual(h, {
      status: 'Healthy',
      message: 'the backup is complete at s3://lifeboat/prod/shop/20260301T030000Z',
    });
  });

  it('completed, then expired by retention: Healthy, saying it restores nothing', () => {
    const done = backup({ ...running, phase: 'completed', stoppedAt: '2026-03-01T03:04:00Z' });
    done.status = backupStatus(done.status ?? {}, outcomeCondition(done), {
      type: 'Expired',
      status: 'True',
      reason: REASONS.RetentionExpired,
      message: 'retention (keep 7) deleted its archive and metadata.json',
    });
    const h = health('Backup', done);
    assert.equal(h.status, 'Healthy');
    assert.match(h.message ?? '', /^Expired \(not restorable\): retention \(keep 7\) deleted/);
  });

  it('failed: Degraded with status.reason and status.error', () => {
    const failed = backup({
      ...running,
      phase: 'failed',
      stoppedAt: '2026-03-01T03:01:00Z',
      reason: 'UploadFailed',
      error: 'PUT s3://lifeboat/prod/shop/…/archive.xb.gz: AccessDenied; grant s3:PutObject on the bucket',
    });
    failed.status = backupStatus(failed.status ?? {}, outcomeCondition(failed));
    const h = health('Backup', failed);
    assert.deepEqual(h, {
      status: 'Degraded',
      message:
        'UploadFailed: PUT s3://lifeboat/prod/shop/…/archive.xb.gz: AccessDenied; grant s3:PutObject on the bucket',
    });
  });

  it('failed with only the Ready condition to tell why: Degraded with its reason and message', () => {
    const status = backupStatus(
      { ...running, phase: 'failed' as const },
      { type: 'Ready', status: 'False', reason: 'Timeout', message: 'the worker outlived its deadline' },
    );
    assert.deepEqual(health('Backup', backup(status)), {
      status: 'Degraded',
      message: 'Timeout: the worker outlived its deadline',
    });
  });
});

function restore(status?: Restore['status']): Restore {
  return {
    apiVersion: API_VERSION,
    kind: 'Restore',
    metadata: { name: 'orders-from-shop', namespace: 'prod' },
    spec: { cluster: { name: 'orders' }, source: 'shop' },
    ...(status ? { status } : {}),
  };
}

describe('Argo CD health: Restore', () => {
  it('no status yet: Progressing', () => {
    assert.equal(health('Restore', restore()).status, 'Progressing');
  });

  it('pending while Backups of its Cluster run: Progressing, saying so', () => {
    const status = restoreStatus(
      { phase: 'pending' as const },
      { type: 'Ready', status: 'False', reason: REASONS.RestoreRunning, message: 'waiting: Backup b1 of orders runs' },
    );
    assert.deepEqual(health('Restore', restore(status)), {
      status: 'Progressing',
      message: 'pending: waiting: Backup b1 of orders runs',
    });
  });

  it('running: Progressing, into which instance', () => {
    const status = restoreStatus(
      { phase: 'running' as const, startedAt: '2026-03-01T04:00:00Z', instanceName: 'orders-0' },
      { type: 'Ready', status: 'False', reason: REASONS.RestoreRunning, message: 'applying the backup' },
    );
    assert.deepEqual(health('Restore', restore(status)), {
      status: 'Progressing',
      message: 'running since 2026-03-01T04:00:00Z into orders-0: applying the backup',
    });
  });

  for (const reason of [REASONS.RestoreCompleted, REASONS.AlreadyApplied]) {
    it(`completed (${reason}): Healthy, with the Ready message`, () => {
      const message = `restored backup 20260301T030000Z into orders-0 (${reason})`;
      const status = restoreStatus(
        { phase: 'completed' as const, backupId: '20260301T030000Z', sha256Verified: true },
        { type: 'Ready', status: 'True', reason, message },
      );
      assert.deepEqual(health('Restore', restore(status)), { status: 'Healthy', message });
    });
  }

  it('failed (ApplyFailed): Degraded with status.reason and status.error', () => {
    const error =
      'mariadb exited 1 part-way; the target may be partially restored; set overwrite: true and apply again';
    const status = restoreStatus(
      { phase: 'failed' as const, reason: 'ApplyFailed' as const, error, stoppedAt: '2026-03-01T04:10:00Z' },
      { type: 'Ready', status: 'False', reason: 'ApplyFailed', message: error },
    );
    assert.deepEqual(health('Restore', restore(status)), { status: 'Degraded', message: `ApplyFailed: ${error}` });
  });
});

function schedule(
  status?: ScheduledBackup['status'],
  spec: Partial<ScheduledBackup['spec']> = {},
  generation = 1,
): ScheduledBackup {
  return {
    apiVersion: API_VERSION,
    kind: 'ScheduledBackup',
    metadata: { name: 'shop-nightly', namespace: 'prod', generation } as ScheduledBackup['metadata'],
    spec: { schedule: '0 3 * * *', backupTemplate: { cluster: { name: 'shop' } }, ...spec },
    ...(status ? { status } : {}),
  };
}

const active = {
  type: 'Ready',
  status: 'True',
  reason: REASONS.ScheduleActive,
  message: 'the next Backup is due at 2026-03-02T03:00:00.000Z',
} as const;

function observed(status: NonNullable<ScheduledBackup['status']>, generation: number): typeof status {
  return { ...status, conditions: status.conditions?.map((c) => ({ ...c, observedGeneration: generation })) };
}

describe('Argo CD health: ScheduledBackup', () => {
  it('no status yet: Progressing, waiting for the runner to arm it', () => {
    const h = health('ScheduledBackup', schedule());
    assert.equal(h.status, 'Progressing');
    assert.match(h.message ?? '', /arm the schedule/);
  });

  it('active, newest Backup completed: Healthy, with when the next is due', () => {
    const status = observed(
      scheduleStatus(
        { lastSuccessfulBackup: 'shop-nightly-20260301030000', lastFailedBackup: 'shop-nightly-20260228030000' },
        active,
      ),
      1,
    );
    assert.deepEqual(health('ScheduledBackup', schedule(status)), {
      status: 'Healthy',
      message: `${active.message}; the newest completed Backup is shop-nightly-20260301030000`,
    });
  });

  it('active, newest Backup failed: Degraded, naming it and the newest completed one', () => {
    const status = observed(
      scheduleStatus(
        { lastSuccessfulBackup: 'shop-nightly-20260228030000', lastFailedBackup: 'shop-nightly-20260301030000' },
        active,
      ),
      1,
    );
    const h = health('ScheduledBackup', schedule(status));
    assert.equal(h.status, 'Degraded');
    assert.match(
      h.message ?? '',
      /shop-nightly-20260301030000, failed .*newest completed one is shop-nightly-20260228030000/,
    );
  });

  it('active, only failed Backups so far: Degraded', () => {
    const status = observed(scheduleStatus({ lastFailedBackup: 'shop-nightly-20260301030000' }, active), 1);
    const h = health('ScheduledBackup', schedule(status));
    assert.equal(h.status, 'Degraded');
    assert.match(h.message ?? '', /no Backup of it has completed yet/);
  });

  it('suspend true: Suspended, also before the runner has written it', () => {
    const stale = observed(scheduleStatus({}, active), 1);
    assert.deepEqual(health('ScheduledBackup', schedule(stale, { suspend: true }, 2)), {
      status: 'Suspended',
      message: 'suspend is true: no Backups are created',
    });
  });

  it('suspend just cleared, status of the older generation: Progressing until the runner acts', () => {
    const suspended = scheduleStatus(
      {},
      {
        type: 'Ready',
        status: 'False',
        reason: REASONS.ScheduleSuspended,
        message: 'suspend is true: no Backups are created',
      },
    );
    const h = health('ScheduledBackup', schedule(observed(suspended, 2), { suspend: false }, 3));
    assert.equal(h.status, 'Progressing');
    assert.match(h.message ?? '', /generation 3 \(status is of generation 2\)/);
  });

  for (const reason of [REASONS.InvalidSchedule, REASONS.NeverFires, REASONS.TickFailed]) {
    it(`Ready False ${reason}: Degraded with the reason and message`, () => {
      const message = `the runner says ${reason}`;
      const status = observed(scheduleStatus({}, { type: 'Ready', status: 'False', reason, message }), 1);
      assert.deepEqual(health('ScheduledBackup', schedule(status)), {
        status: 'Degraded',
        message: `${reason}: ${message}`,
      });
    });
  }
});

describe('Argo CD health checks: the argocd-cm component', () => {
  it('installs one health.lua per kind under the key Argo CD reads, resource.customizations.health.<group>_<kind>', () => {
    const dir = join(PACKAGE_ROOT, 'deploy', 'argocd', 'health-checks');
    const component = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as {
      kind: string;
      configMapGenerator: { name: string; behavior: string; files: string[] }[];
    };
    assert.equal(component.kind, 'Component');
    const [generator] = component.configMapGenerator;
    assert.deepEqual([generator?.name, generator?.behavior], ['argocd-cm', 'merge']);
    const files = Object.fromEntries((generator?.files ?? []).map((f) => f.split('=')));
    assert.deepEqual(files, {
      'resource.customizations.health.lifeboat.dev_Backup': 'lifeboat.dev/Backup/health.lua',
      'resource.customizations.health.lifeboat.dev_Restore': 'lifeboat.dev/Restore/health.lua',
      'resource.customizations.health.lifeboat.dev_ScheduledBackup': 'lifeboat.dev/ScheduledBackup/health.lua',
    });
    for (const file of Object.values(files)) assert.ok(existsSync(join(dir, file as string)), `${file} is missing`);
  });
});
