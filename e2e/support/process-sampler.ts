// The secrets sweep's process-table sampler. It runs in a worker thread: the tests block their own
// event loop in spawnSync (kubectl, hack/ scripts), and a sampler on that loop would miss every
// process those start. The main thread posts 'stop' and gets back what was seen.
import { readdirSync, readFileSync } from 'node:fs';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

/** Processes that connect to the database: their environment must not carry its password. */
const DATABASE_TOOLS = new Set(['mariadb', 'mysql', 'mariadb-dump', 'mysqldump', 'mariabackup', 'mariadb-backup']);

/**
 * A database server runs the same tools for its own state transfers (a Galera joiner's SST runs
 * mariabackup with the SST account's password in its environment). Those are the server's, not
 * Lifeboat's, and are counted apart rather than checked.
 */
const DATABASE_SERVERS = new Set(['mariadbd', 'mysqld']);

export interface ProcessSamples {
  readonly samples: number;
  /** Each distinct command line (arguments joined by NUL), with the pid it was first seen in. */
  readonly commandLines: Map<string, string>;
  /** The environment of each database tool process, by `pid comm`. */
  readonly toolEnvironments: Map<string, string>;
  /** `pid comm` of the database tools a database server started (not checked). */
  readonly serverTools: Set<string>;
}

/** A /proc file of a process, or '' when the process is gone or the file unreadable. */
function procFile(pid: string, file: string): string {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return '';
  }
}

/** The parent pid from /proc/PID/stat (after the parenthesised name, which may hold spaces). */
function parentOf(pid: string): string | undefined {
  const stat = procFile(pid, 'stat');
  return /\) \S (\d+)/.exec(stat.slice(stat.lastIndexOf(')')))?.[1];
}

/** Whether a database server is among the process's ancestors. */
function startedByServer(pid: string): boolean {
  for (let p = parentOf(pid), depth = 0; p !== undefined && p !== '0' && depth < 16; p = parentOf(p), depth++) {
    if (DATABASE_SERVERS.has(procFile(p, 'comm').trim())) return true;
  }
  return false;
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
    if (!DATABASE_TOOLS.has(comm) || into.toolEnvironments.has(tool) || into.serverTools.has(tool)) continue;
    if (startedByServer(pid)) into.serverTools.add(tool);
    else into.toolEnvironments.set(tool, procFile(pid, 'environ'));
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
  const samples: ProcessSamples & { samples: number } = {
    samples: 0,
    commandLines: new Map<string, string>(),
    toolEnvironments: new Map<string, string>(),
    serverTools: new Set<string>(),
  };
  const timer = setInterval(() => sampleProcessTable(samples), (workerData as { intervalMs: number }).intervalMs);
  sampleProcessTable(samples);
  port.once('message', () => {
    clearInterval(timer);
    sampleProcessTable(samples);
    port.postMessage(samples);
  });
}
