// Where the hack/ stack is and how to reach it. hack/up.sh writes .lifeboat/stack.env; the
// tests read that file (not their own environment) so they reach exactly the stack it describes.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { delimiter, join } from 'node:path';
import { PACKAGE_ROOT } from '../../policies/cli/package-paths.js';

export const REPO_ROOT: string = PACKAGE_ROOT;
// Same default and override as hack/lib.sh.
export const STATE_DIR: string = process.env.LIFEBOAT_STATE ?? join(REPO_ROOT, '.lifeboat');
export const STACK_ENV_FILE: string = join(STATE_DIR, 'stack.env');

export type StackEnv = Readonly<Record<string, string>>;

/** The `export NAME='value'` lines of stack.env; everything else (comments, PATH logic) is skipped. */
export function parseStackEnv(text: string): StackEnv {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^export (\w+)='(.*)'$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) env[m[1]] = m[2];
  }
  return env;
}

let cached: StackEnv | undefined;

/** stack.env of the running stack; read once per run. */
export function stackEnv(): StackEnv {
  if (cached) return cached;
  if (!existsSync(STACK_ENV_FILE)) throw new Error(`${STACK_ENV_FILE} not found: the test stack is not up`);
  cached = parseStackEnv(readFileSync(STACK_ENV_FILE, 'utf8'));
  return cached;
}

/** Forget the cached stack.env (after hack/up.sh rewrote it). */
export function forgetStackEnv(): void {
  cached = undefined;
}

/** A variable the tests cannot work without; the error names the component it belongs to. */
export function requireVar(name: string, component: string): string {
  const value = stackEnv()[name];
  if (!value)
    throw new Error(`${component}: ${name} is not set in ${STACK_ENV_FILE}; is ${component} part of the stack?`);
  return value;
}

/** kubectl from the build cache (LIFEBOAT_BIN_PATH), else from PATH (kind workstations). */
export function kubectlPath(): string {
  const dirs = [...(stackEnv().LIFEBOAT_BIN_PATH ?? '').split(':'), ...(process.env.PATH ?? '').split(delimiter)];
  for (const dir of dirs.filter((d) => d !== '')) {
    const candidate = join(dir, 'kubectl');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory; try the next
    }
  }
  throw new Error(`kubectl: not found in LIFEBOAT_BIN_PATH (${STACK_ENV_FILE}) or PATH; run bash hack/up.sh`);
}

/** Runs a hack/ script with its output streamed to ours; rejects on a non-zero exit. */
export function runHackScript(script: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(REPO_ROOT, 'hack', script)], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('error', (err) => reject(new Error(`hack/${script}: cannot run bash: ${err.message}`)));
    child.on('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`hack/${script} failed (${signal ?? `exit ${String(code)}`})`)),
    );
  });
}

export const STACK_COMPONENTS = ['mariadb', 'mariadb-target', 'galera', 'minio', 'kube'] as const;

/** The stack components `hack/<c>.sh status` reports as running and healthy. */
export function runningComponents(): string[] {
  const healthy = (c: string): boolean =>
    spawnSync('bash', [join(REPO_ROOT, 'hack', `${c}.sh`), 'status'], { cwd: REPO_ROOT, stdio: 'ignore' }).status === 0;
  return STACK_COMPONENTS.filter(healthy);
}

/** Resolves when host:port accepts a TCP connection; rejects naming the component otherwise. */
export function tcpReachable(component: string, host: string, port: number, timeoutMs = 3000): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    const fail = (why: string): void => {
      socket.destroy();
      reject(new Error(`${component}: cannot connect to ${host}:${port} (${why})`));
    };
    socket.once('connect', () => {
      socket.end();
      resolve();
    });
    socket.once('timeout', () => fail(`no answer in ${timeoutMs} ms`));
    socket.once('error', (err) => fail(err.message));
  });
}

/** Runs hack/runner.sh VERB; true on success (for status: the runner is up and healthy). */
export function stackRunner(verb: 'up' | 'down' | 'status'): boolean {
  return (
    spawnSync('bash', [join(REPO_ROOT, 'hack', 'runner.sh'), verb], { cwd: REPO_ROOT, stdio: 'ignore' }).status === 0
  );
}

/** Restarts the stack's webhook (hack/webhook.sh) with `floor` as its --min-schedule-interval. */
export function restartWebhookWithScheduleFloor(floor: string): void {
  const run = spawnSync('bash', [join(REPO_ROOT, 'hack', 'webhook.sh'), 'restart'], {
    cwd: REPO_ROOT,
    stdio: 'ignore',
    env: { ...process.env, LIFEBOAT_MIN_SCHEDULE_INTERVAL: floor },
  });
  if (run.status !== 0)
    throw new Error(`hack/webhook.sh restart (floor ${floor}) failed; see .lifeboat/log/webhook.log`);
}

/**
 * For a describe whose ScheduledBackups fire every few seconds: the stack's webhook is restarted
 * with a one-second schedule floor for the describe, and with the product's 5 minutes after it.
 */
export function withScheduleFloorOfOneSecond(): void {
  before(function () {
    this.timeout(60_000);
    restartWebhookWithScheduleFloor('1s');
  });
  after(function () {
    this.timeout(60_000);
    restartWebhookWithScheduleFloor('5m');
  });
}

/**
 * For a describe whose tests write Backups' status themselves or run reconcilers of their own:
 * the stack's runner would claim those Backups too, so it is stopped for the describe (by its
 * pidfile, through hack/runner.sh) and started again afterwards if it was running.
 */
export function withoutStackRunner(): void {
  let wasRunning = false;
  before(function () {
    this.timeout(60_000);
    wasRunning = stackRunner('status');
    if (wasRunning && !stackRunner('down')) throw new Error('Lifeboat runner: hack/runner.sh down failed');
  });
  after(function () {
    this.timeout(60_000);
    if (wasRunning && !stackRunner('up'))
      throw new Error('Lifeboat runner: hack/runner.sh up failed; see .lifeboat/log/runner.log');
  });
}
