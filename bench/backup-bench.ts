// A physical backup of the stack's standalone MariaDB through `lifeboat worker backup` (claimed
// Backup, preflight, mariabackup → SHA-256 → multipart upload, metadata.json, status), beside the
// raw pipe of the same tool into the same bucket: `mariabackup --stream=xbstream … | mc pipe …`.
// Rounds alternate raw and worker. Prints wall times, their ratio and the worker's peak RSS, for
// the server as it is (small) and with a generated table of --gib GiB. Asserts nothing.
//   npm run build && node dist/bench/backup-bench.js [--gib 1] [--rounds 3] [--keep-data] [--mc-part-size 16MiB]
//     [--cpu-prof-dir DIR]
// --mc-part-size gives mc parts of that size, two at a time, as the worker sends them (8 MiB, two
// in flight); without it mc picks its own, hundreds of MiB.
// A third side, the floor: the raw pipe unchanged while `openssl dgst -sha256` hashes a copy of an
// archive as large, already in the page cache, at idle priority (SCHED_IDLE: only on CPU time the
// pipe leaves unused). The worker must hash every byte for metadata.json, which mc does not; no
// backup that does can take less than this.
// The stack's runner is stopped for the run (it would claim the bench's Backup) and started again.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connectInstance, type SqlConnection } from '../runner/engine/db-connection.js';
import { writeToolOptions } from '../runner/engine/tool-options.js';
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
import { BENCH_DB, ensureData, inTemp, localCopy, mc, median, runClaimed, timed, type Run } from './bench-support.js';

const { values } = parseArgs({
  options: {
    gib: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
    'keep-data': { type: 'boolean', default: false },
    'mc-part-size': { type: 'string' },
    // Writes a .cpuprofile of each worker under DIR.
    'cpu-prof-dir': { type: 'string' },
  },
});
/**
 * mariabackup with the worker's own arguments, piped into mc: the floor for the same work. With
 * `hashBeside`, a local file is hashed by another process meanwhile, and waited for.
 */
async function rawPipe(conn: SqlConnection, key: string, hashBeside?: string): Promise<Run> {
  const env = stackEnv();
  const [row] = await conn.query('SELECT @@datadir AS datadir');
  const targetDir = mkdtempSync(join(tmpdir(), 'lifeboat-bench-'));
  const options = await writeToolOptions(credentials());
  const args = toolArgs({
    method: 'mariabackup',
    engine: 'mariadb',
    instance: standalone(),
    user: credentials().user,
    options,
    datadir: String(row?.['datadir']),
    targetDir,
  });
  const { binary, env: mcEnv } = mc();
  const quoted = args.map((a) => `'${a}'`).join(' ');
  const partSize = values['mc-part-size'];
  const parts = partSize ? `--part-size '${partSize}' --concurrent 2 ` : '';
  const pipe = `mariabackup ${quoted} 2>/dev/null | '${binary}' pipe ${parts}'lifeboat/${env.S3_BUCKET ?? ''}/${key}'`;
  const script =
    hashBeside === undefined
      ? `set -o pipefail; ${pipe}`
      : `set -o pipefail; chrt --idle 0 openssl dgst -sha256 '${hashBeside}' > /dev/null & h=$!; ${pipe}; r=$?; wait $h && exit $r`;
  try {
    return await timed('bash', ['-c', script], mcEnv);
  } finally {
    await options.remove();
    rmSync(targetDir, { recursive: true, force: true });
  }
}

/** One claimed Backup run by `lifeboat worker backup`, as the runner would start it (its environment too). */
async function workerRun(ns: TestNamespace, name: string): Promise<Run> {
  await ns.create('backups', backupOf(name, 'db', { method: 'mariabackup' }));
  const dir = values['cpu-prof-dir'];
  return runClaimed(ns, 'backup', name, 'warn', dir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
}

async function measure(label: string, conn: SqlConnection, ns: TestNamespace, path: string): Promise<void> {
  const raw: number[] = [];
  const rawCpu: number[] = [];
  const floor: number[] = [];
  const ours: Run[] = [];
  await inTemp(async (copyDir) => {
    let copy: string | undefined;
    for (let round = 1; round <= Number(values.rounds); round++) {
      const rawKey = `${path}/raw-${label}-${round}.xbstream`;
      const rawRun = await rawPipe(conn, rawKey);
      raw.push(rawRun.seconds);
      rawCpu.push(rawRun.cpuSeconds ?? NaN);
      copy ??= await localCopy(rawKey, join(copyDir, 'archive.xbstream'));
      floor.push((await rawPipe(conn, `${path}/floor-${label}-${round}.xbstream`, copy)).seconds);
      ours.push(await workerRun(ns, `${label}-${round}`));
      const last = ours[ours.length - 1];
      console.log(
        `${label} round ${round}: raw pipe ${raw[raw.length - 1]?.toFixed(2)} s, floor (raw pipe with a hash beside) ${floor[floor.length - 1]?.toFixed(2)} s, worker ${last?.seconds.toFixed(2)} s, worker peak RSS ${last?.peakRssMiB?.toFixed(0)} MiB; CPU raw ${rawCpu[rawCpu.length - 1]?.toFixed(2)} s, worker ${last?.cpuSeconds?.toFixed(2)} s (with mariabackup)`,
      );
    }
  });
  const r = median(raw);
  const fl = median(floor);
  const w = median(ours.map((o) => o.seconds));
  const rss = Math.max(...ours.map((o) => o.peakRssMiB ?? NaN));
  console.log(
    `${label}: median raw ${r.toFixed(2)} s, worker ${w.toFixed(2)} s → ${(w / r).toFixed(2)}x (goal ≤ 1.10x: ${w / r <= 1.1 ? 'met' : 'NOT met'}); worker peak RSS max ${rss.toFixed(0)} MiB (goal ≤ 150: ${rss <= 150 ? 'met' : 'NOT met'})` +
      `\n${label}: the floor (raw pipe while another process hashes a cached archive as large) median ${fl.toFixed(2)} s → ${(fl / r).toFixed(2)}x the raw pipe; the worker ${(w / fl).toFixed(2)}x the floor` +
      `\n${label}: CPU (user + system, with mariabackup; not MinIO's) medians: raw pipe ${median(rawCpu).toFixed(2)} s, worker ${median(ours.map((o) => o.cpuSeconds ?? NaN)).toFixed(2)} s`,
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
