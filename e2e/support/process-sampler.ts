// The secrets sweep's process-table sampler. It runs in a worker thread: the tests block their own
// event loop in spawnSync (kubectl, hack/ scripts), and a sampler on that loop would miss every
// process those start. The main thread posts 'stop' and gets back what was seen.
import { readdirSync, readFileSync } from 'node:fs';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

/** Processes that connect to the database: their environment must not carry its password. */
const DATABASE_TOOLS = new Set(['mariadb', 'mysql', 'mariadb-dump', 'mysqldump', 'mariabackup', 'mariadb-backup']);

export interface ProcessSamples {
  readonly samples: number;
  /** Each distinct command line (arguments joined by NUL), with the pid it was first seen in. */
  readonly commandLines: Map<string, string>;
  /** The environment of each database tool process, by `pid comm`. */
  readonly toolEnvironments: Map<string, string>;
}

/** A /proc file of a process, or '' when the process is gone or the file unreadable. */
function procFile(pid: string, file: string): string {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return '';
  }
}

/**
 * Reads every process's command line (and a database tool's environment) once. Synchronous on
 * purpose: /proc reads are cheap (about 4 ms for the table here) while a promise for each costs
 * several times that in CPU.
 */
export function sampleProcessTable(into: ProcessSamples & { samples: number }): void {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    const cmdline = procFile(pid, 'cmdline');
    if (cmdline !== '' && !into.commandLines.has(cmdline)) into.commandLines.set(cmdline, pid);
    const comm = procFile(pid, 'comm').trim();
    const tool = `${pid} ${comm}`;
    if (DATABASE_TOOLS.has(comm) && !into.toolEnvironments.has(tool))
      into.toolEnvironments.set(tool, procFile(pid, 'environ'));
  }
  into.samples++;
}

/** Samples the process table every `intervalMs` in a worker thread until stop() resolves. */
export class ProcessSampler {
  private readonly worker: Worker;

  constructor(intervalMs: number) {
    this.worker = new Worker(new URL(import.meta.url), { workerData: { intervalMs } });
    this.worker.unref();
  }

  stop(): Promise<ProcessSamples> {
    return new Promise((resolve, reject) => {
      this.worker.once('message', (samples: ProcessSamples) => {
        void this.worker.terminate();
        resolve(samples);
      });
      this.worker.once('error', reject);
      this.worker.postMessage('stop');
    });
  }
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  const samples = { samples: 0, commandLines: new Map<string, string>(), toolEnvironments: new Map<string, string>() };
  const timer = setInterval(() => sampleProcessTable(samples), (workerData as { intervalMs: number }).intervalMs);
  sampleProcessTable(samples);
  port.once('message', () => {
    clearInterval(timer);
    sampleProcessTable(samples);
    port.postMessage(samples);
  });
}
