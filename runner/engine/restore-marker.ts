// Which restores a target has taken, recorded in the target itself. A GitOps tool re-applies the
// same Restore manifest after a cluster rebuild or a move, with its status gone; only the data
// can tell that this restore already ran, so that a second run does not overwrite what was
// written since. The rows travel with the data: a later backup of this target carries them, and
// a Cluster rebuilt from that backup still knows the Restore in Git was applied.
import { randomBytes } from 'node:crypto';
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

async function createMarkerTable(conn: SqlConnection): Promise<void> {
  await conn.query(`CREATE DATABASE IF NOT EXISTS \`${MARKER_SCHEMA}\``);
  await conn.query(CREATE_TABLE);
}

async function writeMarkers(conn: SqlConnection, rows: readonly AppliedRestore[]): Promise<void> {
  await createMarkerTable(conn);
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
 * not make the target forget the restores it took earlier. A worker killed outright (SIGKILL, a
 * lost node) writes nothing back, so the records are also kept in a table of this restore's own
 * (keptTable), which recoverKeptMarkers writes back on the next restore into the target.
 */
export async function withMarkersKept<T>(
  conn: SqlConnection,
  record: AppliedRestore,
  apply: () => Promise<T>,
): Promise<T> {
  const carried = await readMarkers(conn);
  // Made before the apply: an account that may not create it fails the restore before a byte is
  // applied, not after the whole dump, unrecorded.
  await createMarkerTable(conn);
  const kept = carried.length > 0 ? await keepMarkers(conn, record.restoreUid) : undefined;
  let result: T;
  try {
    result = await apply();
  } catch (err) {
    // Best effort: when the connection is what failed, this fails too, and `err` says why.
    await writeMarkers(conn, carried)
      .then(() => kept && dropKept(conn, kept))
      .catch(() => undefined);
    throw err;
  }
  await recordApplied(conn, record, carried);
  if (kept) await dropKept(conn, kept);
  return result;
}

/**
 * Where kept copies go: not MARKER_SCHEMA, which a dump made with --add-drop-database drops with
 * everything in it; a source's dump carries this schema only if a copy there was never written back.
 */
export const KEPT_SCHEMA = 'lifeboat_kept';
const KEPT_PREFIX = 'kept_';

/** The name of the table a restore keeps the records in, and of the lock that says its worker lives. */
interface Kept {
  readonly table: string;
  readonly lock: string;
}

function keptOf(table: string): Kept {
  return { table, lock: `lifeboat-${table}` };
}

/**
 * A copy of the records under a name of this restore's own (its uid), which no dump can carry,
 * held with a named lock on this connection: the server releases it when the worker's connection
 * goes, however the worker ended.
 */
async function keepMarkers(conn: SqlConnection, restoreUid: string): Promise<Kept> {
  const id = (restoreUid.replace(/[^0-9a-f]/gi, '') || randomBytes(16).toString('hex')).slice(0, 40).toLowerCase();
  const kept = keptOf(`${KEPT_PREFIX}${id}`);
  const table = keptTable(kept);
  await conn.query('SELECT GET_LOCK(?, 0) AS got', [kept.lock]);
  await conn.query(`CREATE DATABASE IF NOT EXISTS \`${KEPT_SCHEMA}\``);
  await conn.query(`DROP TABLE IF EXISTS ${table}`);
  await conn.query(`CREATE TABLE ${table} LIKE ${TABLE}`);
  await conn.query(`INSERT INTO ${table} SELECT * FROM ${TABLE}`);
  return kept;
}

function keptTable(kept: Kept): string {
  return `\`${KEPT_SCHEMA}\`.\`${kept.table}\``;
}

async function dropKept(conn: SqlConnection, kept: Kept): Promise<void> {
  await conn.query(`DROP TABLE IF EXISTS ${keptTable(kept)}`);
  await conn.query('SELECT RELEASE_LOCK(?) AS released', [kept.lock]);
}

/**
 * Writes back the records a restore killed mid-apply had kept (its dump may have replaced them
 * with the source's), the target's own rows winning as in recordApplied; a copy whose lock is
 * still held belongs to a restore that is still applying, and is left alone. Returns how many
 * copies were written back. Called before a restore asks whether it was applied before.
 */
export async function recoverKeptMarkers(conn: SqlConnection): Promise<number> {
  const tables = await selectOrNone(
    conn,
    'SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME LIKE ?',
    [KEPT_SCHEMA, `${KEPT_PREFIX.replace('_', '\\_')}%`],
  );
  let recovered = 0;
  for (const row of tables) {
    const kept = keptOf(String(row['name']));
    const [held] = await conn.query('SELECT IS_USED_LOCK(?) AS holder', [kept.lock]);
    if (held?.['holder'] !== null && held?.['holder'] !== undefined) continue;
    await conn.query(`CREATE DATABASE IF NOT EXISTS \`${MARKER_SCHEMA}\``);
    await conn.query(CREATE_TABLE);
    await conn.query(`REPLACE INTO ${TABLE} SELECT * FROM ${keptTable(kept)}`);
    await conn.query(`DROP TABLE IF EXISTS ${keptTable(kept)}`);
    recovered++;
  }
  return recovered;
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
