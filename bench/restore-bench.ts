// Restores of a database with a generated table of --gib GiB, each beside the raw pipe that does the
// same work, in one run:
//   logical  `lifeboat worker restore` of a claimed Restore (resolve the Backup, check the target is
//            empty, read the whole archive once to verify its SHA-256 against metadata.json, then
//            stream it into the mariadb client) vs `mc cat <archive> | mariadb <the worker's args>`,
//            into a private empty MariaDB (MARIADB_INSTANCE=bench hack/mariadb.sh), emptied before
//            each round;
//   datadir  `lifeboat restore-datadir --to DIR` with store flags (download, hash and `mbstream -x`
//            in one pass, `mariabackup --prepare`, move into DIR) vs `mc cat <archive> | mbstream -x
//            -C DIR` then `mariabackup --no-defaults --prepare --target-dir=DIR` (restore-datadir's
//            arguments); DIR is under a temporary directory, deleted after each round.
//            restore-datadir also flushes DIR to disk; the raw pipe's `sync -f DIR` is timed apart
//            and a second ratio, against the raw pipe plus that sync, is printed; a third is against
//            the raw pipe doing the same work: it also hashes what passes (tee into `openssl dgst
//            -sha256`), extracts with restore-datadir's threads (`mbstream -x --parallel=N`) and syncs.
//            A fourth, the floor: the raw pipe unchanged while `openssl dgst -sha256` hashes a copy
//            of the archive already in the page cache at idle priority (SCHED_IDLE: only on CPU
//            time the pipe leaves unused), then sync. No restore that hashes every byte and flushes
//            what it wrote can take less: the hash costs only its CPU, and nothing to reach it.
// The archives are a mariadb-dump and a mariabackup Backup of the stack's standalone server taken by
// the stack's runner (by the bench itself when the runner is down); the table is dropped as soon as
// both are taken, unless --keep-data. Rounds alternate raw and Lifeboat. Prints wall times, their
// ratios and peak RSS. Asserts nothing.
//   npm run build && node dist/bench/restore-bench.js [--gib 1] [--rounds 3] [--keep-data]
//     [--only logical|datadir] [--wait-for FILE] [--cpu-prof-dir DIR] [--compare-with OTHER/dist/cmd/lifeboat.js]
// The stack's runner is stopped for the logical rounds (it would claim the bench's Restores) and
// started again; the datadir rounds, which need no API server, run first with it up. On a shared
// stack, --wait-for FILE waits until FILE exists (polled every 30 s) before stopping it.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PACKAGE_ROOT } from '../policies/cli/package-paths.js';
import { connectInstance } from '../runner/engine/db-connection.js';
import { staticInstances, type DbInstance } from '../runner/engine/instance-list.js';
import { SYSTEM_SCHEMAS } from '../runner/engine/restore-target.js';
import { withToolOptions } from '../runner/engine/tool-options.js';
import { clientArgs } from '../runner/engine/tool-commands.js';
import { credentials, standalone, withConnection } from '../e2e/support/databases.js';
import { kube, TestNamespace, type KubeObject } from '../e2e/support/kube.js';
import {
  backupOf,
  createStackSecrets,
  minioClient,
  minioStore,
  removePrefix,
  stackCluster,
  waitForPhase,
} from '../e2e/support/stack-objects.js';
import { requireVar, stackRunner } from '../e2e/support/stack.js';
import { EXTRACT_THREADS } from '../runner/restores/datadir-extract.js';
import {
  BENCH_DB,
  ensureData,
  inTemp,
  localCopy,
  mc,
  median,
  quote,
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
    only: { type: 'string' },
    'wait-for': { type: 'string' },
    // Writes a .cpuprofile of each restore-datadir process under DIR.
    'cpu-prof-dir': { type: 'string' },
    // Another build's dist/cmd/lifeboat.js: its restores are timed too, in the same rounds.
    'compare-with': { type: 'string' },
  },
});
const LOGICAL_GOAL = 1.25;
const DATADIR_GOAL = 1.15;
const RSS_GOAL_MIB = 150;
const GiB = 1024 ** 3;
const ENTRY = join(PACKAGE_ROOT, 'dist', 'cmd', 'lifeboat.js');
const BENCH_PORT = Number(process.env.MARIADB_BENCH_PORT ?? 13311);
const SOURCE = 'src';
const TARGET = 'dst';

/** MARIADB_INSTANCE=bench hack/mariadb.sh VERB; its log lines are shown only when it fails. */
function benchServer(verb: 'up' | 'down'): void {
  const r = spawnSync('bash', [join(PACKAGE_ROOT, 'hack', 'mariadb.sh'), verb], {
    cwd: PACKAGE_ROOT,
    env: { ...process.env, MARIADB_INSTANCE: 'bench' },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`MARIADB_INSTANCE=bench hack/mariadb.sh ${verb} failed: ${r.stderr}`);
}

function benchInstance(): DbInstance {
  const [db] = staticInstances([
    { name: `${TARGET}-0`, host: requireVar('MARIADB_HOST', 'MariaDB'), port: BENCH_PORT },
  ]);
  if (!db) throw new Error('no bench instance');
  return db;
}

/** Every schema but the system ones dropped, and the binlog of the last round with them. */
async function emptyBench(): Promise<void> {
  await withConnection(benchInstance(), async (c) => {
    const rows = await c.query(
      'SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN (?)',
      [[...SYSTEM_SCHEMAS]],
    );
    for (const r of rows) await c.query(`DROP DATABASE \`${String(r['name']).replace(/`/g, '``')}\``);
    await c.query('RESET MASTER');
  });
}

/** A namespace of the bench's own, not labelled as e2e: an e2e run's sweep must not take it mid-run. */
async function benchNamespace(): Promise<TestNamespace> {
  const name = `bench-restore-${randomBytes(3).toString('hex')}`;
  await kube().core.createNamespace({ body: { metadata: { name } } });
  return new TestNamespace(name);
}

/** The Restore target: a standalone Cluster whose one instance is the bench's server. */
function targetCluster(path: string): KubeObject {
  const cluster = stackCluster(TARGET, 'standalone', minioStore(path));
  const { host, port } = benchInstance();
  return { ...cluster, spec: { ...cluster.spec, instances: { static: [{ name: `${TARGET}-0`, host, port }] } } };
}

interface Archive {
  readonly backupId: string;
  readonly key: string;
  readonly size: number;
}

/** A completed Backup of the standalone server: taken by the stack's runner, or by us when it is down. */
async function takeBackup(ns: TestNamespace, name: string, method: string): Promise<Archive> {
  await ns.create('backups', backupOf(name, SOURCE, { method }));
  const started = Date.now();
  let status: Record<string, unknown> | undefined;
  if (stackRunner('status')) status = (await waitForPhase(ns, name, ['completed', 'failed'], 30 * 60_000)).status;
  else {
    await runClaimed(ns, 'backup', name);
    status = (await ns.get('backups', name)).status;
  }
  if (status?.['phase'] !== 'completed') throw new Error(`Backup ${name} ended ${JSON.stringify(status)}`);
  const location = status['location'] as { archiveKey: string };
  const archive = { backupId: String(status['backupId']), key: location.archiveKey, size: Number(status['size']) };
  const seconds = (Date.now() - started) / 1000;
  console.log(`${method} Backup ${name}: ${(archive.size / GiB).toFixed(2)} GiB in ${seconds.toFixed(0)} s`);
  return archive;
}

/** Seconds from the start of the run to each log line's message (pino JSON lines on stderr), by "msg[ tool]". */
function logTimes(run: Run): Map<string, number[]> {
  const at = new Map<string, number[]>();
  for (const line of run.stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line) as { time?: number; msg?: string; tool?: string };
      if (entry.time === undefined || entry.msg === undefined) continue;
      const key = entry.tool === undefined ? entry.msg : `${entry.msg} ${entry.tool}`;
      at.set(key, [...(at.get(key) ?? []), (entry.time - run.startedAtMs) / 1000]);
    } catch {
      // a line of a tool's output that happens to start with a brace
    }
  }
  return at;
}

const at = (times: Map<string, number[]>, key: string): string => times.get(key)?.[0]?.toFixed(1) ?? '?';
const secs = (x: number): string => `${x.toFixed(2)} s`;
const rss = (x: number | undefined): string => `${x?.toFixed(0) ?? '?'} MiB`;

interface Figures {
  readonly raw: number[];
  readonly ours: Run[];
}

function summary(label: string, f: Figures, goal: number, rssGoal: boolean): string {
  const r = median(f.raw);
  const w = median(f.ours.map((o) => o.seconds));
  const own = Math.max(...f.ours.map((o) => o.ownPeakRssMiB ?? NaN));
  const tree = Math.max(...f.ours.map((o) => o.peakRssMiB ?? NaN));
  const rssGoalText = rssGoal ? ` (goal ≤ ${RSS_GOAL_MIB}: ${verdict(own, RSS_GOAL_MIB)})` : '';
  return (
    `${label}: median raw ${secs(r)}, lifeboat ${secs(w)} → ${(w / r).toFixed(2)}x (goal ≤ ${goal.toFixed(2)}x: ${verdict(w / r, goal)}); ` +
    `lifeboat peak RSS max ${rss(own)}${rssGoalText}, with its child tools ${rss(tree)}`
  );
}

/** The raw floor: the archive straight into the mariadb client, with the arguments the worker gives it. */
async function rawLogical(key: string): Promise<number> {
  const { binary, env } = mc();
  return withToolOptions(credentials(), async (options) => {
    const args = clientArgs({ engine: 'mariadb', instance: benchInstance(), user: credentials().user, options });
    const script = `set -o pipefail; ${quote(binary)} cat ${quote(`lifeboat/${requireVar('S3_BUCKET', 'MinIO')}/${key}`)} | mariadb ${args.map(quote).join(' ')}`;
    return (await timed('bash', ['-c', script], env)).seconds;
  });
}

async function measureLogical(ns: TestNamespace, dump: Archive): Promise<string> {
  const f: Figures = { raw: [], ours: [] };
  const other = values['compare-with'];
  const compared: Run[] = [];
  for (let round = 1; round <= Number(values.rounds); round++) {
    const load = loadavg()[0] ?? NaN;
    await emptyBench();
    f.raw.push(await rawLogical(dump.key));
    await emptyBench();
    const run = await logicalRestore(ns, `r${round}`);
    f.ours.push(run);
    if (other !== undefined) {
      await emptyBench();
      compared.push(await logicalRestore(ns, `r${round}-other`, other));
    }
    const t = logTimes(run);
    const theirs = compared[compared.length - 1];
    console.log(
      `logical round ${round}: raw pipe ${secs(f.raw[f.raw.length - 1] ?? NaN)}, worker ${secs(run.seconds)} ` +
        `(archive verified at ${at(t, 'archive verified; applying')} s, mariadb client ${at(t, 'sql client started mariadb')}–${at(t, 'sql client exited mariadb')} s; CPU ${secs(run.cpuSeconds ?? NaN)}), ` +
        (theirs === undefined
          ? ''
          : `the other build ${secs(theirs.seconds)} (CPU ${secs(theirs.cpuSeconds ?? NaN)}), `) +
        `worker peak RSS ${rss(run.ownPeakRssMiB)} (with the mariadb client ${rss(run.peakRssMiB)}); load average ${load.toFixed(1)}`,
    );
  }
  await emptyBench();
  return (
    summary('logical restore (worker vs mc cat | mariadb)', f, LOGICAL_GOAL, true) +
    (compared.length > 0
      ? `\n  the other build (${other}): median ${secs(median(compared.map((o) => o.seconds)))}, CPU ${secs(median(compared.map((o) => o.cpuSeconds ?? NaN)))}; ` +
        `this build ${(median(f.ours.map((o) => o.seconds)) / median(compared.map((o) => o.seconds))).toFixed(2)}x it, CPU ${secs(median(f.ours.map((o) => o.cpuSeconds ?? NaN)))}`
      : '')
  );
}

/** A Restore of the dump into the bench's target, run by `lifeboat worker restore` of `entry`'s build. */
async function logicalRestore(ns: TestNamespace, name: string, entry?: string): Promise<Run> {
  await ns.create('restores', {
    apiVersion: 'lifeboat.dev/v1alpha1',
    kind: 'Restore',
    metadata: { name },
    spec: { cluster: { name: TARGET }, backup: { name: 'dump' } },
  });
  return runClaimed(ns, 'restore', name, { logLevel: 'info', entry });
}

interface RawRun {
  readonly seconds: number;
  readonly extract: number;
  readonly sync: number;
  /** User and system CPU of the pipeline's processes (mc, mbstream, mariabackup, sync), not MinIO's. */
  readonly cpuSeconds: number;
}

/**
 * The raw floor: mc cat | mbstream -x, then mariabackup --prepare with restore-datadir's arguments.
 * Then, timed apart and not in `seconds`, `sync -f` of the result: restore-datadir flushes the data
 * directory to disk before it names it DIR, which the raw pipe does not do. `hashed` also hashes
 * the archive as it passes (tee into `openssl dgst -sha256`), and `threads` extracts with
 * `--parallel`, as restore-datadir does. `hashBeside`, a local copy of the archive, is hashed by a
 * process of its own while the raw pipe extracts, and waited for before the prepare.
 */
async function rawDatadir(
  key: string,
  dir: string,
  opts: { hashed?: boolean; threads?: number; hashBeside?: string } = {},
): Promise<RawRun> {
  const extract = `mbstream -x${opts.threads === undefined ? '' : ` --parallel=${opts.threads}`} -C ${quote(dir)}`;
  const { binary, env } = mc();
  const object = `lifeboat/${requireVar('S3_BUCKET', 'MinIO')}/${key}`;
  const script = [
    'set -eo pipefail',
    's=$(date +%s%N)',
    `mkdir ${quote(dir)}`,
    ...(opts.hashBeside === undefined
      ? []
      : [`chrt --idle 0 openssl dgst -sha256 ${quote(opts.hashBeside)} > /dev/null & h=$!`]),
    opts.hashed === true
      ? `${quote(binary)} cat ${quote(object)} | tee >(openssl dgst -sha256 > ${quote(`${dir}.sha256`)}) | ${extract}`
      : `${quote(binary)} cat ${quote(object)} | ${extract}`,
    ...(opts.hashBeside === undefined ? [] : ['wait $h']),
    'm=$(date +%s%N)',
    `mariabackup --no-defaults --prepare --target-dir=${quote(dir)} 2>/dev/null`,
    'p=$(date +%s%N)',
    `sync -f ${quote(dir)}`,
    'e=$(date +%s%N)',
    'echo "extract_ms=$(( (m - s) / 1000000 )) sync_ms=$(( (e - p) / 1000000 ))" >&2',
  ].join('\n');
  const run = await timed('bash', ['-c', script], env);
  const ms = (name: string): number => Number(new RegExp(`${name}=(\\d+)`).exec(run.stderr)?.[1] ?? NaN) / 1000;
  const sync = ms('sync_ms');
  return { seconds: run.seconds - sync, extract: ms('extract_ms'), sync, cpuSeconds: run.cpuSeconds ?? NaN };
}

async function restoreDatadir(path: string, backupId: string, dir: string, entry = ENTRY): Promise<Run> {
  const endpoint = requireVar('S3_ENDPOINT', 'MinIO');
  const args = [
    ...['restore-datadir', '--to', dir, '--backup-id', backupId, '--bucket', requireVar('S3_BUCKET', 'MinIO')],
    ...['--cluster', SOURCE, '--path', path, '--endpoint', endpoint, '--region', requireVar('S3_REGION', 'MinIO')],
    ...(endpoint.startsWith('http://') ? ['--insecure'] : []),
    '--force-path-style',
  ];
  // As a user or an init container runs it: the keys in the environment, never in argv.
  const env = {
    ...process.env,
    LIFEBOAT_LOG_LEVEL: 'info',
    LIFEBOAT_S3_ACCESS_KEY_ID: requireVar('S3_ACCESS_KEY', 'MinIO'),
    LIFEBOAT_S3_SECRET_ACCESS_KEY: requireVar('S3_SECRET_KEY', 'MinIO'),
  };
  const profDir = values['cpu-prof-dir'];
  const profile = profDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profDir}`];
  return timed(process.execPath, [...profile, entry, ...args], env, { ownPeak: true });
}

async function measureDatadir(path: string, physical: Archive): Promise<string> {
  const f: Figures = { raw: [], ours: [] };
  const synced: number[] = [];
  const sameWork: number[] = [];
  const sameWorkCpu: number[] = [];
  const rawCpu: number[] = [];
  const floor: number[] = [];
  const compared: number[] = [];
  const other = values['compare-with'];
  await inTemp(async (copyDir) => {
    const copy = await localCopy(physical.key, join(copyDir, 'archive.xb'));
    for (let round = 1; round <= Number(values.rounds); round++) {
      const load = loadavg()[0] ?? NaN;
      const raw = await inTemp((tmp) => rawDatadir(physical.key, join(tmp, 'raw')));
      f.raw.push(raw.seconds);
      synced.push(raw.seconds + raw.sync);
      rawCpu.push(raw.cpuSeconds);
      const same = await inTemp((tmp) =>
        rawDatadir(physical.key, join(tmp, 'raw'), { hashed: true, threads: EXTRACT_THREADS }),
      );
      sameWork.push(same.seconds + same.sync);
      sameWorkCpu.push(same.cpuSeconds);
      const least = await inTemp((tmp) => rawDatadir(physical.key, join(tmp, 'raw'), { hashBeside: copy }));
      floor.push(least.seconds + least.sync);
      const run = await inTemp((tmp) => restoreDatadir(path, physical.backupId, join(tmp, 'datadir')));
      f.ours.push(run);
      if (other !== undefined) {
        const theirs = await inTemp((tmp) => restoreDatadir(path, physical.backupId, join(tmp, 'datadir'), other));
        compared.push(theirs.seconds);
      }
      const t = logTimes(run);
      console.log(
        `datadir round ${round}: raw ${secs(raw.seconds)} (extract ${secs(raw.extract)}, prepare ${secs(raw.seconds - raw.extract)}; then sync -f ${secs(raw.sync)}; CPU ${secs(raw.cpuSeconds)}), ` +
          `restore-datadir ${secs(run.seconds)} (mbstream ${at(t, 'restore tool started mbstream')}–${at(t, 'restore tool exited mbstream')} s, ` +
          `prepare ${at(t, 'restore tool started mariabackup')}–${at(t, 'restore tool exited mariabackup')} s; CPU ${secs(run.cpuSeconds ?? NaN)}), ` +
          (other === undefined ? '' : `the other build ${secs(compared[compared.length - 1] ?? NaN)}, `) +
          `floor (raw with a hash beside, then sync) ${secs(least.seconds + least.sync)}, ` +
          `restore-datadir peak RSS ${rss(run.ownPeakRssMiB)} (with mbstream and mariabackup ${rss(run.peakRssMiB)}); load average ${load.toFixed(1)}`,
      );
    }
  });
  const withSync = median(f.ours.map((o) => o.seconds)) / median(synced);
  return (
    summary('restore-datadir (vs mc cat | mbstream -x + mariabackup --prepare)', f, DATADIR_GOAL, false) +
    `\n  restore-datadir vs the raw pipe followed by sync -f (on disk, as restore-datadir leaves it): median ${secs(median(synced))} → ${withSync.toFixed(2)}x` +
    `\n  restore-datadir vs the raw pipe doing the same work (tee into openssl dgst -sha256, mbstream --parallel=${EXTRACT_THREADS}, sync -f): median ${secs(median(sameWork))} → ${(median(f.ours.map((o) => o.seconds)) / median(sameWork)).toFixed(2)}x` +
    `\n  the floor, the raw pipe while another process hashes a cached copy of the archive, then sync -f: median ${secs(median(floor))} → ${(median(floor) / median(f.raw)).toFixed(2)}x the raw pipe, restore-datadir ${(median(f.ours.map((o) => o.seconds)) / median(floor)).toFixed(2)}x the floor` +
    (compared.length > 0
      ? `\n  the other build (${values['compare-with']}): median ${secs(median(compared))}, this build ${(median(f.ours.map((o) => o.seconds)) / median(compared)).toFixed(2)}x it`
      : '') +
    `\n  CPU (user + system of the client side's processes, not MinIO's), medians: raw pipe ${secs(median(rawCpu))}, ` +
    `same-work raw pipe ${secs(median(sameWorkCpu))}, restore-datadir ${secs(median(f.ours.map((o) => o.cpuSeconds ?? NaN)))}`
  );
}

async function waitForFile(file: string | undefined): Promise<void> {
  if (file === undefined || existsSync(file)) return;
  console.log(`waiting for ${file} before stopping the stack's runner (polled every 30 s) …`);
  while (!existsSync(file)) await new Promise((resolve) => setTimeout(resolve, 30_000));
  console.log(`${file} is there: going on`);
}

async function dropData(): Promise<void> {
  if (!values['keep-data']) await withConnection(standalone(), (c) => c.query(`DROP DATABASE IF EXISTS ${BENCH_DB}`));
}

/** Set while the bench holds the stack's runner stopped; a signal then starts it again. */
let runnerStopped = false;

/** Runs `fn` with the stack's runner stopped (once --wait-for's file exists), and starts it again. */
async function withoutStackRunner<T>(fn: () => Promise<T>): Promise<T> {
  await waitForFile(values['wait-for']);
  const wasRunning = stackRunner('status');
  if (wasRunning && !stackRunner('down')) throw new Error('hack/runner.sh down failed: it would claim our Restores');
  runnerStopped = wasRunning;
  try {
    return await fn();
  } finally {
    if (wasRunning && stackRunner('up')) runnerStopped = false;
    else if (wasRunning) console.error("hack/runner.sh up failed: start the stack's runner again by hand");
  }
}

/** The generated table, then the Backups the rounds restore (a mariadb-dump, a mariabackup); then the table goes. */
async function takeArchives(
  ns: TestNamespace,
  path: string,
  want: { logical: boolean; datadir: boolean },
): Promise<{ dump?: Archive; physical?: Archive }> {
  await createStackSecrets(ns);
  await ns.create('clusters', stackCluster(SOURCE, 'standalone', minioStore(path)));
  await ns.create('clusters', targetCluster(path));
  const conn = await connectInstance(standalone(), credentials());
  try {
    await ensureData(conn, Number(values.gib));
  } finally {
    await conn.close();
  }
  try {
    return {
      ...(want.logical ? { dump: await takeBackup(ns, 'dump', 'mariadb-dump') } : {}),
      ...(want.datadir ? { physical: await takeBackup(ns, 'physical', 'mariabackup') } : {}),
    };
  } finally {
    await dropData();
  }
}

async function main(): Promise<void> {
  const only = values.only;
  if (only !== undefined && only !== 'logical' && only !== 'datadir') throw new Error('--only: logical or datadir');
  const want = { logical: only !== 'datadir', datadir: only !== 'logical' };
  const ns = await benchNamespace();
  const path = `bench/${ns.name}`;
  // A bench stopped by a signal still gives the stack its runner back.
  const onSignal = (signal: NodeJS.Signals): void => {
    if (runnerStopped) stackRunner('up');
    console.error(`stopped by ${signal}; the namespace ${ns.name}, s3 path ${path} and the bench's server may be left`);
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const results: string[] = [];
  try {
    if (want.logical) benchServer('up');
    const { dump, physical } = await takeArchives(ns, path, want);
    const said = (line: string): void => {
      console.log(line);
      results.push(line);
    };
    if (physical) said(await measureDatadir(path, physical));
    if (dump) said(await withoutStackRunner(() => measureLogical(ns, dump)));
    console.log(`summary (${values.gib} GiB table, ${values.rounds} rounds):`);
    for (const line of results) console.log(`  ${line}`);
  } finally {
    await dropData();
    await removePrefix(minioClient(), requireVar('S3_BUCKET', 'MinIO'), `${path}/`);
    await ns.cleanup();
    if (want.logical) benchServer('down');
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

await main();
