// One backup tool as a child process: stdout is the payload (never logged), stderr becomes
// structured log lines, an abort stops it (SIGTERM, then SIGKILL), and a bad exit becomes a
// DumpFailedError with the tool's last words, secrets scrubbed.
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Logger } from '../../lib/logger.js';
import { DumpFailedError, WorkFailure } from '../work-failures.js';
import { scrubSecrets } from './secret-scrub.js';

export interface ToolProcessOptions {
  /** Name for logs and messages, e.g. "mariadb-dump". */
  readonly name: string;
  readonly binary: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** Removed from every stderr line before it is logged or quoted. */
  readonly secrets: readonly string[];
  readonly logger: Logger;
  readonly signal?: AbortSignal;
  /** Time between SIGTERM and SIGKILL after an abort; default 10 s. */
  readonly killGraceMs?: number;
  /** Sees each stderr line (already scrubbed), e.g. to read the binlog position. */
  readonly onStderrLine?: (line: string) => void;
}

export interface ToolExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface RunningTool {
  readonly pid: number | undefined;
  readonly stdout: Readable;
  /** Resolves when the tool exited 0 and its stderr is read; rejects with DumpFailedError otherwise. */
  readonly exit: Promise<ToolExit>;
}

const DEFAULT_KILL_GRACE_MS = 10_000;
const TAIL_LINES = 8;
const MAX_LINE = 4096;
const NOTEWORTHY = /error|warn|fail|fatal|denied|unknown|cannot|can't/i;
// mariabackup names every file it streams or copies; a table called `errors` is not an error.
const ROUTINE = /\b(Streaming|Copying) \S+ to\b/;

export function isNoteworthy(line: string): boolean {
  return NOTEWORTHY.test(line) && !ROUTINE.test(line);
}

/** Starts the tool. Its stdout must be consumed, or the tool blocks on a full pipe. */
export function spawnTool(options: ToolProcessOptions): RunningTool {
  const { name, logger } = options;
  const child = spawn(options.binary, [...options.args], {
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail: string[] = [];
  const lines = lineSplitter((raw) => {
    const line = scrubSecrets(raw, options.secrets);
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
    (isNoteworthy(line) ? logger.warn : logger.debug).call(logger, { tool: name, line }, 'tool stderr');
    options.onStderrLine?.(line);
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', lines.push);
  const stderrDone = finished(child.stderr).then(lines.flush, lines.flush);
  const stopKill = killOnAbort(child, options);
  logger.info({ tool: name, pid: child.pid, args: options.args }, 'backup tool started');

  const exit = new Promise<ToolExit>((resolve, reject) => {
    child.once('error', (err) => {
      stopKill();
      reject(
        new DumpFailedError(`${name} could not be started: ${scrubSecrets(err.message, options.secrets)}`, {
          cause: err,
        }),
      );
    });
    child.once('exit', (code, signal) => {
      stopKill();
      void stderrDone.then(() => {
        logger.info({ tool: name, pid: child.pid, code, signal }, 'backup tool exited');
        // Stopped on purpose: even a tool that exits 0 on SIGTERM (or had just finished) did not complete the work.
        if (code === 0 && !options.signal?.aborted) return resolve({ code, signal });
        reject(exitFailure(name, { code, signal }, tail, options.signal));
      });
    });
  });
  return { pid: child.pid, stdout: child.stdout, exit };
}

/** The error for a tool that did not exit 0; an abort's own reason when it was stopped on purpose. */
export function exitFailure(name: string, exit: ToolExit, tail: readonly string[], signal?: AbortSignal): WorkFailure {
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${String(exit.code)}`;
  if (signal?.aborted) {
    const reason: unknown = signal.reason;
    if (reason instanceof WorkFailure) return reason;
    const why = reason instanceof Error ? reason.message : String(reason);
    return new DumpFailedError(`${name} ${how} because the backup was stopped (${why})`, { cause: reason });
  }
  const said = tail.length > 0 ? `; last output: ${tail.join(' | ')}` : '';
  return new DumpFailedError(`${name} ${how}${said}; the worker log has its full output`);
}

interface LineSplitter {
  readonly push: (text: string) => void;
  readonly flush: () => void;
}

/** Calls `each` per line; a line longer than MAX_LINE is cut, so a runaway tool cannot grow memory. */
function lineSplitter(each: (line: string) => void): LineSplitter {
  let pending = '';
  const emit = (line: string): void => {
    const trimmed = line.replace(/\r$/, '');
    if (trimmed.trim() !== '') each(trimmed);
  };
  return {
    push(text) {
      pending += text;
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      parts.forEach(emit);
      if (pending.length > MAX_LINE) {
        emit(pending.slice(0, MAX_LINE));
        pending = '';
      }
    },
    flush() {
      emit(pending);
      pending = '';
    },
  };
}

/** SIGTERM on abort, SIGKILL after the grace period; returns the function that disarms both. */
function killOnAbort(child: ReturnType<typeof spawn>, options: ToolProcessOptions): () => void {
  const { signal } = options;
  if (!signal) return () => undefined;
  let timer: NodeJS.Timeout | undefined;
  const onAbort = (): void => {
    options.logger.warn({ tool: options.name, pid: child.pid }, 'backup stopped; sending SIGTERM to the tool');
    child.kill('SIGTERM');
    timer = setTimeout(() => child.kill('SIGKILL'), options.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
  };
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  return () => {
    signal.removeEventListener('abort', onAbort);
    if (timer) clearTimeout(timer);
  };
}
