// A physical backup of the stack's standalone MariaDB through `lifeboat worker backup` (claimed
// Backup, preflight, mariabackup → SHA-256 → multipart upload, metadata.json, status), beside the
// raw pipe of the same tool into the same bucket: `mariabackup --stream=xbstream … | mc pipe …`.
// Rounds alternate raw and worker. Prints wall times, their ratio and the worker's peak RSS, for
// the server as it is (small) and with a generated table of --gib GiB. Asserts nothing.
//   npm run build && node dist/bench/backup-bench.js [--gib 1] [--rounds 3] [--keep-data] [--mc-part-size 16MiB]
// --mc-part-size gives mc parts of that size, two at a time, as the worker sends them (8 MiB, two
// in flight); without it mc picks its own, hundreds of MiB.
// The stack's runner is stopped for the run (it would claim the bench's Backup) and started again.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PACKAGE_ROOT } from '../policies/cli/package-paths.js';
import { connectInstance, type SqlConnection } from '../runner/engine/db-connection.js';
import { workerEnvironment } from '../runner/executors/executor.js';
import { toolArgs } from '../runner/engine/tool-commands.js';
import { credentials, standalone } from '../e2e/support/databases.js';
import { createNamespace, type TestNamespace } from '../e2e/support/kube.js';
import {
  backupOf,
  createStackSecrets,
  minioClient,
  minioStore,
  removePrefix,
  stackCluster,
} from '../e2e/support/stack-objects.js';
import { stackEnv, stackRunner } from '../e2e/support/stack.js';

const { values } = parseArgs({
  options: {
    gib: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
    'keep-data': { type: 'boolean', default: false },
    'mc-part-size': { type: 'string' },
  },
});
const BENCH_DB = 'lifeboat_bench';
const ROW_BYTES = 1000;

interface Run {
  readonly seconds: number;
  readonly peakRssMiB?: number;
}

function timed(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const proc = spawn('/usr/bin/time', ['-f', 'maxrss_kib=%M', command, ...args], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    proc.on('error', reject);
    proc.on('exit', (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const m = /maxrss_kib=(\d+)/.exec(stderr);
      if (code !== 0) reject(new Error(`${command} exited ${String(code)}: ${stderr.trim().slice(-800)}`));
      else resolve({ seconds, ...(m ? { peakRssMiB: Number(m[1]) / 1024 } : {}) });
    });
  });
}

/** A table of `gib` GiB of random bytes, kept between runs when it is already that size. */
async function ensureData(conn: SqlConnection, gib: number): Promise<void> {
  const rows = Math.round((gib * 1024 ** 3) / ROW_BYTES);
  await conn.query(`CREATE DATABASE IF NOT EXISTS ${BENCH_DB}`);
  await conn.query(`CREATE TABLE IF NOT EXISTS ${BENCH_DB}.t (id INT PRIMARY KEY, b VARBINARY(${ROW_BYTES}))`);
  const [row] = await conn.query(`SELECT COUNT(*) AS n FROM ${BENCH_DB}.t`);
  const have = Number(row?.['n'] ?? 0);
  if (have === rows) return;
  console.log(`generating ${gib} GiB (${rows} rows of ${ROW_BYTES} random bytes) in ${BENCH_DB}.t …`);
  await conn.query(`TRUNCATE ${BENCH_DB}.t`);
  const batch = 100_000;
  for (let from = 1; from <= rows; from += batch) {
    const to = Math.min(rows, from + batch - 1);
    await conn.query(
      `INSERT INTO ${BENCH_DB}.t SELECT seq, RANDOM_BYTES(${ROW_BYTES}) FROM ${BENCH_DB}.seq_${from}_to_${to}`,
    );
  }
}

/** mariabackup with the worker's own arguments, piped into mc: the floor for the same work. */
async function rawPipe(conn: SqlConnection, key: string): Promise<Run> {
  const env = stackEnv();
  const [row] = await conn.query('SELECT @@datadir AS datadir');
  const targetDir = mkdtempSync(join(tmpdir(), 'lifeboat-bench-'));
  const args = toolArgs({
    method: 'mariabackup',
    engine: 'mariadb',
    instance: standalone(),
    user: credentials().user,
    datadir: String(row?.['datadir']),
    targetDir,
  });
  const mc = join((env.LIFEBOAT_BIN_PATH ?? '').split(':').find((d) => d.includes('/mc-')) ?? '', 'mc');
  const quoted = args.map((a) => `'${a}'`).join(' ');
  const partSize = values['mc-part-size'];
  const parts = partSize ? `--part-size '${partSize}' --concurrent 2 ` : '';
  const script = `set -o pipefail; mariabackup ${quoted} 2>/dev/null | '${mc}' pipe ${parts}'lifeboat/${env.S3_BUCKET ?? ''}/${key}'`;
  try {
    return await timed('bash', ['-c', script], {
      ...process.env,
      MYSQL_PWD: credentials().password,
      MC_CONFIG_DIR: env.MC_CONFIG_DIR,
    });
  } finally {
    rmSync(targetDir, { recursive: true, force: true });
  }
}

/** One claimed Backup run by `lifeboat worker backup`, as the runner would start it (its environment too). */
async function workerRun(ns: TestNamespace, name: string): Promise<Run> {
  await ns.create('backups', backupOf(name, 'db', { method: 'mariabackup' }));
  await ns.patchStatus('backups', name, { phase: 'running', startedAt: new Date().toISOString() });
  const entry = join(PACKAGE_ROOT, 'dist', 'cmd', 'lifeboat.js');
  const env = workerEnvironment({ ...process.env, KUBECONFIG: stackEnv().KUBECONFIG, LIFEBOAT_LOG_LEVEL: 'warn' });
  const run = await timed(process.execPath, [entry, 'worker', 'backup', `${ns.name}/${name}`], env);
  const phase = (await ns.get('backups', name)).status?.['phase'];
  if (phase !== 'completed') throw new Error(`Backup ${name} ended ${String(phase)}`);
  return run;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function measure(label: string, conn: SqlConnection, ns: TestNamespace, path: string): Promise<void> {
  const raw: number[] = [];
  const ours: Run[] = [];
  for (let round = 1; round <= Number(values.rounds); round++) {
    raw.push((await rawPipe(conn, `${path}/raw-${label}-${round}.xbstream`)).seconds);
    ours.push(await workerRun(ns, `${label}-${round}`));
    const last = ours[ours.length - 1];
    console.log(
      `${label} round ${round}: raw pipe ${raw[raw.length - 1]?.toFixed(2)} s, worker ${last?.seconds.toFixed(2)} s, worker peak RSS ${last?.peakRssMiB?.toFixed(0)} MiB`,
    );
  }
  const r = median(raw);
  const w = median(ours.map((o) => o.seconds));
  const rss = Math.max(...ours.map((o) => o.peakRssMiB ?? NaN));
  console.log(
    `${label}: median raw ${r.toFixed(2)} s, worker ${w.toFixed(2)} s → ${(w / r).toFixed(2)}x (goal ≤ 1.10x: ${w / r <= 1.1 ? 'met' : 'NOT met'}); worker peak RSS max ${rss.toFixed(0)} MiB (goal ≤ 150: ${rss <= 150 ? 'met' : 'NOT met'})`,
  );
}

async function main(): Promise<void> {
  const wasRunning = stackRunner('status');
  if (wasRunning) stackRunner('down');
  const conn = await connectInstance(standalone(), credentials());
  const ns = await createNamespace('bench-backup');
  const path = `bench/${ns.name}`;
  const client = minioClient();
  try {
    await createStackSecrets(ns);
    await ns.create('clusters', stackCluster('db', 'standalone', minioStore(path)));
    await conn.query(`DROP DATABASE IF EXISTS ${BENCH_DB}`);
    await measure('small', conn, ns, path);
    await ensureData(conn, Number(values.gib));
    await measure(`${values.gib}gib`, conn, ns, path);
  } finally {
    if (!values['keep-data']) await conn.query(`DROP DATABASE IF EXISTS ${BENCH_DB}`);
    await conn.close();
    await removePrefix(client, stackEnv().S3_BUCKET ?? '', `${path}/`);
    await ns.cleanup();
    if (wasRunning) stackRunner('up');
  }
}

await main();
