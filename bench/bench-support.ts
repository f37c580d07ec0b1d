// What the benches on the stack share (backup-bench.ts, restore-bench.ts): a child process timed
// with its peak RSS, the generated table of random bytes on the standalone server, a worker run
// on an object the bench claimed itself (as the runner would), and medians and goals.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../policies/cli/package-paths.js';
import type { SqlConnection } from '../runner/engine/db-connection.js';
import { workerEnvironment } from '../runner/executors/executor.js';
import type { TestNamespace } from '../e2e/support/kube.js';
import { stackEnv } from '../e2e/support/stack.js';

export const BENCH_DB = 'lifeboat_bench';
const ROW_BYTES = 1000;

export interface Run {
  readonly seconds: number;
  /** Date.now() when it was started, for the times in its log lines. */
  readonly startedAtMs: number;
  /** /usr/bin/time's %M: the largest of the process and every child it waited for (its tools). */
  readonly peakRssMiB?: number;
  /** VmHWM of the process itself, sampled from /proc every 50 ms (with `ownPeak`). */
  readonly ownPeakRssMiB?: number;
  /** /usr/bin/time's %U + %S: user and system CPU of the process and every child it waited for. */
  readonly cpuSeconds?: number;
  /** The last 64 KiB of its stderr (log lines, then time's own line). */
  readonly stderr: string;
}

/** VmHWM of the one child of `parent` (/usr/bin/time's child), or undefined once it is gone. */
function childPeakMiB(parent: number): number | undefined {
  try {
    const child = readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8').trim().split(' ')[0];
    if (!child) return undefined;
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${child}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined; // not started yet, or exited between the two reads
  }
}

/** Runs the command under /usr/bin/time; rejects on a non-zero exit with its stderr's tail. */
export function timed(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  opts: { ownPeak?: boolean } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const startedAtMs = Date.now();
    const proc = spawn('/usr/bin/time', ['-f', 'maxrss_kib=%M cpu_s=%U+%S', command, ...args], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    let ownPeak: number | undefined;
    const sampler = opts.ownPeak
      ? setInterval(() => {
          const now = proc.pid === undefined ? undefined : childPeakMiB(proc.pid);
          if (now !== undefined) ownPeak = Math.max(ownPeak ?? 0, now);
        }, 50)
      : undefined;
    proc.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-65536)));
    proc.on('error', reject);
    proc.on('close', (code) => {
      clearInterval(sampler);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const m = /maxrss_kib=(\d+)/.exec(stderr);
      const cpu = /cpu_s=([\d.]+)\+([\d.]+)/.exec(stderr);
      if (code !== 0) reject(new Error(`${command} exited ${String(code)}: ${stderr.trim().slice(-800)}`));
      else
        resolve({
          seconds,
          startedAtMs,
          stderr,
          ...(m ? { peakRssMiB: Number(m[1]) / 1024 } : {}),
          ...(cpu ? { cpuSeconds: Number(cpu[1]) + Number(cpu[2]) } : {}),
          ...(ownPeak === undefined ? {} : { ownPeakRssMiB: ownPeak }),
        });
    });
  });
}

/** A table of `gib` GiB of random bytes, kept between runs when it is already that size. */
export async function ensureData(conn: SqlConnection, gib: number): Promise<void> {
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

/** The stack's mc (from LIFEBOAT_BIN_PATH), and the environment that finds its `lifeboat` alias. */
export function mc(): { readonly binary: string; readonly env: NodeJS.ProcessEnv } {
  const env = stackEnv();
  const dir = (env.LIFEBOAT_BIN_PATH ?? '').split(':').find((d) => d.includes('/mc-')) ?? '';
  return { binary: join(dir, 'mc'), env: { ...process.env, MC_CONFIG_DIR: env.MC_CONFIG_DIR } };
}

/** `s` as one bash word. */
export const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs `fn` on a fresh temporary directory, deleted after. */
export async function inTemp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const tmp = mkdtempSync(join(tmpdir(), 'lifeboat-bench-'));
  try {
    return await fn(tmp);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** An object of the stack's bucket read once into a local file, so that reading it later hits the page cache. */
export async function localCopy(key: string, file: string): Promise<string> {
  const { binary, env } = mc();
  const object = `lifeboat/${stackEnv().S3_BUCKET ?? ''}/${key}`;
  await timed('bash', ['-c', `set -o pipefail; ${quote(binary)} cat ${quote(object)} > ${quote(file)}`], env);
  return file;
}

/**
 * Claims the object as the runner does (status.phase running, startedAt, jobName) and runs its
 * worker, `lifeboat worker KIND ns/name`, with the environment the executors give it
 * (WORKER_MEMORY_ENV); rejects unless the object ends completed. The stack's runner must be down,
 * or it would claim the object first. `entry` is the lifeboat.js to run (another build's, to compare).
 */
export async function runClaimed(
  ns: TestNamespace,
  kind: 'backup' | 'restore',
  name: string,
  opts: { readonly logLevel?: string; readonly nodeArgs?: readonly string[]; readonly entry?: string | undefined } = {},
): Promise<Run> {
  const { logLevel = 'warn', nodeArgs = [], entry = join(PACKAGE_ROOT, 'dist', 'cmd', 'lifeboat.js') } = opts;
  const plural = kind === 'backup' ? 'backups' : 'restores';
  const jobName = `${hostname()}/bench-${process.pid}`;
  await ns.patchStatus(plural, name, { phase: 'running', startedAt: new Date().toISOString(), jobName });
  const env = workerEnvironment({ ...process.env, KUBECONFIG: stackEnv().KUBECONFIG, LIFEBOAT_LOG_LEVEL: logLevel });
  const args = [...nodeArgs, entry, 'worker', kind, `${ns.name}/${name}`];
  const run = await timed(process.execPath, args, env, { ownPeak: true });
  const status = (await ns.get(plural, name)).status;
  if (status?.['phase'] !== 'completed')
    throw new Error(`${kind} ${name} ended ${String(status?.['phase'])}: ${String(status?.['error'])}`);
  return run;
}

export const median = (xs: readonly number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/** "met" or "NOT met", for a figure that must stay at or under its goal. */
export const verdict = (value: number, goal: number): string => (value <= goal ? 'met' : 'NOT met');
