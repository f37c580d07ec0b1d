// Connections to one instance over mysql2: a small interface (so the health logic can be tested
// with fakes) and failures that say what to fix.
import { authPlugins, type ConnectionOptions } from 'mysql2';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { ConnectionFailedError } from '../work-failures.js';
import { address, type DbInstance } from './instance-list.js';
import { scrubSecrets } from './secret-scrub.js';

/** The account Lifeboat connects with; the caller reads it from the Cluster's Secret. */
export interface DbCredentials {
  readonly user: string;
  readonly password: string;
  /** spec.credentials.tls with its Secrets read: when set, no connection authenticates without TLS. */
  readonly tls?: DbTls;
}

/** The TLS material of spec.credentials.tls, PEM text read from its Secrets. */
export interface DbTls {
  /** CA bundle that signs the server certificate; the system CAs when absent. */
  readonly ca?: string;
  /** Client certificate and key, for accounts that REQUIRE X509. */
  readonly cert?: string;
  readonly key?: string;
  /** Check the server certificate's chain and that it names the host connected to (false: insecureSkipVerify). */
  readonly verify: boolean;
  /** The Cluster whose spec asks for TLS, for messages. */
  readonly cluster: string;
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
// mysql2 refuses TLS it cannot have with these codes, before it sends any credentials.
const NO_TLS = new Set(['HANDSHAKE_NO_SSL_SUPPORT']);
// Node's codes for a server certificate that is not trusted here, or does not name the host.
// mysql2 replaces them with HANDSHAKE_SSL_ERROR and keeps Node's message, which says as much.
const UNTRUSTED_TEXT = /certificate|altnames|self[- ]signed|unable to verify/i;
const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
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
  const fix = failureFix(instance, err, credentials, credentialsSource);
  // The driver's error may quote the server; keep only its scrubbed text and its code.
  const cause = Object.assign(new Error(said), code === '' ? {} : { code });
  return new ConnectionFailedError(`cannot connect to ${where} as '${credentials.user}': ${said}; ${fix}`, { cause });
}

function failureFix(instance: DbInstance, err: unknown, credentials: DbCredentials, credentialsSource: string): string {
  const code = errorCode(err);
  const tls = credentials.tls;
  let fix: string;
  if (instance.host === '') fix = 'the pod has no IP yet; wait until it runs';
  else if (tls && NO_TLS.has(code))
    fix = `Cluster ${tls.cluster} sets spec.credentials.tls but the server offers no TLS, so Lifeboat did not log in; enable TLS on the server (ssl-ca, ssl-cert, ssl-key) or remove spec.credentials.tls`;
  else if (tls && isUntrusted(code, err))
    fix = `the server's certificate is not trusted for this address, so Lifeboat did not log in; set spec.credentials.tls.caSecretRef of Cluster ${tls.cluster} to the CA that signs it, and make the certificate name ${instance.host}`;
  else if (err instanceof PlaintextAuthRefusedError) fix = plaintextFix(instance);
  else if (isAccessDenied(err))
    fix = `check the username and password keys of ${credentialsSource} and that user '${credentials.user}' may connect from this host`;
  else if (UNREACHABLE.has(code))
    fix = 'check the instance host and port in the Cluster and that the database server is running';
  else fix = 'check that the database server is running and accepts connections';
  return fix;
}

function isUntrusted(code: string, err: unknown): boolean {
  if (UNTRUSTED.has(code)) return true;
  return code === 'HANDSHAKE_SSL_ERROR' && err instanceof Error && UNTRUSTED_TEXT.test(err.message);
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
      ...secureOptions(credentials.tls),
    });
  } catch (err) {
    throw connectionFailure(instance, err, credentials, options.credentialsSource);
  }
  return wrap(conn, options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS);
}

/**
 * With spec.credentials.tls: TLS is required (mysql2 fails before sending credentials when the
 * server offers none), the CA and client certificate are the Cluster's, and the certificate must
 * name the host. Without it: the password is never sent under an RSA key the server hands out,
 * which anyone between us and the server could have swapped (docs/runner.md, "Database TLS").
 */
export function secureOptions(tls: DbTls | undefined): Pick<ConnectionOptions, 'ssl' | 'authPlugins'> {
  if (!tls) return { authPlugins: PLAINTEXT_AUTH_PLUGINS };
  return {
    ssl: {
      ...(tls.ca === undefined ? {} : { ca: tls.ca }),
      ...(tls.cert === undefined ? {} : { cert: tls.cert }),
      ...(tls.key === undefined ? {} : { key: tls.key }),
      rejectUnauthorized: tls.verify,
      verifyIdentity: tls.verify,
    },
  };
}

/** What the plain-connection auth plugins raise instead of sending the password (mysql2 sets its own code). */
class PlaintextAuthRefusedError extends Error {}
const PERFORM_FULL_AUTHENTICATION = 4;

function plaintextRefused(plugin: string): Error {
  return new PlaintextAuthRefusedError(
    `the server asked for the password itself (${plugin}) over an unencrypted connection; Lifeboat did not send it`,
  );
}

function plaintextFix(instance: DbInstance): string {
  return `use an account with mysql_native_password, or set spec.credentials.tls so the password travels inside TLS to ${instance.host}`;
}

/**
 * caching_sha2_password's scramble (its fast path) proves the password without revealing it; its
 * full path, and sha256_password always, send the password itself, under an RSA key the server
 * supplies over the same unencrypted connection. Those are refused.
 */
const PLAINTEXT_AUTH_PLUGINS: NonNullable<ConnectionOptions['authPlugins']> = {
  caching_sha2_password: (meta) => {
    const standard = authPlugins.caching_sha2_password({})(meta);
    let scrambleSent = false;
    return (data) => {
      if (scrambleSent && data.length === 1 && data[0] === PERFORM_FULL_AUTHENTICATION)
        throw plaintextRefused('caching_sha2_password');
      scrambleSent = true;
      return standard(data);
    };
  },
  sha256_password: () => () => {
    throw plaintextRefused('sha256_password');
  },
};

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
