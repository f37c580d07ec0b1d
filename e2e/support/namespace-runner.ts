// A whole runner of this tree (startRunner), in the test's process, watching only the test's
// namespace and leading through a Lease there: for describes that stop the stack's runner
// (withoutStackRunner) and run the reconcilers they test themselves. Its workers are real
// `lifeboat worker` processes, which read the API server from KUBECONFIG.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { KubeClient } from '../../lib/kube-client.js';
import { startRunner, type RunningRunner } from '../../runner/runner-main.js';
import { eventually } from './eventually.js';
import { kube, type TestNamespace } from './kube.js';
import { REPO_ROOT, requireVar } from './stack.js';

export interface NamespaceRunnerOptions {
  readonly identity?: string;
  /** Only these reconcilers (ScheduledBackup, Backup, Retention, …); all when absent. */
  readonly reconcilers?: readonly string[];
  readonly leaseSeconds?: number;
  /** Wait until it leads (not for a second runner that is to stand by). Default true. */
  readonly waitToLead?: boolean;
  /** `--max-workers`; the runner's default when absent. */
  readonly maxWorkers?: number;
}

export async function startNamespaceRunner(
  ns: TestNamespace,
  options: NamespaceRunnerOptions = {},
): Promise<RunningRunner> {
  process.env['KUBECONFIG'] = requireVar('KUBECONFIG', 'kube-apiserver');
  const logDir = mkdtempSync(join(tmpdir(), 'lifeboat-e2e-'));
  const runner = await startRunner(
    {
      namespace: ns.name,
      ...(options.identity ? { identity: options.identity } : {}),
      lease: { namespace: ns.name, name: 'lifeboat-runner', durationSeconds: options.leaseSeconds ?? 5 },
      listen: { host: '127.0.0.1', port: 0 },
      executor: 'process',
      workerCommand: [process.execPath, join(REPO_ROOT, 'dist', 'cmd', 'lifeboat.js')],
      workerLogFile: join(logDir, 'workers.log'),
      workerHeartbeatSeconds: 10,
      ...(options.reconcilers ? { reconcilers: options.reconcilers } : {}),
      ...(options.maxWorkers ? { maxWorkers: options.maxWorkers } : {}),
    },
    {
      kube: new KubeClient(kube().config, { fieldManager: 'lifeboat-runner' }),
      log: pino({ level: process.env['LIFEBOAT_LOG_LEVEL'] ?? 'silent' }),
    },
  );
  if (options.waitToLead !== false) {
    await eventually('the in-process runner to lead', async () => (runner.isLeader() ? true : undefined), 20_000);
  }
  // The workers' log goes with the runner: a run of the suite would otherwise leave a folder per runner.
  const stop = async (): Promise<void> => {
    await runner.stop();
    rmSync(logDir, { recursive: true, force: true });
  };
  return { ...runner, stop };
}

/** Whether a worker process of this pid still runs. */
export function workerAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The worker's pid from the record's jobName (`<host>/<pid>`), once the runner has recorded it. */
export async function workerPid(ns: TestNamespace, plural: 'backups' | 'restores', name: string): Promise<number> {
  return eventually(`the worker pid of ${plural} ${name}`, async () => {
    const pid = Number(
      String((await ns.get(plural, name)).status?.['jobName'] ?? '')
        .split('/')
        .pop(),
    );
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  });
}
