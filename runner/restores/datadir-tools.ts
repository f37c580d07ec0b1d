// The two upstream tools a physical restore runs: the extractor (mbstream / xbstream -x), fed the
// archive on stdin, and mariabackup/xtrabackup --prepare. runner/engine's spawnTool is for backup
// tools (stdin closed, failures are DumpFailed); here a tool takes input and its failures are
// judged by the caller, so this small runner keeps only what a restore needs: stderr as log
// lines, the last lines for the error message, and a stop on abort.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import type { Writable } from 'node:stream';
import { delimiter, join } from 'node:path';
import type { BackupMethod } from '../../crds/api-constants.js';
import type { Logger } from '../../lib/logger.js';
import { isNoteworthy } from '../engine/tool-process.js';
import { TOOL_BINARIES } from '../engine/tool-commands.js';
import { UnsupportedMethodError } from '../work-failures.js';

export interface DatadirTools {
  /** Extracts an xbstream from stdin: mbstream for mariabackup, xbstream for xtrabackup. */
  readonly extractor: string;
  /** Prepares the extracted backup: mariabackup or xtrabackup. */
  readonly backupTool: string;
}

const EXTRACTORS: Readonly<Partial<Record<BackupMethod, readonly string[]>>> = {
  mariabackup: ['mbstream'],
  xtrabackup: ['xbstream'],
};

/** The binaries a restore of `method` needs, found on PATH; UnsupportedMethodError naming what is missing. */
export function findDatadirTools(method: BackupMethod, path: string = process.env['PATH'] ?? ''): DatadirTools {
  const extractors = EXTRACTORS[method] ?? [];
  return { extractor: onPath(extractors, path, method), backupTool: onPath(TOOL_BINARIES[method], path, method) };
}

function onPath(names: readonly string[], path: string, method: BackupMethod): string {
  for (const name of names) {
    for (const dir of path.split(delimiter).filter((d) => d !== '')) {
      const candidate = join(dir, name);
      try {
        accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {
        // not here; try the next directory
      }
    }
  }
  const pkg = method === 'mariabackup' ? 'mariadb-backup' : 'percona-xtrabackup';
  throw new UnsupportedMethodError(
    `restoring a ${method} backup needs ${names.join(' or ')}, which is not on PATH (${path}); install the ${pkg} package`,
  );
}

export interface ToolRun {
  readonly pid: number | undefined;
  /** The tool's stdin when asked for; closed otherwise. */
  readonly stdin: Writable | null;
  /** Resolves with how it ended; never rejects (a tool that could not start ends with code null). */
  readonly ended: Promise<ToolEnd>;
}

export interface ToolEnd {
  readonly ok: boolean;
  /** "exited with code 1", "was killed by SIGTERM", "could not be started: …". */
  readonly how: string;
  /** Its last stderr lines, for the message; the log has them all. */
  readonly tail: readonly string[];
  /**
   * Its first line that reads as an error, usually the cause. A tool with several threads may
   * follow it with more lines than the tail keeps: mbstream --parallel=8 on a full disk prints
   * "Error writing file … No space left on device" once and then an "out-of-order chunk" line for
   * each chunk its other threads still held.
   */
  readonly firstError?: string | undefined;
}

const TAIL_LINES = 8;
/** A line that says something failed; a warning does not count (mariabackup --prepare prints many). */
const ERROR_LINE = /error|fail|fatal|denied|cannot|can't/i;
// eslint-disable-next-line no-control-regex -- these are what is removed
const CONTROL_CHARS = /[\u0000-\u0008\u000b-\u001f\u007f]/g;
const INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR'];

/** A few basics of our environment: the object store's keys in it are no business of the tools. */
function toolEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of INHERITED_ENV) if (process.env[name] !== undefined) env[name] = process.env[name];
  return env;
}
const KILL_GRACE_MS = 10_000;

/** Starts a tool; stderr lines go to the log. An abort sends SIGTERM, then SIGKILL after 10 s. */
export function runTool(
  opts: { name: string; binary: string; args: readonly string[]; stdin: boolean; logger: Logger },
  signal?: AbortSignal,
): ToolRun {
  const { name, logger } = opts;
  const child = spawn(opts.binary, [...opts.args], {
    env: toolEnv(),
    stdio: [opts.stdin ? 'pipe' : 'ignore', 'ignore', 'pipe'],
  });
  const tail: string[] = [];
  let firstError: string | undefined;
  let pending = '';
  const line = (raw: string): void => {
    // mbstream rings the terminal bell before its errors; a control character has no place in a message.
    const text = raw.replace(CONTROL_CHARS, '');
    if (text.trim() === '') return;
    if (firstError === undefined && isNoteworthy(text) && ERROR_LINE.test(text)) firstError = text;
    tail.push(text);
    if (tail.length > TAIL_LINES) tail.shift();
    (isNoteworthy(text) ? logger.warn : logger.debug).call(logger, { tool: name, line: text }, 'tool stderr');
  };
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    const parts = (pending + chunk).split('\n');
    pending = parts.pop() ?? '';
    parts.forEach(line);
  });
  let timer: NodeJS.Timeout | undefined;
  const onAbort = (): void => {
    child.kill('SIGTERM');
    timer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
  };
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  logger.info({ tool: name, pid: child.pid, args: opts.args }, 'restore tool started');
  const ended = new Promise<ToolEnd>((resolve) => {
    const finish = (end: ToolEnd): void => {
      signal?.removeEventListener('abort', onAbort);
      if (timer) clearTimeout(timer);
      resolve(end);
    };
    child.once('error', (err) => finish({ ok: false, how: `could not be started: ${err.message}`, tail, firstError }));
    child.once('close', (code, sig) => {
      line(pending);
      logger.info({ tool: name, pid: child.pid, code, signal: sig }, 'restore tool exited');
      const how = sig ? `was killed by ${sig}` : `exited with code ${String(code)}`;
      finish({ ok: code === 0, how, tail, firstError });
    });
  });
  return { pid: child.pid, stdin: child.stdin, ended };
}

/**
 * "mbstream exited with code 1; last output: a | b", and "; first error: e" before the tail
 * when the first error line has scrolled out of it.
 */
export function describeEnd(name: string, end: ToolEnd): string {
  const first =
    end.firstError !== undefined && !end.tail.includes(end.firstError) ? `; first error: ${end.firstError}` : '';
  const said = end.tail.length > 0 ? `; last output: ${end.tail.join(' | ')}` : '';
  return `${name} ${end.how}${first}${said}`;
}
