// The process executor with real child processes (node -e scripts standing in for the worker):
// the command it runs, exits it reports, and how it judges a recorded host/pid.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  backupWork,
  WORKER_MEMORY_ENV,
  type StoredBackup,
  type WorkerExit,
} from '../../../runner/executors/executor.js';
import type { LeaseRecord } from '../../../lib/kube-client.js';
import { heartbeatLeaseName, ProcessExecutor, processRunsWorker } from '../../../runner/executors/process-executor.js';
import { silentLog } from '../reconcile/fakes.js';

const BACKUP: StoredBackup = {
  apiVersion: 'lifeboat.dev/v1alpha1',
  kind: 'Backup',
  metadata: { name: 'nightly', namespace: 'shop' },
  spec: { cluster: { name: 'shop' } },
};
const REF = { kind: 'backup', namespace: 'shop', name: 'nightly' } as const;

function executor(script: string, logFile?: string): ProcessExecutor {
  return new ProcessExecutor({ command: [process.execPath, '-e', script], host: 'test-host', log: silentLog, logFile });
}

function nextExit(e: ProcessExecutor): Promise<WorkerExit> {
  return new Promise((resolve) => e.onExit(resolve));
}

const scratch: string[] = [];

/** A directory for one test's worker log, removed after the file's tests. */
function scratchDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-'));
  scratch.push(dir);
  return dir;
}

after(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('process executor (node -e scripts as the worker)', () => {
  it('runs the command with `worker backup <ns>/<name>` appended, output to the log file', async () => {
    const log = join(scratchDir(), 'worker.log');
    const e = executor('console.log(JSON.stringify(process.argv.slice(1)))', log);
    const exited = nextExit(e);
    const started = await e.start(backupWork(BACKUP));
    assert.match(started.jobName, /^test-host\/\d+$/);
    const exit = await exited;
    assert.deepEqual(exit, { work: REF, jobName: started.jobName, how: 'exited with code 0' });
    assert.equal(readFileSync(log, 'utf8').trim(), JSON.stringify(['worker', 'backup', 'shop/nightly']));
  });

  it('starts the worker with WORKER_MEMORY_ENV, its own NODE_OPTIONS after ours', async () => {
    const log = join(scratchDir(), 'worker.log');
    const script = 'console.log(JSON.stringify([process.env.NODE_OPTIONS, process.env.MALLOC_MMAP_THRESHOLD_]))';
    const e = new ProcessExecutor({
      command: [process.execPath, '-e', script],
      env: { PATH: process.env['PATH'], NODE_OPTIONS: '--max-old-space-size=200' },
      host: 'test-host',
      log: silentLog,
      logFile: log,
    });
    const exited = nextExit(e);
    await e.start(backupWork(BACKUP));
    await exited;
    assert.deepEqual(JSON.parse(readFileSync(log, 'utf8')), [
      `${WORKER_MEMORY_ENV.NODE_OPTIONS} --max-old-space-size=200`,
      WORKER_MEMORY_ENV.MALLOC_MMAP_THRESHOLD_,
    ]);
  });

  it('reports a worker alive while it runs, and gone with its signal once killed', async () => {
    const e = executor('setInterval(() => {}, 1000)');
    const started = await e.start(backupWork(BACKUP));
    assert.deepEqual(await e.isAlive(REF, started.jobName), { state: 'alive' });
    const exited = nextExit(e);
    process.kill(Number(started.jobName.split('/')[1]), 'SIGKILL');
    assert.equal((await exited).how, 'exited with signal SIGKILL');
    const pid = started.jobName.split('/')[1];
    assert.deepEqual(await e.isAlive(REF, started.jobName), {
      state: 'gone',
      why: `the backup worker (process ${pid}) exited with signal SIGKILL before finishing`,
    });
  });

  it('reports an exit code', async () => {
    const e = executor('process.exit(3)');
    const exited = nextExit(e);
    await e.start(backupWork(BACKUP));
    assert.equal((await exited).how, 'exited with code 3');
  });

  it('judges a pid it did not start (a restarted runner) by whether it runs this Backup; one gone lingers (its Lease)', async () => {
    const e = executor('');
    assert.equal(processRunsWorker(process.pid, REF), false, 'alive, but not running shop/nightly');
    const other = new ProcessExecutor({
      command: [process.execPath, '-e', 'setInterval(() => {}, 1000)'],
      host: 'test-host',
      log: silentLog,
    });
    const started = await other.start(backupWork(BACKUP));
    const pid = Number(started.jobName.split('/')[1]);
    assert.deepEqual(await e.isAlive(REF, started.jobName), { state: 'alive' });
    const gone = nextExit(other);
    process.kill(pid, 'SIGKILL');
    await gone;
    assert.deepEqual(await e.isAlive(REF, started.jobName), {
      state: 'gone',
      why: `the backup worker (process ${pid}) is no longer running and did not finish`,
      lingering: true,
    });
  });

  it('a claim without a started worker, and a worker on another host', async () => {
    const e = executor('');
    assert.equal(e.plannedJobName(), 'test-host/pending');
    assert.equal((await e.isAlive(REF, 'test-host/pending')).state, 'missing');
    assert.deepEqual(await e.isAlive(REF, 'elsewhere/12'), {
      state: 'unknown',
      why: "the backup worker (process 12 on host elsewhere) runs on another host than this runner's",
    });
  });

  it('stop() asks its worker to stop with SIGTERM, and leaves pids of other hosts and other Backups alone', async () => {
    const e = executor('process.on("SIGTERM", () => process.exit(143)); setInterval(() => {}, 1000)');
    const started = await e.start(backupWork(BACKUP));
    await new Promise((resolve) => setTimeout(resolve, 300)); // the handler is installed
    const pid = started.jobName.split('/')[1] ?? '';
    await e.stop({ kind: 'backup', namespace: 'shop', name: 'other' } as const, started.jobName);
    await e.stop(REF, `another-host/${pid}`);
    assert.deepEqual(await e.isAlive(REF, started.jobName), { state: 'alive' });
    const exited = nextExit(e);
    await e.stop(REF, started.jobName);
    assert.equal((await exited).how, 'exited with code 143');
  });

  it('a command that cannot be started fails the start with DumpFailed', async () => {
    const e = new ProcessExecutor({ command: ['/nonexistent/lifeboat'], host: 'h', log: silentLog });
    await assert.rejects(e.start(backupWork(BACKUP)), (err: Error & { reason?: string }) => {
      assert.equal(err.reason, 'DumpFailed');
      assert.match(err.message, /could not start the backup worker \/nonexistent\/lifeboat/);
      return true;
    });
  });
});

/** Leases in memory, as the API server would keep them. */
class FakeLeases {
  readonly leases = new Map<string, LeaseRecord>();
  readonly deleted: string[] = [];

  async getLease(namespace: string, name: string): Promise<LeaseRecord | undefined> {
    return this.leases.get(`${namespace}/${name}`);
  }

  async deleteLease(namespace: string, name: string): Promise<void> {
    this.deleted.push(`${namespace}/${name}`);
    this.leases.delete(`${namespace}/${name}`);
  }

  renew(renewTimeMs: number): void {
    const key = `lifeboat-system/${heartbeatLeaseName(REF)}`;
    this.leases.set(key, {
      holderIdentity: 'elsewhere/12',
      leaseDurationSeconds: 60,
      renewTimeMs,
      leaseTransitions: 0,
    });
  }
}

/** A stand-in worker that prints the heartbeat Lease it was told to renew. */
const PRINT_LEASE_ENV = [
  process.execPath,
  '-e',
  'console.log(JSON.stringify([process.env.LIFEBOAT_WORKER_LEASE, process.env.LIFEBOAT_WORKER_LEASE_SECONDS]))',
];

describe('process executor: workers on other hosts, by their heartbeat Lease (fake Leases, fake clock)', () => {
  let now = 0;
  const leases = new FakeLeases();
  const e = new ProcessExecutor({
    command: PRINT_LEASE_ENV,
    host: 'test-host',
    log: silentLog,
    heartbeat: { leases, namespace: 'lifeboat-system', durationSeconds: 60, now: () => now },
  });

  it('tells the worker which Lease to renew and for how long', async () => {
    const log = join(scratchDir(), 'worker.log');
    const withLog = new ProcessExecutor({
      command: PRINT_LEASE_ENV,
      host: 'test-host',
      log: silentLog,
      logFile: log,
      heartbeat: { leases, namespace: 'lifeboat-system', durationSeconds: 45 },
    });
    const exited = nextExit(withLog);
    await withLog.start(backupWork(BACKUP));
    await exited;
    assert.deepEqual(JSON.parse(readFileSync(log, 'utf8')), [`lifeboat-system/${heartbeatLeaseName(REF)}`, '45']);
    assert.match(heartbeatLeaseName(REF), /^lifeboat-worker-[0-9a-f]{20}$/);
    assert.notEqual(
      heartbeatLeaseName(REF),
      heartbeatLeaseName({ kind: 'backup', namespace: 'shop', name: 'other' } as const),
    );
  });

  it('a Backup deleted and applied anew (another uid) gets a heartbeat Lease of its own', () => {
    const backup = { kind: 'backup', namespace: 'shop', name: 'b1' } as const;
    assert.notEqual(heartbeatLeaseName({ ...backup, uid: 'u-1' }), heartbeatLeaseName({ ...backup, uid: 'u-2' }));
    assert.equal(heartbeatLeaseName({ ...backup, uid: 'u-1' }), heartbeatLeaseName({ ...backup, uid: 'u-1' }));
  });

  it('a Restore deleted and applied anew (another uid) gets a heartbeat Lease of its own', () => {
    const restore = { kind: 'restore', namespace: 'shop', name: 'r1' } as const;
    assert.notEqual(heartbeatLeaseName({ ...restore, uid: 'u-1' }), heartbeatLeaseName({ ...restore, uid: 'u-2' }));
    assert.equal(heartbeatLeaseName({ ...restore, uid: 'u-1' }), heartbeatLeaseName({ ...restore, uid: 'u-1' }));
    assert.notEqual(
      heartbeatLeaseName({ ...restore, uid: 'u-1' }),
      heartbeatLeaseName({ ...restore, kind: 'bootstrap', uid: 'u-1' }),
    );
  });

  it('no Lease: missing (the reconciler waits its start grace, then fails the Backup)', async () => {
    assert.deepEqual(await e.isAlive(REF, 'elsewhere/12'), {
      state: 'missing',
      why: `the backup worker (process 12 on host elsewhere) has no heartbeat Lease lifeboat-system/${heartbeatLeaseName(REF)}`,
    });
  });

  it('alive while the renewTime moves, by this runner’s clock; gone and lingering after a silent lease duration', async () => {
    leases.renew(5_000_000); // the other host's clock, far from ours
    assert.deepEqual(await e.isAlive(REF, 'elsewhere/12'), { state: 'alive' }, 'first seen: alive');
    now += 50_000;
    leases.renew(5_050_000);
    assert.deepEqual(await e.isAlive(REF, 'elsewhere/12'), { state: 'alive' });
    now += 60_000;
    assert.deepEqual(await e.isAlive(REF, 'elsewhere/12'), { state: 'alive' }, 'silent for exactly the duration');
    now += 1_000;
    assert.deepEqual(await e.isAlive(REF, 'elsewhere/12'), {
      state: 'gone',
      why: 'the backup worker (process 12 on host elsewhere) stopped renewing its heartbeat Lease 61 s ago (its host or runner is gone)',
      lingering: true,
    });
  });

  it('a worker whose pid was never recorded (host-a/pending) is judged by its Lease too', async () => {
    leases.renew(7_000_000);
    assert.deepEqual(await e.isAlive(REF, 'elsewhere/pending'), { state: 'alive' });
    leases.leases.clear();
    assert.deepEqual(await e.isAlive(REF, 'elsewhere/pending'), {
      state: 'missing',
      why: 'the backup worker was never started (the runner stopped between claiming the work and starting it)',
    });
  });

  it('judges by the longer of its own duration and the one the worker renews for', async () => {
    const key = `lifeboat-system/${heartbeatLeaseName(REF)}`;
    leases.leases.set(key, { holderIdentity: 'x/1', leaseDurationSeconds: 600, renewTimeMs: 1, leaseTransitions: 0 });
    assert.deepEqual(await e.isAlive(REF, 'elsewhere/12'), { state: 'alive' });
    now += 120_000;
    assert.deepEqual(await e.isAlive(REF, 'elsewhere/12'), { state: 'alive' }, '2 min of a 10 min Lease');
    now += 481_000;
    assert.equal((await e.isAlive(REF, 'elsewhere/12')).state, 'gone');
  });

  it('stop() of a worker on another host deletes its Lease, which tells a worker still running to stop', async () => {
    leases.deleted.length = 0;
    await e.stop(REF, 'elsewhere/12');
    assert.deepEqual(leases.deleted, [`lifeboat-system/${heartbeatLeaseName(REF)}`]);
    assert.equal(await leases.getLease('lifeboat-system', heartbeatLeaseName(REF)), undefined);
  });

  it('a worker of its own killed outright: its Lease is deleted when the exit is seen', async () => {
    leases.deleted.length = 0;
    const own = new ProcessExecutor({
      command: [process.execPath, '-e', 'setInterval(() => {}, 1000)'],
      host: 'test-host',
      log: silentLog,
      heartbeat: { leases, namespace: 'lifeboat-system' },
    });
    const started = await own.start(backupWork(BACKUP));
    const exited = nextExit(own);
    process.kill(Number(started.jobName.split('/')[1]), 'SIGKILL');
    await exited;
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(leases.deleted, [`lifeboat-system/${heartbeatLeaseName(REF)}`]);
  });
});
