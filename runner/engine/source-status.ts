// Thin readers: one query each, turned into the plain values source-health.ts judges and the
// positions metadata.json records. MariaDB and MySQL spell some statements differently.
import type { Engine } from '../../crds/api-constants.js';
import type { SqlConnection, SqlRow } from './db-connection.js';
import { GALERA_STATUS_NAMES, type GaleraStatus, type ReplicaStatus } from './source-health.js';

/** Where the server's binary log and GTID state stood at one moment. */
export interface LogPosition {
  /** MariaDB gtid_binlog_pos or MySQL gtid_executed; absent when the server has no GTIDs. */
  readonly gtid?: string;
  /** `file:position` of SHOW MASTER STATUS; absent when binary logging is off. */
  readonly binlog?: string;
}

/** Facts about the server a backup records and the tools need. */
export interface ServerInfo {
  readonly version: string;
  /** The data directory, which mariabackup must read on this host. */
  readonly datadir: string;
}

function text(row: SqlRow | undefined, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = row?.[name];
    if (value !== undefined && value !== null) return String(value);
  }
  return undefined;
}

/** The wsrep status values of one Galera member (only those the gate reads). */
export async function readGaleraStatus(conn: SqlConnection): Promise<GaleraStatus> {
  const rows = await conn.query('SHOW GLOBAL STATUS WHERE Variable_name IN (?)', [[...GALERA_STATUS_NAMES]]);
  return Object.fromEntries(rows.map((r) => [text(r, 'Variable_name') ?? '', text(r, 'Value') ?? '']));
}

/** The wsrep_local_state_comment of one member (Synced, Donor/Desynced, Joined, ...). */
export async function readLocalState(conn: SqlConnection): Promise<string | undefined> {
  const rows = await conn.query("SHOW GLOBAL STATUS LIKE 'wsrep_local_state_comment'");
  return text(rows[0], 'Value');
}

/** The replication state of an instance, normalised over MariaDB's and MySQL's column names. */
export async function readReplicaStatus(conn: SqlConnection): Promise<ReplicaStatus> {
  // SHOW REPLICA STATUS exists in MariaDB ≥ 10.5.1 and MySQL ≥ 8.0.22; SHOW SLAVE STATUS is gone in 8.4.
  const rows = await conn.query('SHOW REPLICA STATUS');
  return replicaStatusFromRow(rows[0]);
}

/** Pure half of readReplicaStatus: one SHOW REPLICA STATUS row (or none) as a ReplicaStatus. */
export function replicaStatusFromRow(row: SqlRow | undefined): ReplicaStatus {
  if (!row) return { configured: false, ioRunning: false, sqlRunning: false, lagSeconds: null };
  const lag = text(row, 'Seconds_Behind_Master', 'Seconds_Behind_Source');
  return {
    configured: true,
    ioRunning: text(row, 'Slave_IO_Running', 'Replica_IO_Running') === 'Yes',
    sqlRunning: text(row, 'Slave_SQL_Running', 'Replica_SQL_Running') === 'Yes',
    lagSeconds: lag === undefined || lag === '' ? null : Number(lag),
  };
}

export async function readServerInfo(conn: SqlConnection): Promise<ServerInfo> {
  const rows = await conn.query('SELECT VERSION() AS version, @@datadir AS datadir');
  return { version: text(rows[0], 'version') ?? 'unknown', datadir: text(rows[0], 'datadir') ?? '' };
}

/** The current GTID and binlog position, read before a backup starts. */
export async function readLogPosition(conn: SqlConnection, engine: Engine): Promise<LogPosition> {
  const gtidSql = engine === 'mariadb' ? 'SELECT @@gtid_binlog_pos AS gtid' : 'SELECT @@gtid_executed AS gtid';
  const gtid = text((await conn.query(gtidSql))[0], 'gtid');
  const status = await binlogStatus(conn, engine);
  const file = text(status, 'File');
  const pos = text(status, 'Position');
  return {
    ...(gtid ? { gtid: gtid.replace(/\s+/g, '') } : {}),
    ...(file && pos ? { binlog: `${file}:${pos}` } : {}),
  };
}

async function binlogStatus(conn: SqlConnection, engine: Engine): Promise<SqlRow | undefined> {
  if (engine === 'mariadb') return (await conn.query('SHOW MASTER STATUS'))[0];
  // MySQL 8.4 removed SHOW MASTER STATUS; 8.0 before 8.2 lacks its replacement.
  try {
    return (await conn.query('SHOW BINARY LOG STATUS'))[0];
  } catch {
    return (await conn.query('SHOW MASTER STATUS'))[0];
  }
}
