// The database side of one backup, up to the tool's stdout: check the method, find the tool,
// record where the server stands, start the tool, and report where the archive is consistent.
import { accessSync, constants } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { pipeline, type Readable } from 'node:stream';
import type { BackupMethod, Engine } from '../../crds/api-constants.js';
import type { Logger } from '../../lib/logger.js';
import { DumpFailedError, UnsupportedMethodError } from '../work-failures.js';
import type { DbCredentials, SqlConnection } from './db-connection.js';
import {
  DumpPositionScanner,
  DumpTail,
  isCompletedOkLine,
  parseBackupToolLine,
  scanningStream,
  type ReportedPosition,
} from './dump-positions.js';
import { address, type DbInstance } from './instance-list.js';
import type { Topology } from './source-choice.js';
import { readLogPosition, readServerInfo, type LogPosition } from './source-status.js';
import {
  archiveFormat,
  checkMethod,
  findTool,
  isPhysical,
  toolArgs,
  toolEnv,
  type ArchiveFormat,
} from './tool-commands.js';
import { writeToolOptions } from './tool-options.js';
import { makeWorkerDir } from './worker-dirs.js';
import { spawnTool } from './tool-process.js';

export interface BackupToolInput {
  readonly method: BackupMethod;
  readonly engine: Engine;
  /** The Cluster's spec.version, for the method check; the server's own version is recorded too. */
  readonly version?: string | undefined;
  readonly topology: Topology;
  readonly instance: DbInstance;
  readonly credentials: DbCredentials;
  /** An open connection to the same instance, to read its version, datadir and starting position. */
  readonly connection: SqlConnection;
  readonly logger: Logger;
  readonly signal?: AbortSignal;
  readonly killGraceMs?: number;
  /** Where physical tools get their scratch directory; the OS temp directory by default. */
  readonly workDir?: string;
  /** PATH to find the tool in; the process's by default. */
  readonly path?: string;
}

/** What the backup is and where it is consistent, as far as the server and the tool tell. */
export interface ToolResult {
  readonly method: BackupMethod;
  readonly binary: string;
  readonly format: ArchiveFormat;
  /** SELECT VERSION() of the source. */
  readonly serverVersion: string;
  readonly beginGTID?: string;
  readonly endGTID?: string;
  readonly beginBinlog?: string;
  readonly endBinlog?: string;
}

export interface BackupToolRun {
  readonly pid: number | undefined;
  /** The archive bytes; consume them, or the tool blocks. */
  readonly stdout: Readable;
  /** Settles after the tool exited and stdout was read to its end; rejects with DumpFailedError on a bad exit. */
  readonly done: Promise<ToolResult>;
}

/**
 * Starts the backup tool for `method` against `instance`. Throws UnsupportedMethodError before
 * anything runs when the method does not suit the engine, its binary is missing, or (physical
 * methods) the server's data directory is not readable on this host.
 */
export async function startBackupTool(input: BackupToolInput): Promise<BackupToolRun> {
  const { method, engine, instance, logger } = input;
  input.signal?.throwIfAborted();
  checkMethod(method, engine, input.version);
  const binary = findTool(method, engine, input.path);
  const info = await readServerInfo(input.connection);
  const begin = await startingPosition(input);
  const physical = isPhysical(method);
  if (physical) checkDatadir(method, instance, info.datadir);
  const targetDir = physical ? await makeWorkerDir(input.workDir ?? tmpdir(), 'lifeboat-backup-') : undefined;
  const options = await writeToolOptions(input.credentials);
  const args = toolArgs({
    method,
    engine,
    instance,
    user: input.credentials.user,
    options,
    ...(physical ? { datadir: info.datadir, targetDir } : {}),
    galera: input.topology === 'galera',
    replica: input.topology === 'replication' && !instance.writer,
  });
  let reported: ReportedPosition = {};
  let completedOk = false;
  const tool = spawnTool({
    name: method,
    binary,
    args,
    env: toolEnv(),
    secrets: [input.credentials.password],
    logger,
    ...(input.signal ? { signal: input.signal } : {}),
    ...(input.killGraceMs === undefined ? {} : { killGraceMs: input.killGraceMs }),
    onStderrLine: (line) => {
      reported = parseBackupToolLine(line) ?? reported;
      completedOk ||= isCompletedOkLine(line);
    },
  });
  const scanner = physical ? undefined : new DumpPositionScanner();
  const tail = physical ? undefined : new DumpTail();
  const stdout = scanner ? scanned(tool.stdout, scanner, tail) : tool.stdout;
  const done = (async (): Promise<ToolResult> => {
    try {
      await tool.exit;
      if (scanner) await streamDrained(stdout, method);
      checkComplete(method, physical ? completedOk : tail?.completed === true);
      return result(input, binary, info.version, begin, scanner?.found ?? reported);
    } finally {
      await options.remove();
      if (targetDir) await rm(targetDir, { recursive: true, force: true });
    }
  })();
  return { pid: tool.pid, stdout, done };
}

/** Best effort: a server without binary logs, or an account that may not read them, still gets a backup. */
async function startingPosition(input: BackupToolInput): Promise<LogPosition> {
  try {
    return await readLogPosition(input.connection, input.engine);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    input.logger.warn({ instance: input.instance.name, err: why }, 'cannot read the starting binlog position');
    return {};
  }
}

function checkDatadir(method: BackupMethod, instance: DbInstance, datadir: string): void {
  try {
    accessSync(datadir, constants.R_OK | constants.X_OK);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new UnsupportedMethodError(
      `${method} reads the data directory of instance ${instance.name} (${address(instance)}), '${datadir}', which is not readable here (${why}); run the worker on the database's host or choose a logical method (mariadb-dump)`,
    );
  }
}

/**
 * A tool that exits 0 has not necessarily written everything: a dump cut short by a proxy, a full
 * pipe or a killed child can still end in status 0. Each tool says it finished — mariadb-dump with
 * its closing comment, mariabackup with `completed OK!` — and the archive is completed only then.
 */
function checkComplete(method: BackupMethod, vouched: boolean): void {
  if (vouched) return;
  throw new DumpFailedError(
    isPhysical(method)
      ? `${method} exited 0 without printing 'completed OK!': its output is incomplete, so the upload was aborted; the worker log has its full output`
      : `${method} exited 0 but its output ends without the closing '-- Dump completed' line: the dump is incomplete, so the upload was aborted; the worker log has its output`,
  );
}

/** The tool's stdout through the position scanner; destroying the result stops the tool (EPIPE). */
function scanned(source: Readable, scanner: DumpPositionScanner, tail: DumpTail | undefined): Readable {
  const through = scanningStream(scanner, tail);
  // Errors surface through the tool's exit status; the pipeline only has to tear both ends down.
  pipeline(source, through, () => undefined);
  return through;
}

/** Resolves when every byte has passed the scanner, i.e. the consumer has read to the end. */
function streamDrained(stream: Readable, method: BackupMethod): Promise<void> {
  if (stream.readableEnded) return Promise.resolve();
  return new Promise((resolve, reject) => {
    stream.once('end', resolve);
    stream.once('close', () => {
      if (stream.readableEnded) return resolve();
      reject(new DumpFailedError(`the ${method} archive stream was closed before its end; the archive is incomplete`));
    });
  });
}

function result(
  input: BackupToolInput,
  binary: string,
  serverVersion: string,
  begin: LogPosition,
  end: ReportedPosition,
): ToolResult {
  return {
    method: input.method,
    binary,
    format: archiveFormat(input.method),
    serverVersion,
    ...(begin.gtid ? { beginGTID: begin.gtid } : {}),
    ...(begin.binlog ? { beginBinlog: begin.binlog } : {}),
    ...(end.gtid ? { endGTID: end.gtid } : {}),
    ...(end.binlog ? { endBinlog: end.binlog } : {}),
  };
}
