// A Galera member being backed up is desynced so that a slow backup does not hold the cluster back
// through flow control. Whatever happens to the backup, the member is put back and waited for
// until it is Synced again: a member left desynced falls behind silently.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../lib/logger.js';
import { ConnectionFailedError, TimeoutError } from '../work-failures.js';
import type { SqlConnection } from './db-connection.js';
import { readLocalState } from './source-status.js';

export interface DesyncOptions {
  /** Aborting stops waiting for fn (whose own work the same signal should stop) and restores at once. */
  readonly signal?: AbortSignal;
  /** How long to wait for Synced after wsrep_desync=OFF; default 10 minutes. */
  readonly syncTimeoutMs?: number;
  readonly pollMs?: number;
  /** The member's name, for messages and logs. */
  readonly instanceName?: string;
  readonly logger?: Logger;
  /** A fresh connection to the same member, tried when the original one has died during a long backup. */
  readonly reconnect?: () => Promise<SqlConnection>;
  /**
   * Awaited before wsrep_desync is set ON (not when it was found ON): recording it first means a
   * worker killed with the member desynced always left word of it, for the runner to put it back.
   */
  readonly onDesync?: () => Promise<void>;
  /** Awaited once the member is back OFF and Synced. */
  readonly onRestored?: () => Promise<void>;
}

const DEFAULT_SYNC_TIMEOUT_MS = 10 * 60_000;
const DEFAULT_POLL_MS = 500;

/**
 * Runs fn with wsrep_desync=ON on the connection's member, then always sets it OFF and waits for
 * Synced: after success, after fn throws, and as soon as the signal aborts (fn is then abandoned
 * and the abort reason thrown). fn's error wins over a failure to restore, which is logged. A
 * member that was already desynced by someone else is left as found.
 */
export async function withDesync<T>(
  conn: SqlConnection,
  fn: () => Promise<T>,
  options: DesyncOptions = {},
): Promise<T> {
  const { signal, logger } = options;
  const name = options.instanceName ?? 'the source';
  signal?.throwIfAborted();
  if (await isDesynced(conn)) {
    logger?.warn({ instance: name }, 'wsrep_desync is already ON (another backup?); leaving it as found');
    return raceAbort(fn(), signal);
  }
  const result = await settle(async () => {
    await options.onDesync?.();
    await setOn(conn, name);
    logger?.info({ instance: name }, 'wsrep_desync=ON for the backup');
    return raceAbort(fn(), signal);
  });
  const restoreError = await restoreDesync(conn, name, options);
  if (!restoreError) await recordRestored(name, options);
  if (!result.ok) {
    if (restoreError) logger?.error({ instance: name, err: restoreError.message }, 'restoring wsrep_desync failed');
    throw result.error;
  }
  if (restoreError) throw restoreError;
  return result.value;
}

async function settle<T>(work: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await work() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** Only a record of what was done: the member is back either way, so a failure is logged. */
async function recordRestored(name: string, { onRestored, logger }: DesyncOptions): Promise<void> {
  try {
    await onRestored?.();
  } catch (err) {
    logger?.warn(
      { instance: name, err: err instanceof Error ? err.message : String(err) },
      'cannot record the restore',
    );
  }
}

async function setOn(conn: SqlConnection, name: string): Promise<void> {
  try {
    await conn.query('SET GLOBAL wsrep_desync=ON');
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new ConnectionFailedError(
      `cannot set wsrep_desync=ON on ${name} (${why}); the backup account needs SUPER on Galera members, or use spec.target: primary`,
      { cause: err },
    );
  }
}

async function isDesynced(conn: SqlConnection): Promise<boolean> {
  const rows = await conn.query('SELECT @@global.wsrep_desync AS desync');
  return ['1', 'ON'].includes(String(rows[0]?.['desync']));
}

/** Settles with fn's outcome, or rejects with the abort reason as soon as the signal fires. */
function raceAbort<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  work.catch(() => undefined); // abandoned on abort; its later rejection is nobody's to handle
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortError(signal));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error(`aborted: ${String(reason)}`);
}

/** wsrep_desync=OFF, then Synced; the error to report when either cannot be done. */
export async function restoreDesync(
  conn: SqlConnection,
  name: string,
  options: DesyncOptions = {},
): Promise<Error | undefined> {
  let live: SqlConnection;
  try {
    live = await setOff(conn, options);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return new ConnectionFailedError(
      `could not set wsrep_desync back to OFF on ${name} (${why}); run SET GLOBAL wsrep_desync=OFF on it now`,
      { cause: err },
    );
  }
  try {
    return await waitForSynced(live, name, options);
  } finally {
    if (live !== conn) await live.close();
  }
}

async function setOff(conn: SqlConnection, options: DesyncOptions): Promise<SqlConnection> {
  try {
    await conn.query('SET GLOBAL wsrep_desync=OFF');
    return conn;
  } catch (err) {
    if (!options.reconnect) throw err;
    options.logger?.warn(
      { instance: options.instanceName },
      'connection lost during the backup; reconnecting to restore',
    );
    const fresh = await options.reconnect();
    try {
      await fresh.query('SET GLOBAL wsrep_desync=OFF');
    } catch (again) {
      await fresh.close();
      throw again;
    }
    return fresh;
  }
}

async function waitForSynced(conn: SqlConnection, name: string, options: DesyncOptions): Promise<Error | undefined> {
  const timeoutMs = options.syncTimeoutMs ?? DEFAULT_SYNC_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let last: string;
    try {
      last = (await readLocalState(conn)) ?? '(absent)';
      if (last === 'Synced') {
        options.logger?.info({ instance: name }, 'wsrep_desync=OFF and Synced again');
        return undefined;
      }
    } catch (err) {
      last = `status query failed: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (Date.now() >= deadline) {
      return new TimeoutError(
        `${name} did not return to Synced within ${Math.round(timeoutMs / 1000)} s after wsrep_desync=OFF (last state: ${last}); check its wsrep_local_recv_queue and error log`,
      );
    }
    await sleep(options.pollMs ?? DEFAULT_POLL_MS);
  }
}
