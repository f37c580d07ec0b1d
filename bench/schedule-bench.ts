// 1,000 ScheduledBackups in one runner, each firing every minute for 5 minutes: how long from a
// tick to its Backup existing in the API server (seen by a watch here, so the admission webhook,
// the API server and the watch are all in the figure), and the runner's peak RSS. The runner
// (bench/schedule-bench-runner.ts, in a process of its own) runs only the ScheduledBackup
// reconciler, so no worker runs; the stack's runner is stopped meanwhile (it would fire these
// schedules too, and run their Backups) and started again; the webhook is restarted to admit
// schedules every minute (the product's floor is 5 minutes), and with that floor afterwards. Side
// by side, first: the same number of Events created at once (the API server's floor for any
// object), then of Backups created at a minute's start by a plain client (the floor the API server
// and the webhook set on this machine). Prints figures; asserts nothing.
//   npm run build && node dist/bench/schedule-bench.js [--schedules 1000] [--minutes 5]
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { GROUP, VERSION } from '../crds/api-constants.js';
import { KubeClient } from '../lib/kube-client.js';
import { restClientFromEnvironment } from '../lib/kube-rest.js';
import { ConcurrencyLimit } from '../runner/reconcile/concurrency-limit.js';
import { PACKAGE_ROOT } from '../policies/cli/package-paths.js';
import { createNamespace, kube, type TestNamespace } from '../e2e/support/kube.js';
import { minioStore, stackCluster } from '../e2e/support/stack-objects.js';
import { requireVar, restartWebhookWithScheduleFloor, stackRunner } from '../e2e/support/stack.js';

const { values } = parseArgs({
  options: { schedules: { type: 'string', default: '1000' }, minutes: { type: 'string', default: '5' } },
});
const SCHEDULES = Number(values.schedules);
const MINUTES = Number(values.minutes);
const P99_GOAL_S = 1;
const RSS_GOAL_MIB = 200;
const RUNNER = join(PACKAGE_ROOT, 'dist', 'bench', 'schedule-bench-runner.js');

interface Seen {
  readonly name: string;
  readonly tick: number;
  readonly seenAt: number;
}

async function createSchedules(ns: TestNamespace): Promise<void> {
  await ns.create('clusters', stackCluster('db', 'standalone', minioStore(`bench/${ns.name}`)));
  const names = Array.from({ length: SCHEDULES }, (_, i) => `s${String(i).padStart(4, '0')}`);
  for (let i = 0; i < names.length; i += 25) {
    await Promise.all(
      names.slice(i, i + 25).map((name) =>
        ns.create('scheduledbackups', {
          apiVersion: `${GROUP}/${VERSION}`,
          kind: 'ScheduledBackup',
          metadata: { name },
          spec: {
            schedule: '* * * * *',
            concurrencyPolicy: 'Allow',
            // The minute before the runner starts is not caught up: the bench measures ticks.
            startingDeadlineSeconds: 10,
            backupTemplate: { cluster: { name: 'db' }, method: 'mariadb-dump' },
          },
        }),
      ),
    );
  }
}

/** Watches the namespace's Backups; records when each was first seen. */
async function watchBackups(ns: TestNamespace, seen: Map<string, Seen>): Promise<{ abort(): void }> {
  const client = new KubeClient(kube().config);
  const { resourceVersion } = await client.listLifeboat('Backup', ns.name);
  const handle = await client.watchLifeboat(
    { kind: 'Backup', namespace: ns.name, resourceVersion, timeoutSeconds: 3600 },
    (type, object) => {
      const meta = (object as { metadata?: { name?: string; annotations?: Record<string, string> } }).metadata;
      const name = meta?.name;
      const tick = Date.parse(meta?.annotations?.['lifeboat.dev/scheduled-at'] ?? '');
      if (type === 'ADDED' && name && !seen.has(name)) seen.set(name, { name, tick, seenAt: Date.now() });
    },
    (err) => {
      if (err) process.stderr.write(`watch ended: ${err.message}\n`);
    },
  );
  return { abort: () => handle.stop() };
}

/**
 * The baseline, side by side: at a minute's start, a plain client creates the same number of
 * Backups itself, 32 at a time (what the runner's create pool allows), over one keep-alive
 * connection pool (lib/kube-rest.ts, the runner's own transport) through the same API server and
 * admission webhook. What the API server gives anyone who creates a minute's Backups at once.
 */
async function baseline(ns: TestNamespace): Promise<number> {
  const client = restClientFromEnvironment();
  const limit = new ConcurrencyLimit(32);
  const tick = Math.ceil((Date.now() + 2_000) / 60_000) * 60_000;
  await new Promise((resolve) => setTimeout(resolve, tick - Date.now()));
  const at = new Date(tick).toISOString();
  await Promise.all(
    Array.from({ length: SCHEDULES }, (_, i) =>
      limit.run(() =>
        client.createLifeboat('Backup', ns.name, {
          apiVersion: `${GROUP}/${VERSION}`,
          kind: 'Backup',
          metadata: { name: `baseline-${i}`, annotations: { 'lifeboat.dev/scheduled-at': at } },
          spec: { cluster: { name: 'db' }, method: 'mariadb-dump' },
        }),
      ),
    ),
  );
  return tick;
}

/**
 * The API server's floor for any object on this machine: the same number of Events (a core kind:
 * no admission webhook, no custom resource schema), 32 at a time over the same keep-alive pool;
 * seconds from the start until each create was answered.
 */
async function eventFloor(ns: TestNamespace): Promise<number[]> {
  const client = restClientFromEnvironment();
  const limit = new ConcurrencyLimit(32);
  const started = Date.now();
  const answered: number[] = [];
  await Promise.all(
    Array.from({ length: SCHEDULES }, (_, i) =>
      limit.run(async () => {
        const now = new Date();
        await client.createEvent(ns.name, {
          metadata: { name: `floor-${i}`, namespace: ns.name },
          involvedObject: { kind: 'Namespace', name: ns.name, namespace: ns.name },
          type: 'Normal',
          reason: 'BenchFloor',
          message: 'schedule-bench: the API server floor',
          firstTimestamp: now,
          lastTimestamp: now,
        });
        answered.push((Date.now() - started) / 1000);
      }),
    ),
  );
  return answered.sort((a, b) => a - b);
}

function rssMiB(pid: number, field: 'VmHWM' | 'VmRSS' = 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

async function run(ns: TestNamespace): Promise<void> {
  const seen = new Map<string, Seen>();
  const watch = await watchBackups(ns, seen);
  const t0 = Date.now();
  await createSchedules(ns);
  process.stdout.write(`created ${SCHEDULES} ScheduledBackups in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  const floor = await eventFloor(ns);
  process.stdout.write(`floor: ${SCHEDULES} Events (no webhook, no custom resource) answered: ${spread(floor)}\n`);
  const baseTick = await baseline(ns);
  await new Promise((resolve) => setTimeout(resolve, 5_000));
  const base = [...seen.values()].filter((b) => b.name.startsWith('baseline-') && b.tick === baseTick);
  process.stdout.write(
    `baseline: ${base.length} Backups created by a plain client at ${new Date(baseTick).toISOString()}\n`,
  );
  const baselineDelays = delaysOf(base);
  const child = spawn(process.execPath, [RUNNER], {
    env: { ...process.env, BENCH_NAMESPACE: ns.name, KUBECONFIG: requireVar('KUBECONFIG', 'kube-apiserver') },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await measure(child, seen, baselineDelays);
    const stored = (await kube().custom.listNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns.name,
      plural: 'backups',
    })) as { items: unknown[] };
    process.stdout.write(`Backups in the API server: ${stored.items.length}; seen by the watch: ${seen.size}\n`);
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
    watch.abort();
  }
}

async function measure(
  child: ChildProcessByStdio<null, Readable, null>,
  seen: Map<string, Seen>,
  baselineDelays: readonly number[],
): Promise<void> {
  const lines = createInterface({ input: child.stdout });
  const [first] = (await once(lines, 'line')) as [string];
  if (!first.startsWith('ready')) throw new Error(`the bench runner said: ${first}`);
  // From the first whole minute after every schedule is armed, MINUTES ticks.
  const start = Math.ceil((Date.now() + 5_000) / 60_000) * 60_000;
  const end = start + (MINUTES - 1) * 60_000;
  process.stdout.write(
    `runner ${child.pid} leads; ticks from ${new Date(start).toISOString()} to ${new Date(end).toISOString()}\n`,
  );
  await new Promise((resolve) => setTimeout(resolve, start - 1_000 - Date.now()));
  const armed = rssMiB(child.pid ?? 0, 'VmRSS');
  process.stdout.write(`runner RSS with every schedule armed, before the first tick: ${armed.toFixed(0)} MiB\n`);
  await new Promise((resolve) => setTimeout(resolve, end + 20_000 - Date.now()));
  const rss = rssMiB(child.pid ?? 0);
  child.kill('SIGTERM');
  await once(child, 'exit');
  report(
    [...seen.values()].filter((s) => !s.name.startsWith('baseline-') && s.tick >= start && s.tick <= end),
    rss,
    baselineDelays,
  );
}

function delaysOf(seen: readonly Seen[]): number[] {
  return seen.map((s) => (s.seenAt - s.tick) / 1000).sort((a, b) => a - b);
}

function spread(delays: readonly number[]): string {
  const at = (p: number): string => percentile(delays, p).toFixed(3);
  return `p50 ${at(50)} s, p90 ${at(90)} s, p99 ${at(99)} s, max ${(delays[delays.length - 1] ?? NaN).toFixed(3)} s`;
}

function report(inWindow: Seen[], rss: number, baselineDelays: readonly number[]): void {
  const delays = delaysOf(inWindow);
  const perTick = new Map<number, number>();
  for (const s of inWindow) perTick.set(s.tick, (perTick.get(s.tick) ?? 0) + 1);
  const expected = SCHEDULES * MINUTES;
  const p99 = percentile(delays, 99);
  const lines = [
    `Backups created for the ${MINUTES} ticks: ${inWindow.length} of ${expected} (per tick: ${[...perTick.values()].join(', ')})`,
    `baseline, a plain client creating ${SCHEDULES} Backups at a minute's start: ${spread(baselineDelays)}`,
    `runner, tick to Backup seen by a watch: ${spread(delays)} (goal p99 <= ${P99_GOAL_S} s: ${p99 <= P99_GOAL_S ? 'met' : 'NOT met'})`,
    `runner p99 / baseline p99: ${(p99 / percentile(baselineDelays, 99)).toFixed(2)}x`,
    `runner peak RSS (VmHWM): ${rss.toFixed(0)} MiB (goal <= ${RSS_GOAL_MIB} MiB: ${rss <= RSS_GOAL_MIB ? 'met' : 'NOT met'})`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

const wasRunning = stackRunner('status');
if (wasRunning && !stackRunner('down'))
  throw new Error('hack/runner.sh down failed: it would fire the bench schedules too');
// Schedules every minute are below the product's 5-minute floor: the webhook admits them meanwhile.
restartWebhookWithScheduleFloor('1m');
const ns = await createNamespace('schedule-bench');
try {
  await run(ns);
} finally {
  process.stdout.write(`removing namespace ${ns.name} (${SCHEDULES} schedules and their Backups)\n`);
  await ns.cleanup();
  restartWebhookWithScheduleFloor('5m');
  if (wasRunning && !stackRunner('up'))
    process.stderr.write('hack/runner.sh up failed: start the stack runner again\n');
}
