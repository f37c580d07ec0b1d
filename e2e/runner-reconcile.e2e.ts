// The Backup reconciler against the real kube-apiserver, running a FAKE worker process
// (e2e/support/fake-backup-worker.ts: it backs nothing up; it writes `completed`, exits 1, or
// hangs until killed). What is real: claims guarded by resourceVersion, the status subresource,
// the CRD's rules, Events, and the executor's process tracking.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { pino } from 'pino';
import { KubeClient, KubeConflictError } from '../lib/kube-client.js';
import {
  heartbeatLeaseName,
  ProcessExecutor,
  type ProcessExecutorOptions,
} from '../runner/executors/process-executor.js';
import { BackupReconciler } from '../runner/backups/backup-reconciler.js';
import { EventRecorder } from '../runner/status/event-recorder.js';
import { startRunner, type RunningRunner } from '../runner/runner-main.js';
import { sample } from './support/fixtures.js';
import { kube, namespacePerTest, type KubeObject, type TestNamespace } from './support/kube.js';
import { REPO_ROOT, requireVar, withoutStackRunner } from './support/stack.js';
import { eventually } from './support/eventually.js';

const FAKE_WORKER = join(REPO_ROOT, 'dist', 'e2e', 'support', 'fake-backup-worker.js');
const log = pino({ level: process.env['LIFEBOAT_LOG_LEVEL'] ?? 'silent' });

type Mode = 'complete' | 'exit1' | 'hang';

interface TestRunner {
  readonly reconciler: BackupReconciler;
  readonly executor: ProcessExecutor;
}

/** A reconciler with a process executor running the fake worker; a worker's exit reconciles again. */
function testRunner(
  identity: string,
  mode: Mode,
  startsFile: string,
  more: Partial<ProcessExecutorOptions> = {},
): TestRunner {
  const client = new KubeClient(kube().config, { fieldManager: 'lifeboat-runner' });
  const executor = new ProcessExecutor({
    ...more,
    command: [process.execPath, FAKE_WORKER],
    env: {
      ...process.env,
      KUBECONFIG: requireVar('KUBECONFIG', 'kube-apiserver'),
      FAKE_WORKER_MODE: mode,
      FAKE_WORKER_STARTS: startsFile,
    },
    log,
  });
  const reconciler = new BackupReconciler({
    client,
    executor,
    events: new EventRecorder(client, { log }),
    log,
    identity,
  });
  executor.onExit((exit) => {
    reconciler.reconcile(exit.work.namespace, exit.work.name).catch((err: unknown) => {
      log.error({ err: String(err) }, 'reconcile after the worker exit failed');
    });
  });
  return { reconciler, executor };
}

function statusOf(obj: KubeObject): Record<string, unknown> {
  return obj.status ?? {};
}

async function ended(ns: TestNamespace, name: string): Promise<Record<string, unknown>> {
  return eventually(`Backup ${name} to end`, async () => {
    const status = statusOf(await ns.get('backups', name));
    return status['phase'] === 'completed' || status['phase'] === 'failed' ? status : undefined;
  });
}

async function eventReasons(ns: TestNamespace, name: string): Promise<string[]> {
  const fieldSelector = `involvedObject.kind=Backup,involvedObject.name=${name}`;
  const list = await kube().core.listNamespacedEvent({ namespace: ns.name, fieldSelector });
  return list.items.map((e) => e.reason ?? '').sort();
}

/** The Backup's Event reasons once `expected` have all arrived: Events are written after the status. */
async function recordedEvents(ns: TestNamespace, name: string, expected: readonly string[]): Promise<string[]> {
  await eventually(`Events ${expected.join(', ')} of ${name}`, async () => {
    const reasons = await eventReasons(ns, name);
    return expected.every((e) => reasons.includes(e)) ? true : undefined;
  });
  return eventReasons(ns, name);
}

async function createBackups(ns: TestNamespace, names: readonly string[]): Promise<void> {
  await ns.create('clusters', sample('cluster-standalone', ns.name));
  for (const name of names) {
    const backup = sample('backup', ns.name);
    await ns.create('backups', { ...backup, metadata: { ...backup.metadata, name } });
  }
}

function startsIn(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '');
}

/** The pid of a process that has just exited, so certainly not running a worker. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await once(child, 'exit');
  return child.pid ?? 0;
}

describe('backup reconciler on a real API server (fake worker process)', function () {
  withoutStackRunner();
  let ns: TestNamespace;
  let starts: string;
  // Registered before namespacePerTest, so it runs before the namespace is removed: without
  // kube-controller-manager nothing else would delete the Events.
  afterEach(async function () {
    await kube().core.deleteCollectionNamespacedEvent({ namespace: ns.name });
  });
  namespacePerTest((created) => (ns = created));
  beforeEach(function () {
    starts = join(mkdtempSync(join(tmpdir(), 'lifeboat-e2e-')), 'starts');
    writeFileSync(starts, '');
  });
  afterEach(() => rmSync(dirname(starts), { recursive: true, force: true }));

  it('two reconcilers racing claim each new Backup once; the fake worker that writes completed runs once', async function () {
    const names = ['race-1', 'race-2', 'race-3', 'race-4'];
    await createBackups(ns, names);
    const a = testRunner('runner-a', 'complete', starts);
    const b = testRunner('runner-b', 'complete', starts);
    await Promise.all(names.flatMap((n) => [a.reconciler.reconcile(ns.name, n), b.reconciler.reconcile(ns.name, n)]));
    for (const name of names) {
      const status = await ended(ns, name);
      assert.equal(status['phase'], 'completed', `${name}: ${JSON.stringify(status)}`);
      assert.match(String(status['jobName']), new RegExp(`^${hostname()}/\\d+$`));
      const reasons = await recordedEvents(ns, name, ['BackupCompleted', 'BackupRunning']);
      assert.deepEqual(reasons, ['BackupCompleted', 'BackupRunning'], 'one Event per phase');
    }
    const started = startsIn(starts).map((line) => line.split(' ')[0]);
    assert.deepEqual(started.sort(), names.map((n) => `${ns.name}/${n}`).sort(), 'one worker per Backup');
  });

  it('the API server refuses a status patch computed from a stale resourceVersion (409): claims are exclusive', async function () {
    await createBackups(ns, ['stale']);
    const client = new KubeClient(kube().config, { fieldManager: 'lifeboat-runner' });
    const read = await ns.get('backups', 'stale');
    const rv = read.metadata.resourceVersion ?? '';
    await client.patchLifeboatStatus('Backup', ns.name, 'stale', { status: { phase: 'running' }, resourceVersion: rv });
    await assert.rejects(
      client.patchLifeboatStatus('Backup', ns.name, 'stale', { status: { phase: 'failed' }, resourceVersion: rv }),
      KubeConflictError,
    );
    assert.equal(statusOf(await ns.get('backups', 'stale'))['phase'], 'running');
  });

  it('a fake worker that exits 1 without writing leaves the Backup failed with DumpFailed', async function () {
    await createBackups(ns, ['dies']);
    await testRunner('runner-a', 'exit1', starts).reconciler.reconcile(ns.name, 'dies');
    const status = await ended(ns, 'dies');
    assert.equal(status['phase'], 'failed');
    assert.equal(status['reason'], 'DumpFailed');
    assert.match(
      String(status['error']),
      /^the backup worker \(process \d+\) exited with code 1 before finishing; apply a new Backup to try again$/,
    );
    assert.deepEqual(await recordedEvents(ns, 'dies', ['BackupFailed', 'BackupRunning']), [
      'BackupFailed',
      'BackupRunning',
    ]);
  });

  it('a fake worker killed with SIGKILL mid-run leaves the Backup failed, naming the signal', async function () {
    await createBackups(ns, ['killed']);
    const runner = testRunner('runner-a', 'hang', starts);
    const first = await runner.reconciler.reconcile(ns.name, 'killed');
    assert.equal(first.result.next, 'requeue', 'the worker runs; look again later');
    const jobName = String(statusOf(await ns.get('backups', 'killed'))['jobName']);
    process.kill(Number(jobName.split('/')[1]), 'SIGKILL');
    const status = await ended(ns, 'killed');
    assert.equal(status['reason'], 'DumpFailed');
    assert.match(String(status['error']), /exited with signal SIGKILL before finishing/);
  });

  it('a worker on a host that died: another host’s runner fails it once its heartbeat Lease goes stale', async function () {
    await createBackups(ns, ['far']);
    const client = new KubeClient(kube().config, { fieldManager: 'lifeboat-runner' });
    const uid = (await ns.get('backups', 'far')).metadata.uid;
    const lease = heartbeatLeaseName({ kind: 'backup', namespace: ns.name, name: 'far', uid });
    // Host A dies with its worker, so it cannot delete the Lease either.
    const hostA = testRunner('runner-a', 'hang', starts, {
      host: 'host-a',
      heartbeat: {
        leases: { getLease: (n, l) => client.getLease(n, l), deleteLease: async () => {} },
        namespace: ns.name,
        durationSeconds: 2,
      },
    });
    const hostB = testRunner('runner-b', 'complete', starts, {
      host: 'host-b',
      heartbeat: { leases: client, namespace: ns.name, durationSeconds: 2 },
    });
    await hostA.reconciler.reconcile(ns.name, 'far');
    hostA.executor.close(); // and is gone: it will not see its worker end
    const jobName = String(statusOf(await ns.get('backups', 'far'))['jobName']);
    assert.match(jobName, /^host-a\/\d+$/);
    const renewed = await eventually('the worker to create its Lease', () => client.getLease(ns.name, lease));
    assert.match(renewed.holderIdentity, /\/\d+$/);
    assert.equal((await hostB.reconciler.reconcile(ns.name, 'far')).result.next, 'requeue', 'host B: alive');
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    assert.equal((await hostB.reconciler.reconcile(ns.name, 'far')).result.next, 'requeue', 'renewed meanwhile');
    process.kill(Number(jobName.split('/')[1]), 'SIGKILL');
    const status = await eventually('host B to fail the Backup', async () => {
      await hostB.reconciler.reconcile(ns.name, 'far');
      const s = statusOf(await ns.get('backups', 'far'));
      return s['phase'] === 'failed' ? s : undefined;
    });
    assert.equal(status['reason'], 'DumpFailed');
    assert.match(
      String(status['error']),
      /^the backup worker \(process \d+ on host host-a\) stopped renewing its heartbeat Lease \d+ s ago \(its host or runner is gone\); apply a new Backup to try again$/,
    );
    assert.equal(await client.getLease(ns.name, lease), undefined, 'host B deleted the stale Lease');
    assert.deepEqual(startsIn(starts).length, 1, 'host B started no worker of its own');
  });

  it('a restarted runner fails a running Backup whose recorded worker process is gone', async function () {
    await createBackups(ns, ['orphan']);
    const pid = await deadPid();
    await ns.patchStatus('backups', 'orphan', {
      phase: 'running',
      startedAt: '2026-01-01T00:00:00Z',
      jobName: `${hostname()}/${pid}`,
    });
    await testRunner('runner-restarted', 'complete', starts).reconciler.reconcile(ns.name, 'orphan');
    const status = statusOf(await ns.get('backups', 'orphan'));
    assert.equal(status['phase'], 'failed');
    assert.equal(status['reason'], 'DumpFailed');
    assert.match(String(status['error']), new RegExp(`process ${pid}\\) is no longer running`));
    assert.deepEqual(startsIn(starts), [], 'no worker was started for it');
  });

  it('a completed Backup is never rerun: announced once, then left alone', async function () {
    await createBackups(ns, ['done']);
    await ns.patchStatus('backups', 'done', {
      phase: 'completed',
      startedAt: '2026-01-01T00:00:00Z',
      stoppedAt: '2026-01-01T00:05:00Z',
      size: 10,
    });
    const a = testRunner('runner-a', 'complete', starts);
    const b = testRunner('runner-b', 'complete', starts);
    await a.reconciler.reconcile(ns.name, 'done');
    const announced = await ns.get('backups', 'done');
    await Promise.all([a.reconciler.reconcile(ns.name, 'done'), b.reconciler.reconcile(ns.name, 'done')]);
    const after = await ns.get('backups', 'done');
    assert.equal(after.metadata.resourceVersion, announced.metadata.resourceVersion, 'nothing written again');
    assert.equal(statusOf(after)['phase'], 'completed');
    assert.deepEqual(startsIn(starts), []);
    assert.deepEqual(await recordedEvents(ns, 'done', ['BackupCompleted']), ['BackupCompleted']);
  });

  it('writes status only through the status subresource: spec and generation untouched', async function () {
    await createBackups(ns, ['tidy']);
    const before = await ns.get('backups', 'tidy');
    await testRunner('runner-a', 'complete', starts).reconciler.reconcile(ns.name, 'tidy');
    await ended(ns, 'tidy');
    const after = await ns.get('backups', 'tidy');
    assert.deepEqual(after.spec, before.spec);
    assert.equal(after.metadata.generation, before.metadata.generation);
    const ours = (after.metadata.managedFields ?? []).filter((f) => f.manager?.startsWith('lifeboat-'));
    assert.deepEqual(ours.map((f) => [f.manager, f.subresource]).sort(), [
      ['lifeboat-fake-worker', 'status'],
      ['lifeboat-runner', 'status'],
    ]);
  });

  it('two whole runners (startRunner, fake worker): one leads and completes the Backup; /healthz, /metrics', async function () {
    const saved = { ...process.env };
    Object.assign(process.env, {
      KUBECONFIG: requireVar('KUBECONFIG', 'kube-apiserver'),
      FAKE_WORKER_MODE: 'complete',
      FAKE_WORKER_STARTS: starts,
    });
    const runners: RunningRunner[] = [];
    try {
      for (const identity of ['runner-a', 'runner-b']) {
        const options = {
          namespace: ns.name,
          identity,
          lease: { namespace: ns.name, name: 'lifeboat-runner', durationSeconds: 5 },
          listen: { host: '127.0.0.1', port: 0 },
          executor: 'process' as const,
          workerCommand: [process.execPath, FAKE_WORKER],
        };
        runners.push(await startRunner(options, { kube: new KubeClient(kube().config), log }));
      }
      await eventually('a leader', async () => (runners.some((r) => r.isLeader()) ? true : undefined));
      await createBackups(ns, ['whole']);
      assert.equal((await ended(ns, 'whole'))['phase'], 'completed');
      assert.equal(startsIn(starts).length, 1);
      const leader = runners.find((r) => r.isLeader());
      assert.ok(leader && runners.filter((r) => r.isLeader()).length === 1);
      const health = (await (await fetch(`http://127.0.0.1:${leader.port}/healthz`)).json()) as { leader: boolean };
      assert.equal(health.leader, true);
      await eventually('the completion in the metrics', async () => {
        const text = await (await fetch(`http://127.0.0.1:${leader.port}/metrics`)).text();
        return text.includes('lifeboat_backups_total{phase="completed"} 1') ? text : undefined;
      });
    } finally {
      for (const r of runners) await r.stop();
      process.env = saved;
      await kube().config.makeApiClient(CoordinationV1Api).deleteCollectionNamespacedLease({ namespace: ns.name });
    }
  });
});
