// Where a logical restore is applied, and whether the target may take it. A restore writes, so
// it goes to the one instance that takes writes: the writer of a replication Cluster (its
// replicas follow through the binlog), any Synced member of a Galera Cluster (Galera replicates
// the InnoDB writes to the others), the only instance of a standalone one.
import { setTimeout as delay } from 'node:timers/promises';
import { messageOf } from '../../lib/error-message.js';
import { ConnectionFailedError, TargetNotEmptyError, WorkFailure } from '../work-failures.js';
import { isAccessDenied, type SqlConnection } from './db-connection.js';
import { address, writerOf, type DbInstance } from './instance-list.js';
import type { Topology } from './source-choice.js';
import { readGaleraStatus } from './source-status.js';
import { isSynced } from './source-health.js';
import { KEPT_SCHEMA, MARKER_SCHEMA } from './restore-marker.js';

/**
 * Opens a connection to one instance. connectInstance with the Cluster's credentials is the one
 * to use: its ConnectionFailedError already says what to fix (credentials, address, server down).
 */
export type Probe = (instance: DbInstance) => Promise<SqlConnection>;

/** The instance a restore is applied to, with an open connection the caller closes. */
export interface RestoreTarget {
  readonly instance: DbInstance;
  readonly connection: SqlConnection;
  /** Why this instance, for logs and events. */
  readonly why: string;
}

/** Schemas every server has; they never make a target "not empty". */
export const SYSTEM_SCHEMAS = ['mysql', 'information_schema', 'performance_schema', 'sys'] as const;

/** Chooses the instance to restore into and connects to it; ConnectionFailedError saying what to fix otherwise. */
export async function chooseRestoreTarget(
  topology: Topology,
  instances: readonly DbInstance[],
  probe: Probe,
): Promise<RestoreTarget> {
  if (topology === 'galera') return firstSynced(instances, probe);
  const instance = writerOf(instances);
  const why = topology === 'replication' ? 'the writer; replicas follow it' : 'the only instance';
  return { instance, connection: await connect(instance, probe), why };
}

async function connect(instance: DbInstance, probe: Probe): Promise<SqlConnection> {
  try {
    return await probe(instance);
  } catch (err) {
    if (err instanceof WorkFailure) throw err;
    const said = messageOf(err);
    throw new ConnectionFailedError(
      `cannot connect to the restore target ${instance.name} (${address(instance)}): ${said}; check that the database server is running and accepts connections`,
      { cause: err },
    );
  }
}

/**
 * The first member (in the Cluster's order) that reports Synced. Members are tried one at a time,
 * so a healthy first member costs one connection. Access denied ends the search at once: every
 * member shares the credentials, and the message says which Secret to fix.
 */
async function firstSynced(instances: readonly DbInstance[], probe: Probe): Promise<RestoreTarget> {
  const states: string[] = [];
  for (const instance of instances) {
    let connection: SqlConnection;
    try {
      connection = await connect(instance, probe);
    } catch (err) {
      if (isCredentialFailure(err)) throw err;
      states.push(`${instance.name} unreachable (${messageOf(err)})`);
      continue;
    }
    const state = await galeraState(connection);
    if (isSynced({ instance, status: { wsrep_local_state_comment: state } })) {
      return { instance, connection, why: 'the first Synced Galera member' };
    }
    await connection.close();
    states.push(`${instance.name} ${state}`);
  }
  throw new ConnectionFailedError(
    `no Galera member of the restore target is Synced: ${states.join('; ')}; wait until one member is Synced (a joining member finishes its state transfer first), then the restore runs`,
  );
}

async function galeraState(connection: SqlConnection): Promise<string> {
  try {
    const status = await readGaleraStatus(connection);
    return status['wsrep_local_state_comment'] ?? '(not a Galera member: wsrep_local_state_comment absent)';
  } catch (err) {
    return `(status query failed: ${messageOf(err)})`;
  }
}

function isCredentialFailure(err: unknown): boolean {
  // connectionFailure keeps the driver's error code on its cause.
  return err instanceof ConnectionFailedError && isAccessDenied(err.cause);
}

/** The target's own databases: every schema but the system ones and Lifeboat's marker schema. */
export async function userDatabases(conn: SqlConnection): Promise<string[]> {
  const rows = await conn.query(
    'SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN (?) ORDER BY SCHEMA_NAME',
    [[...SYSTEM_SCHEMAS, MARKER_SCHEMA, KEPT_SCHEMA]],
  );
  return rows.map((r) => String(r['name']));
}

export interface EmptyCheck {
  /** spec.overwrite: restore over what the target holds. */
  readonly overwrite: boolean;
  /** The target as messages name it, e.g. "db-1 (10.0.0.5:3306)". */
  readonly where: string;
}

/**
 * Refuses a target that holds databases (TargetNotEmptyError) unless overwrite is set. Returns
 * the databases found, so the caller can log what an overwrite restores over.
 */
export async function assertTargetEmpty(conn: SqlConnection, check: EmptyCheck): Promise<string[]> {
  const found = await userDatabases(conn);
  if (found.length > 0 && !check.overwrite) {
    throw new TargetNotEmptyError(
      `the target ${check.where} already holds databases ${found.join(', ')}; restore into an empty server, or set spec.overwrite: true to restore over them (tables in the backup replace tables of the same name)`,
    );
  }
  return found;
}

/**
 * The lock that makes restores into one server take turns, whichever Cluster object names it: the
 * runner serializes the restores of one Cluster, but two Clusters (in two namespaces, say) may
 * name the same host and port. The server releases it when the worker's connection goes.
 */
export const RESTORE_LOCK = 'lifeboat-restore';
/**
 * Held by the SQL client's own session while it applies (sql-apply's sessionLock): it may outlive
 * the worker that held RESTORE_LOCK (the server finishes a statement in flight), so the next
 * restore waits for both.
 */
export const APPLY_LOCK = 'lifeboat-apply';
const RESTORE_LOCK_RETRY_MS = 2_000;

export interface TargetLockOptions {
  readonly signal: AbortSignal;
  /** Called once, when another restore holds the lock. */
  readonly onWait: () => void;
  readonly retryMs?: number;
}

/** Waits until no other restore applies to this server, then holds it for this one's connection. */
export async function lockTargetForRestore(conn: SqlConnection, opts: TargetLockOptions): Promise<void> {
  let held = false;
  for (let waited = false; ; waited = true) {
    if (!held) held = Number((await conn.query('SELECT GET_LOCK(?, 0) AS got', [RESTORE_LOCK]))[0]?.['got']) === 1;
    const applying = held && (await conn.query('SELECT IS_FREE_LOCK(?) AS free', [APPLY_LOCK]))[0]?.['free'];
    if (held && Number(applying) === 1) return;
    if (!waited) opts.onWait();
    await delay(opts.retryMs ?? RESTORE_LOCK_RETRY_MS, undefined, { signal: opts.signal });
  }
}
