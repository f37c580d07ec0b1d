// A physical backup of the stack's standalone MariaDB through `lifeboat worker backup` (claimed
// Backup, preflight, mariabackup → SHA-256 → multipart upload, metadata.json, status), beside the
// raw pipe of the same tool into the same bucket: `mariabackup --stream=xbstream … | mc pipe …`.
// Rounds alternate raw and worker. Prints wall times, their ratio and the worker's peak RSS, for
// the server as it is (small) and with a generated table of --gib GiB. Asserts nothing.
//   npm run build && node dist/bench/backup-bench.js [--gib 1] [--rounds 3] [--keep-data] [--mc-part-size 16MiB]
//     [--cpu-prof-dir DIR] [--compare-with OTHER/dist/cmd/lifeboat.js]
// --mc-part-size gives mc parts of that size, two at a time, as the worker sends them (8 MiB, two
// in flight); without it mc picks its own, hundreds of MiB.
// A third side, the floor: the raw pipe unchanged while `openssl dgst -sha256` hashes a copy of an
// archive as large, already in the page cache, at idle priority (SCHED_IDLE: only on CPU time the
// pipe leaves unused). The worker must hash every byte for metadata.json, which mc does not; no
// backup that does can take less than this.
// --compare-with runs another build's worker too, in the same rounds, on a Backup of its own.
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
import {
  BENCH_DB,
  ensureData,
  inTemp,
  localCopy,
  mc,
  median,
  runClaimed,
  timed,
  verdict,
  type Run,
} from './bench-support.js';

const { values } = parseArgs({
  options: {
    gib: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
    'keep-data': { type: 'boolean', default: false },
    'mc-part-size': { type: 'string' },
    // Writes a .cpuprofile of each worker under DIR.
    'cpu-prof-dir': { type: 'string' },
    'compare-with': { type: 'string' },
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
async function workerRun(ns: TestNamespace, name: string, entry?: string): Promise<Run> {
  await ns.create('backups', backupOf(name, 'db', { method: 'mariabackup' }));
  const dir = values['cpu-prof-dir'];
  const profile = dir === undefined || entry !== undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${dir}`];
  return runClaimed(ns, 'backup', name, { nodeArgs: profile, entry });
}

function printRound(
  label: string,
  round: number,
  r: { raw: Run; floor: number; ours: Run | undefined; theirs: Run | undefined },
): void {
  const other =
    r.theirs === undefined
      ? ''
      : `, the other build ${r.theirs.seconds.toFixed(2)} s (CPU ${r.theirs.cpuSeconds?.toFixed(2)} s, peak RSS ${r.theirs.peakRssMiB?.toFixed(0)} MiB)`;
  console.log(
    `${label} round ${round}: raw pipe ${r.raw.seconds.toFixed(2)} s, floor (raw pipe with a hash beside) ${r.floor.toFixed(2)} s, worker ${r.ours?.seconds.toFixed(2)} s, worker peak RSS ${r.ours?.peakRssMiB?.toFixed(0)} MiB; CPU raw ${r.raw.cpuSeconds?.toFixed(2)} s, worker ${r.ours?.cpuSeconds?.toFixed(2)} s (with mariabackup)${other}`,
  );
}

async function measure(label: string, conn: SqlConnection, ns: TestNamespace, path: string): Promise<void> {
  const raw: number[] = [];
  const rawCpu: number[] = [];
  const floor: number[] = [];
  const ours: Run[] = [];
  const other = values['compare-with'];
  const theirs: Run[] = [];
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
      if (other !== undefined) theirs.push(await workerRun(ns, `${label}-${round}-other`, other));
      printRound(label, round, {
        raw: rawRun,
        floor: floor[floor.length - 1] ?? NaN,
        ours: ours[ours.length - 1],
        theirs: theirs[theirs.length - 1],
      });
    }
  });
  const r = median(raw);
  const fl = median(floor);
  const w = median(ours.map((o) => o.seconds));
  const rss = Math.max(...ours.map((o) => o.peakRssMiB ?? NaN));
  console.log(
    `${label}: median raw ${r.toFixed(2)} s, worker ${w.toFixed(2)} s → ${(w / r).toFixed(2)}x (goal ≤ ${GOAL.toFixed(2)}x: ${verdict(w / r, GOAL)}); worker peak RSS max ${rss.toFixed(0)} MiB (goal ≤ 150: ${rss <= 150 ? 'met' : 'NOT met'})` +
      `\n${label}: the floor (raw pipe while another process hashes a cached archive as large) median ${fl.toFixed(2)} s → ${(fl / r).toFixed(2)}x the raw pipe; the worker ${(w / fl).toFixed(2)}x the floor` +
      `\n${label}: CPU (user + system, with mariabackup; not MinIO's) medians: raw pipe ${median(rawCpu).toFixed(2)} s, worker ${median(ours.map((o) => o.cpuSeconds ?? NaN)).toFixed(2)} s`,
  );
  if (other !== undefined) {
    const t = median(theirs.map((o) => o.seconds));
    console.log(
      `${label}: the other build (${other}): median ${t.toFixed(2)} s, CPU ${median(theirs.map((o) => o.cpuSeconds ?? NaN)).toFixed(2)} s, peak RSS max ${Math.max(...theirs.map((o) => o.peakRssMiB ?? NaN)).toFixed(0)} MiB; this build ${(w / t).toFixed(2)}x it`,
    );
  }
}

/**
 * The worker's goal against the raw pipe: ≤ 1.10× mc with its own (large) parts, ≤ 1.0× mc given
 * parts like the worker's with --mc-part-size (a tuned mc).
 */
const GOAL = values['mc-part-size'] === undefined ? 1.1 : 1.0;

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
