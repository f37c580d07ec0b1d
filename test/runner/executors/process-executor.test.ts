// The process executor with real child processes (node -e scripts standing in for the worker):
// the command it runs, exits it reports, and how it judges a recorded host/pid.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WORKER_MEMORY_ENV, type StoredBackup, type WorkerExit } from '../../../runner/executors/executor.js';
import { ProcessExecutor, processRunsWorker } from '../../../runner/executors/process-executor.js';
import { silentLog } from '../reconcile/fakes.js';

const BACKUP: StoredBackup = {
  apiVersion: 'lifeboat.dev/v1alpha1',
  kind: 'Backup',
  metadata: { name: 'nightly', namespace: 'shop' },
  spec: { cluster: { name: 'shop' } },
};
const REF = { namespace: 'shop', name: 'nightly' };

function executor(script: string, logFile?: string): ProcessExecutor {
  return new ProcessExecutor({ command: [process.execPath, '-e', script], host: 'test-host', log: silentLog, logFile });
}

function nextExit(e: ProcessExecutor): Promise<WorkerExit> {
  return new Promise((resolve) => e.onExit(resolve));
}

describe('process executor (node -e scripts as the worker)', () => {
  it('runs the command with `worker backup <ns>/<name>` appended, output to the log file', async () => {
    const log = join(mkdtempSync(join(tmpdir(), 'lifeboat-')), 'worker.log');
    const e = executor('console.log(JSON.stringify(process.argv.slice(1)))', log);
    const exited = nextExit(e);
    const started = await e.start(BACKUP);
    assert.match(started.jobName, /^test-host\/\d+$/);
    const exit = await exited;
    assert.deepEqual(exit, { backup: REF, jobName: started.jobName, how: 'exited with code 0' });
    assert.equal(readFileSync(log, 'utf8').trim(), JSON.stringify(['worker', 'backup', 'shop/nightly']));
  });

  it('starts the worker with WORKER_MEMORY_ENV, its own NODE_OPTIONS after ours', async () => {
    const log = join(mkdtempSync(join(tmpdir(), 'lifeboat-')), 'worker.log');
    const script = 'console.log(JSON.stringify([process.env.NODE_OPTIONS, process.env.MALLOC_MMAP_THRESHOLD_]))';
    const e = new ProcessExecutor({
      command: [process.execPath, '-e', script],
      env: { PATH: process.env['PATH'], NODE_OPTIONS: '--max-old-space-size=200' },
      host: 'test-host',
      log: silentLog,
      logFile: log,
    });
    const exited = nextExit(e);
    await e.start(BACKUP);
    await exited;
    assert.deepEqual(JSON.parse(readFileSync(log, 'utf8')), [
      `${WORKER_MEMORY_ENV.NODE_OPTIONS} --max-old-space-size=200`,
      WORKER_MEMORY_ENV.MALLOC_MMAP_THRESHOLD_,
    ]);
  });

  it('reports a worker alive while it runs, and gone with its signal once killed', async () => {
    const e = executor('setInterval(() => {}, 1000)');
    const started = await e.start(BACKUP);
    assert.deepEqual(await e.isAlive(REF, started.jobName), { state: 'alive' });
    const exited = nextExit(e);
    process.kill(Number(started.jobName.split('/')[1]), 'SIGKILL');
    assert.equal((await exited).how, 'exited with signal SIGKILL');
    const pid = started.jobName.split('/')[1];
    assert.deepEqual(await e.isAlive(REF, started.jobName), {
      state: 'gone',
      why: `the backup worker (process ${pid}) exited with signal SIGKILL before finishing`,
    });
  });

  it('reports an exit code', async () => {
    const e = executor('process.exit(3)');
    const exited = nextExit(e);
    await e.start(BACKUP);
    assert.equal((await exited).how, 'exited with code 3');
  });

  it('judges a pid it did not start (a restarted runner) by whether it runs this Backup', async () => {
    const e = executor('');
    assert.equal(processRunsWorker(process.pid, REF), false, 'alive, but not running shop/nightly');
    const other = new ProcessExecutor({
      command: [process.execPath, '-e', 'setInterval(() => {}, 1000)'],
      host: 'test-host',
      log: silentLog,
    });
    const started = await other.start(BACKUP);
    const pid = Number(started.jobName.split('/')[1]);
    assert.deepEqual(await e.isAlive(REF, started.jobName), { state: 'alive' });
    const gone = nextExit(other);
    process.kill(pid, 'SIGKILL');
    await gone;
    assert.equal((await e.isAlive(REF, started.jobName)).state, 'gone');
  });

  it('a claim without a started worker, and a worker on another host', async () => {
    const e = executor('');
    assert.equal(e.plannedJobName(), 'test-host/pending');
    assert.equal((await e.isAlive(REF, 'test-host/pending')).state, 'missing');
    assert.deepEqual(await e.isAlive(REF, 'elsewhere/12'), {
      state: 'unknown',
      why: "the backup worker (process 12) runs on host elsewhere, not on this runner's",
    });
  });

  it('stop() asks its worker to stop with SIGTERM, and leaves pids of other hosts and other Backups alone', async () => {
    const e = executor('process.on("SIGTERM", () => process.exit(143)); setInterval(() => {}, 1000)');
    const started = await e.start(BACKUP);
    await new Promise((resolve) => setTimeout(resolve, 300)); // the handler is installed
    const pid = started.jobName.split('/')[1] ?? '';
    await e.stop({ namespace: 'shop', name: 'other' }, started.jobName);
    await e.stop(REF, `another-host/${pid}`);
    assert.deepEqual(await e.isAlive(REF, started.jobName), { state: 'alive' });
    const exited = nextExit(e);
    await e.stop(REF, started.jobName);
    assert.equal((await exited).how, 'exited with code 143');
  });

  it('a command that cannot be started fails the start with DumpFailed', async () => {
    const e = new ProcessExecutor({ command: ['/nonexistent/lifeboat'], host: 'h', log: silentLog });
    await assert.rejects(e.start(BACKUP), (err: Error & { reason?: string }) => {
      assert.equal(err.reason, 'DumpFailed');
      assert.match(err.message, /could not start the backup worker \/nonexistent\/lifeboat/);
      return true;
    });
  });
});
