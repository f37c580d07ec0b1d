// Which restores a target has taken, recorded in the target itself. A GitOps tool re-applies the
// same Restore manifest after a cluster rebuild or a move, with its status gone; only the data
// can tell that this restore already ran, so that a second run does not overwrite what was
// written since. The rows travel with the data: a later backup of this target carries them, and
// a Cluster rebuilt from that backup still knows the Restore in Git was applied.
import type { SqlConnection, SqlRow } from './db-connection.js';

/** Lifeboat's own schema in a target; never counted as user data. */
export const MARKER_SCHEMA = 'lifeboat';
export const MARKER_TABLE = 'applied_restores';
const TABLE = `\`${MARKER_SCHEMA}\`.\`${MARKER_TABLE}\``;

/** One restore applied to a target. */
export interface AppliedRestore {
  /** `<namespace>/<restore-name>` for a Restore, `cluster:<namespace>/<cluster-name>` for a bootstrap. */
  readonly key: string;
  readonly backupId: string;
  /** The archive's verified SHA-256, hex. */
  readonly sha256: string;
  /** Where the archive was read from, e.g. `s3://bucket/path/shop/shop-1/20250101T000000Z/backup.sql.gz`. */
  readonly source: string;
  /** ISO 8601, UTC, millisecond precision. */
  readonly appliedAt: string;
  /** The uid of the Restore (or Cluster) object that applied it. */
  readonly restoreUid: string;
}

// ascii keys: Kubernetes names are; utf8mb4 would quadruple the index. InnoDB, so Galera
// replicates the rows (it does not replicate Aria or MyISAM).
const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS ${TABLE} (
  restore_key VARCHAR(400) CHARACTER SET ascii NOT NULL PRIMARY KEY,
  backup_id VARCHAR(253) NOT NULL,
  sha256 CHAR(64) CHARACTER SET ascii NOT NULL,
  source VARCHAR(2048) NOT NULL,
  applied_at DATETIME(3) NOT NULL,
  restore_uid VARCHAR(64) CHARACTER SET ascii NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`;

const SELECT_COLUMNS = `restore_key, backup_id, sha256, source, DATE_FORMAT(applied_at, '%Y-%m-%dT%H:%i:%s.%f') AS applied_at, restore_uid`;

// ER_BAD_DB_ERROR, ER_NO_SUCH_TABLE: a target no restore was recorded in.
const ABSENT = new Set(['ER_BAD_DB_ERROR', 'ER_NO_SUCH_TABLE']);

/** The record of the restore with this key, or undefined when the target has none. */
export async function appliedRestore(conn: SqlConnection, key: string): Promise<AppliedRestore | undefined> {
  const rows = await selectOrNone(conn, `SELECT ${SELECT_COLUMNS} FROM ${TABLE} WHERE restore_key = ?`, [key]);
  return rows[0] ? fromRow(rows[0]) : undefined;
}

/** Every record in the target, oldest first; read before a restore, whose dump may replace the table. */
export async function readMarkers(conn: SqlConnection): Promise<AppliedRestore[]> {
  return (await selectOrNone(conn, `SELECT ${SELECT_COLUMNS} FROM ${TABLE} ORDER BY applied_at, restore_key`)).map(
    fromRow,
  );
}

/**
 * Records `record` after a restore, and writes back `carried` (what readMarkers read before it):
 * an --all-databases dump of a server that was itself restored once holds a `lifeboat` schema
 * and replays DROP TABLE for it. Rows the dump brought stay too (see the file comment); for the
 * same key, the target's own row wins over the dump's, and `record` over both. One transaction.
 */
export async function recordApplied(
  conn: SqlConnection,
  record: AppliedRestore,
  carried: readonly AppliedRestore[],
): Promise<void> {
  await writeMarkers(conn, [...carried.filter((c) => c.key !== record.key), record]);
}

async function writeMarkers(conn: SqlConnection, rows: readonly AppliedRestore[]): Promise<void> {
  await conn.query(`CREATE DATABASE IF NOT EXISTS \`${MARKER_SCHEMA}\``);
  await conn.query(CREATE_TABLE);
  await conn.query('START TRANSACTION');
  try {
    for (const row of rows) {
      await conn.query(`REPLACE INTO ${TABLE} VALUES (?, ?, ?, ?, ?, ?)`, [
        row.key,
        row.backupId,
        row.sha256,
        row.source,
        toDatetime(row.appliedAt),
        row.restoreUid,
      ]);
    }
    await conn.query('COMMIT');
  } catch (err) {
    await conn.query('ROLLBACK').catch(() => undefined); // the connection may be the thing that broke
    throw err;
  }
}

/**
 * Runs `apply` (the restore) between reading the target's records and writing them back with
 * `record`; the usual way to call the functions above. When `apply` fails, the records read
 * before are written back without `record`: a dump that stopped after replaying DROP TABLE must
 * not make the target forget the restores it took earlier.
 */
export async function withMarkersKept<T>(
  conn: SqlConnection,
  record: AppliedRestore,
  apply: () => Promise<T>,
): Promise<T> {
  const carried = await readMarkers(conn);
  let result: T;
  try {
    result = await apply();
  } catch (err) {
    // Best effort: when the connection is what failed, this fails too, and `err` says why.
    await writeMarkers(conn, carried).catch(() => undefined);
    throw err;
  }
  await recordApplied(conn, record, carried);
  return result;
}

async function selectOrNone(conn: SqlConnection, sql: string, values?: readonly unknown[]): Promise<SqlRow[]> {
  try {
    return await conn.query(sql, values);
  } catch (err) {
    if (ABSENT.has(errorCode(err))) return [];
    throw err;
  }
}

function errorCode(err: unknown): string {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : '';
}

function fromRow(row: SqlRow): AppliedRestore {
  return {
    key: String(row['restore_key']),
    backupId: String(row['backup_id']),
    sha256: String(row['sha256']),
    source: String(row['source']),
    // DATE_FORMAT's %f has six digits; an ISO timestamp has three.
    appliedAt: `${String(row['applied_at']).slice(0, 23)}Z`,
    restoreUid: String(row['restore_uid']),
  };
}

/** `2025-01-02T03:04:05.678Z` → `2025-01-02 03:04:05.678`, the DATETIME literal, in UTC. */
function toDatetime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) throw new Error(`appliedAt ${iso} is not an ISO 8601 timestamp`);
  return date.toISOString().replace('T', ' ').replace('Z', '');
}
