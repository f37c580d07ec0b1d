// A logical backup applied to a running server: the SQL streams into the engine's client
// (mariadb or mysql) on stdin, with backpressure, and the client stops at the first failed
// statement. Nothing half-applied goes unsaid: every failure after the client started says the
// target may now be partially restored, and what to do about it.
//
// The input is the backup as it is downloaded, and its checksum is known only at its end: when
// the input fails (a checksum mismatch, a truncated download), the client is killed before its
// stdin is closed. A client that reads end-of-file runs the statement it has buffered, which
// could be the COMMIT of the last transaction; a killed one runs nothing more.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { Engine } from '../../crds/api-constants.js';
import { messageOf } from '../../lib/error-message.js';
import type { Logger } from '../../lib/logger.js';
import {
  ConnectionFailedError,
  DownloadFailedError,
  ApplyFailedError,
  DumpFailedError,
  WorkFailure,
  type WorkFailureOptions,
} from '../work-failures.js';
import type { DbCredentials } from './db-connection.js';
import { DUMP_TRAILER } from './dump-positions.js';
import { address, type DbInstance } from './instance-list.js';
import { scrubSecrets } from './secret-scrub.js';
import { clientArgs, findBinary, findClient, isExecutable, toolEnv } from './tool-commands.js';
import { writeToolOptions, type ToolOptions } from './tool-options.js';
import { isNoteworthy, type ToolExit } from './tool-process.js';

export interface ApplyOptions {
  readonly instance: DbInstance;
  readonly engine: Engine;
  readonly credentials: DbCredentials;
  /** The SQL: mariadb-dump or mysqldump output, already decompressed. */
  readonly input: Readable;
  readonly signal?: AbortSignal;
  readonly log: Logger;
  /** The client binary; found on PATH by engine when absent. */
  readonly toolPath?: string;
  /** Time between SIGTERM and SIGKILL after an abort; default 10 s. */
  readonly killGraceMs?: number;
  /**
   * Called with each chunk of input once the client's stdin has taken it (or failed to): a reader
   * that lends its buffers (archive-socket-read.ts) fills it again then.
   */
  readonly onWritten?: (chunk: Buffer) => void;
  /**
   * A named lock the client's own session takes before the SQL: held until that session ends,
   * which may be after this worker (the server finishes a statement in flight), so that the next
   * restore into the server can wait for it (restore-target.ts).
   */
  readonly sessionLock?: string;
}

export interface ApplyResult {
  /** Bytes of SQL the client was given. */
  readonly bytes: number;
}

const DEFAULT_KILL_GRACE_MS = 10_000;
const TAIL_LINES = 8;
const MAX_LINE = 4096;
const TRAILER_BYTES = 256;

interface Client {
  readonly name: string;
  readonly child: ChildProcess;
  readonly stdin: Writable;
  /** Resolves when the client exited and its stderr is read; never rejects. */
  readonly exit: Promise<ToolExit & { readonly spawnError?: Error }>;
  /** The last stderr lines, scrubbed. */
  readonly tail: string[];
}

type FeedEnd = 'complete' | 'client-exited' | 'aborted' | { readonly inputError: unknown };

/** Applies the SQL to the instance; resolves with the byte count when the client exited 0. */
export async function applySql(options: ApplyOptions): Promise<ApplyResult> {
  const where = `${options.instance.name} (${address(options.instance)})`;
  if (options.signal?.aborted) throw stopped(options.signal, where, false);
  const toolOptions = await writeToolOptions(options.credentials);
  const counter = { bytes: 0 };
  let client: Client;
  let end: FeedEnd;
  let exit: Awaited<Client['exit']>;
  try {
    client = startClient(options, toolOptions);
    end = await feedAndWait(client, options, counter);
    // Only once the client has exited: destroying stdin earlier would drop what is still buffered.
    exit = await client.exit;
  } finally {
    await toolOptions.remove();
  }
  client.stdin.destroy();
  options.log.info(
    { tool: client.name, pid: client.child.pid, code: exit.code, signal: exit.signal, bytes: counter.bytes },
    'sql client exited',
  );
  if (typeof end === 'object') throw inputFailure(end.inputError, where, counter.bytes);
  if (end === 'aborted' && options.signal) throw stopped(options.signal, where, true);
  if (exit.code === 0 && end === 'complete') return { bytes: counter.bytes };
  throw clientFailure(client, exit, where);
}

/**
 * The client killed when the worker dies (SIGKILL, OOM): left running, it would go on applying
 * what the pipe still held, after the worker's locks were gone. `setpriv --pdeathsig` (util-linux,
 * in every Debian) sets that for the client it executes; without setpriv the client is run as is.
 */
function diesWithWorker(binary: string, args: readonly string[]): [string, readonly string[]] {
  const setpriv = findBinary(['setpriv'], process.env['PATH'] ?? '');
  // A client that cannot run is spawned as it is, so its spawn error says so (setpriv would exit 127).
  return setpriv && isExecutable(binary) ? [setpriv, ['--pdeathsig', 'KILL', '--', binary, ...args]] : [binary, args];
}

function startClient(options: ApplyOptions, toolOptions: ToolOptions): Client {
  const binary = options.toolPath ?? findClient(options.engine);
  const name = binary.replace(/^.*\//, '');
  const { engine, instance, credentials } = options;
  const args = clientArgs({ engine, instance, user: credentials.user, options: toolOptions });
  const [command, commandArgs] = diesWithWorker(binary, args);
  const child = spawn(command, commandArgs, { env: toolEnv(), stdio: ['pipe', 'ignore', 'pipe'] });
  const stdin = child.stdin;
  const stderr = child.stderr;
  if (!stdin || !stderr) throw new Error('spawn gave no stdin or stderr pipe');
  // Writing to a client that has exited fails with EPIPE; its exit status tells the story.
  stdin.on('error', () => undefined);
  const tail: string[] = [];
  const lines = createInterface({ input: stderr, crlfDelay: Infinity });
  lines.on('line', (raw: string) => {
    const line = scrubSecrets(raw, [options.credentials.password]).slice(0, MAX_LINE);
    if (line.trim() === '') return;
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
    (isNoteworthy(line) ? options.log.warn : options.log.debug).call(options.log, { tool: name, line }, 'tool stderr');
  });
  const exit = new Promise<ToolExit & { spawnError?: Error }>((resolve) => {
    child.once('error', (err) => resolve({ code: null, signal: null, spawnError: err }));
    // 'close' comes after stderr has ended, so the tail is complete.
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  options.log.info({ tool: name, pid: child.pid, args }, 'sql client started');
  return { name, child, stdin, exit, tail };
}

/**
 * Copies the input into the client's stdin, waiting for drain; ends stdin only after a complete
 * dump. An abort or the client's exit stops the copy at once, also while the input is idle.
 */
async function feed(client: Client, options: ApplyOptions, counter: { bytes: number }): Promise<FeedEnd> {
  const { signal, input } = options;
  if (options.sessionLock !== undefined) {
    // A name Lifeboat chose ([a-z0-9_-]), so quoting it is enough.
    client.stdin.write(`DO GET_LOCK('${options.sessionLock.replace(/[^a-z0-9_-]/gi, '')}', 0);\n`);
  }
  let exited = false;
  let wake: (why: 'aborted' | 'client-exited') => void = () => undefined;
  const interrupted = new Promise<'aborted' | 'client-exited'>((resolve) => (wake = resolve));
  const onAbort = (): void => {
    wake('aborted');
    input.destroy();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  void client.exit.then(() => {
    exited = true;
    wake('client-exited');
    input.destroy();
  });
  const interruption = (): FeedEnd | undefined => (signal?.aborted ? 'aborted' : exited ? 'client-exited' : undefined);
  try {
    return await copy(client.stdin, input, { counter, interrupted, interruption, onWritten: options.onWritten });
  } catch (err) {
    return interruption() ?? { inputError: err };
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

interface CopyControl {
  readonly counter: { bytes: number };
  /** Resolves when the copy must stop: an abort, or the client exited. */
  readonly interrupted: Promise<'aborted' | 'client-exited'>;
  /** Why the copy must stop now, if it must. */
  readonly interruption: () => FeedEnd | undefined;
  readonly onWritten?: ((chunk: Buffer) => void) | undefined;
}

async function copy(stdin: Writable, input: Readable, ctl: CopyControl): Promise<FeedEnd> {
  const { counter, interrupted, interruption, onWritten } = ctl;
  let last: Buffer = Buffer.alloc(0);
  for await (const chunk of input) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    counter.bytes += buf.length;
    // A copy: the chunk's memory may be filled again once written.
    last = Buffer.concat([last, buf.subarray(-TRAILER_BYTES)]).subarray(-TRAILER_BYTES);
    const written = stdin.write(buf, onWritten && (() => onWritten(buf)));
    if (!written) {
      // once() rejects on 'error' (EPIPE from an exited client), which `interrupted` reports.
      await Promise.race([once(stdin, 'drain').catch(() => interrupted), interrupted]);
    }
    const stop = interruption();
    if (stop) return stop;
  }
  const stop = interruption();
  if (stop) return stop;
  if (!DUMP_TRAILER.test(last.toString('latin1'))) return { inputError: truncatedDump() };
  stdin.end();
  return 'complete';
}

/** Feeds the client and waits until it exits, killing it when the feed or a stop says so. */
async function feedAndWait(client: Client, options: ApplyOptions, counter: { bytes: number }): Promise<FeedEnd> {
  let end = await feed(client, options, counter);
  // Every byte is with the client, but it may still be applying them: a stop must still stop it.
  if (end === 'complete') end = await exitOrAbort(client, options.signal);
  if (end !== 'complete') {
    if (end !== 'client-exited') client.child.kill(end === 'aborted' ? 'SIGTERM' : 'SIGKILL');
    const killer = end === 'aborted' ? graceKill(client.child, options.killGraceMs) : undefined;
    await client.exit;
    clearTimeout(killer);
  }
  return end;
}

/** 'complete' once the client exits by itself; 'aborted' when the signal fires first. */
async function exitOrAbort(client: Client, signal: AbortSignal | undefined): Promise<FeedEnd> {
  if (!signal) return 'complete';
  if (signal.aborted) return 'aborted';
  let onAbort = (): void => undefined;
  const aborted = new Promise<FeedEnd>((resolve) => (onAbort = () => resolve('aborted')));
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await Promise.race([client.exit.then((): FeedEnd => 'complete'), aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

function graceKill(child: ChildProcess, graceMs = DEFAULT_KILL_GRACE_MS): NodeJS.Timeout {
  return setTimeout(() => child.kill('SIGKILL'), graceMs);
}

function truncatedDump(): DumpFailedError {
  return new DumpFailedError(
    "the backup's SQL ends without the closing '-- Dump completed' line that mariadb-dump and mysqldump write: the dump is incomplete",
  );
}

function partial(where: string): string {
  return `the target ${where} may be partially restored: drop the databases it restored and restore again, or restore again with spec.overwrite: true`;
}

/** The same failure class with a note added, so the reason users alert on stays the input's own. */
function withNote(err: WorkFailure, note: string): WorkFailure {
  const Kind = err.constructor as new (message: string, options?: WorkFailureOptions) => WorkFailure;
  return new Kind(`${err.message}; ${note}`, { cause: err });
}

function inputFailure(err: unknown, where: string, bytes: number): WorkFailure {
  const note =
    bytes === 0
      ? 'no byte reached the SQL client, so nothing was applied'
      : `the SQL client was stopped before it completed its last statement; ${partial(where)}`;
  if (err instanceof WorkFailure) return withNote(err, note);
  return new DownloadFailedError(`reading the backup failed: ${messageOf(err)}; ${note}`, { cause: err });
}

function stopped(signal: AbortSignal, where: string, started: boolean): WorkFailure {
  const note = started ? `the SQL client was killed; ${partial(where)}` : 'nothing was applied';
  const reason: unknown = signal.reason;
  if (reason instanceof WorkFailure) return withNote(reason, note);
  return new ApplyFailedError(`the restore was stopped (${messageOf(reason)}); ${note}`, { cause: reason });
}

// Client errors that are about reaching the server, not about the SQL: CR_CONNECTION_ERROR,
// CR_CONN_HOST_ERROR, CR_UNKNOWN_HOST, CR_SERVER_GONE_ERROR, CR_SERVER_LOST, CR_SSL_CONNECTION_ERROR.
const CONNECTION_ERRORS = new Set([2002, 2003, 2005, 2006, 2013, 2026]);
// ER_DBACCESS_DENIED_ERROR, ER_ACCESS_DENIED_ERROR, ER_ACCESS_DENIED_NO_PASSWORD_ERROR.
const ACCESS_DENIED = new Set([1044, 1045, 1698]);
// "ERROR 1064 (42000) at line 12: ..." while applying; no "at line" while connecting.
const CLIENT_ERROR = /^ERROR (\d+)(?: \(\w+\))?(?: at line (\d+))?/;

function clientFailure(client: Client, exit: ToolExit & { spawnError?: Error }, where: string): WorkFailure {
  if (exit.spawnError) {
    return new ApplyFailedError(
      `the SQL client ${client.name} could not be started: ${exit.spawnError.message}; nothing was applied; check the worker image`,
      { cause: exit.spawnError },
    );
  }
  const error = lastClientError(client.tail);
  if (!error)
    return new ApplyFailedError(`${client.name} stopped: ${describeExit(exit, client.tail)}; ${partial(where)}`);
  const refused = error.atLine === undefined ? connectFailure(client.name, error, where) : undefined;
  if (refused) return refused;
  // The client's line says where ("at line N" of the SQL) when it was applying.
  const message = `${client.name} stopped at the first failed statement: ${error.line}; ${partial(where)}`;
  // A connection lost half-way is still a connection problem, but the target is not untouched.
  return CONNECTION_ERRORS.has(error.code) ? new ConnectionFailedError(message) : new ApplyFailedError(message);
}

/** The failure for an error the client met while connecting, when it is one; nothing was applied then. */
function connectFailure(name: string, error: ClientError, where: string): ConnectionFailedError | undefined {
  const denied = ACCESS_DENIED.has(error.code);
  if (!denied && !CONNECTION_ERRORS.has(error.code)) return undefined;
  const fix = denied
    ? "check the username and password keys of the Cluster's credentials Secret and the account's privileges"
    : 'check the instance host and port in the Cluster and that the database server is running';
  return new ConnectionFailedError(`${name} cannot connect to ${where}: ${error.line}; nothing was applied; ${fix}`);
}

interface ClientError {
  readonly line: string;
  readonly code: number;
  /** Where in the input the failed statement is; absent for errors while connecting. */
  readonly atLine?: string;
}

/** The client's last "ERROR nnnn (state) [at line N]: ..." line. */
function lastClientError(tail: readonly string[]): ClientError | undefined {
  for (const line of [...tail].reverse()) {
    const match = CLIENT_ERROR.exec(line);
    if (match) return { line, code: Number(match[1]), ...(match[2] === undefined ? {} : { atLine: match[2] }) };
  }
  return undefined;
}

function describeExit(exit: ToolExit, tail: readonly string[]): string {
  const how = exit.signal ? `it was killed by ${exit.signal}` : `it exited with code ${String(exit.code)}`;
  return tail.length > 0 ? `${how}; last output: ${tail.join(' | ')}` : how;
}
