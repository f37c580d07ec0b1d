// Connections to one instance over mysql2: a small interface (so the health logic can be tested
// with fakes) and failures that say what to fix.
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { ConnectionFailedError } from '../work-failures.js';
import { address, type DbInstance } from './instance-list.js';
import { scrubSecrets } from './secret-scrub.js';

/** The account Lifeboat connects with; the caller reads it from the Cluster's Secret. */
export interface DbCredentials {
  readonly user: string;
  readonly password: string;
}

export type SqlRow = Readonly<Record<string, unknown>>;

/** What the engine needs of a connection: statements in, rows out. */
export interface SqlConnection {
  /** Rows of a result set; an empty list for statements without one (SET, ...). */
  query(sql: string, values?: readonly unknown[]): Promise<SqlRow[]>;
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** Give up connecting after this long; default 5 s, so a dead member does not stall the health check. */
  readonly connectTimeoutMs?: number;
  /** Per-query limit; default 30 s. */
  readonly queryTimeoutMs?: number;
  /** Where the credentials come from, for messages, e.g. "Secret shop-db (keys username/password)". */
  readonly credentialsSource?: string;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_QUERY_TIMEOUT_MS = 30_000;

const ACCESS_DENIED = new Set([
  'ER_ACCESS_DENIED_ERROR',
  'ER_DBACCESS_DENIED_ERROR',
  'ER_ACCESS_DENIED_NO_PASSWORD_ERROR',
]);
const UNREACHABLE = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/** Whether a connection failure is the credentials' fault rather than the server's. */
export function isAccessDenied(err: unknown): boolean {
  return ACCESS_DENIED.has(errorCode(err));
}

function errorCode(err: unknown): string {
  if (typeof err !== 'object' || err === null) return '';
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : '';
}

/** The ConnectionFailedError for a failed connect, with the fix; never contains the password. */
export function connectionFailure(
  instance: DbInstance,
  err: unknown,
  credentials: DbCredentials,
  credentialsSource = "the Cluster's credentials Secret",
): ConnectionFailedError {
  const where = `instance ${instance.name} (${address(instance)})`;
  const said = scrubSecrets(err instanceof Error ? err.message : String(err), [credentials.password]);
  const code = errorCode(err);
  let fix: string;
  if (instance.host === '') fix = 'the pod has no IP yet; wait until it runs';
  else if (isAccessDenied(err))
    fix = `check the username and password keys of ${credentialsSource} and that user '${credentials.user}' may connect from this host`;
  else if (UNREACHABLE.has(code))
    fix = 'check the instance host and port in the Cluster and that the database server is running';
  else fix = 'check that the database server is running and accepts connections';
  // The driver's error may quote the server; keep only its scrubbed text and its code.
  const cause = Object.assign(new Error(said), code === '' ? {} : { code });
  return new ConnectionFailedError(`cannot connect to ${where} as '${credentials.user}': ${said}; ${fix}`, { cause });
}

/** Connects to one instance; any failure becomes a ConnectionFailedError naming it and the fix. */
export async function connectInstance(
  instance: DbInstance,
  credentials: DbCredentials,
  options: ConnectOptions = {},
): Promise<SqlConnection> {
  if (instance.host === '') throw connectionFailure(instance, new Error('no address'), credentials);
  let conn: Connection;
  try {
    conn = await createConnection({
      host: instance.host,
      port: instance.port,
      user: credentials.user,
      password: credentials.password,
      connectTimeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      multipleStatements: false,
      supportBigNumbers: true,
      bigNumberStrings: true,
    });
  } catch (err) {
    throw connectionFailure(instance, err, credentials, options.credentialsSource);
  }
  return wrap(conn, options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS);
}

function wrap(conn: Connection, timeout: number): SqlConnection {
  // mysql2 emits 'error' when the server drops an idle connection; unhandled, that would end the
  // worker. The next query on it fails anyway and reports the problem where it matters.
  conn.on('error', () => undefined);
  return {
    async query(sql, values) {
      const [rows] = await conn.query<RowDataPacket[]>({ sql, timeout, values: values ? [...values] : undefined });
      return Array.isArray(rows) ? (rows as SqlRow[]) : [];
    },
    async close() {
      try {
        await conn.end();
      } catch {
        conn.destroy(); // already broken: nothing left to say goodbye to
      }
    },
  };
}
