// A FAKE backup worker for the runner's e2e tests: invoked like the real one
// (`<program> worker backup <namespace>/<name>`), it backs nothing up. FAKE_WORKER_MODE says what
// it does instead: `complete` writes phase completed (with a made-up sha256 and size) through the
// status writer and exits 0; `exit1` exits 1 without writing; `hang` waits until it is killed.
// With FAKE_WORKER_STARTS it first appends `<namespace>/<name> <pid>` to that file, so a test
// can count how many workers ever started for a Backup. In `hang` mode it renews the heartbeat
// Lease the runner names (LIFEBOAT_WORKER_LEASE) with the real worker's heartbeat.
import { appendFileSync } from 'node:fs';
import type { Backup } from '../../crds/kinds.js';
import { KubeClient } from '../../lib/kube-client.js';
import { timestamp } from '../../runner/reconcile/run-once-reconciler.js';
import { updateStatus } from '../../runner/status/status-writer.js';
import { heartbeatFromEnvironment, startHeartbeat } from '../../runner/worker/worker-heartbeat.js';
import { pino } from 'pino';

async function complete(namespace: string, name: string): Promise<void> {
  const client = KubeClient.fromEnvironment({ fieldManager: 'lifeboat-fake-worker' });
  await updateStatus<Backup>(client, 'Backup', namespace, name, (b) => {
    if (b.status?.phase !== 'running') return;
    b.status = {
      ...b.status,
      phase: 'completed',
      sha256: '0'.repeat(64),
      size: 1234,
      backupId: 'fake',
      stoppedAt: timestamp(Date.now()),
    };
  });
}

async function main(argv: readonly string[]): Promise<number> {
  const [verb, what, key = ''] = argv;
  const [namespace, name] = key.split('/');
  if (verb !== 'worker' || what !== 'backup' || !namespace || !name) {
    process.stderr.write(`fake worker: expected "worker backup <ns>/<name>", got ${JSON.stringify(argv)}\n`);
    return 2;
  }
  const starts = process.env['FAKE_WORKER_STARTS'];
  if (starts) appendFileSync(starts, `${key} ${process.pid}\n`);
  const mode = process.env['FAKE_WORKER_MODE'] ?? 'complete';
  if (mode === 'exit1') return 1;
  if (mode === 'hang') {
    const lease = heartbeatFromEnvironment(process.env);
    if (lease) {
      const kube = KubeClient.fromEnvironment({ fieldManager: 'lifeboat-fake-worker' });
      await startHeartbeat({ kube, lease, log: pino({ level: 'silent' }), onLost: () => process.exit(3) });
    }
    return new Promise(() => setInterval(() => undefined, 60_000));
  }
  await complete(namespace, name);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
