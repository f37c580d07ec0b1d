// The command line of each backup tool and of the SQL client a logical restore feeds, and where
// each is. Argument building is pure; the password is never an argument nor in the environment:
// it is in the private option file every command line starts with (tool-options.ts).
import { execFileSync } from 'node:child_process';
import { accessSync, constants, realpathSync } from 'node:fs';
import { basename, delimiter, join } from 'node:path';
import { isPhysicalMethod, type BackupMethod, type Engine } from '../../crds/api-constants.js';
import { methodProblem } from '../../policies/safety-policies.js';
import { UnsupportedMethodError } from '../work-failures.js';
import type { DbInstance } from './instance-list.js';
import type { ToolOptions, ToolTlsFiles } from './tool-options.js';

export type ArchiveFormat = 'sql' | 'xbstream';

/** The binaries that implement a method, the preferred name first. */
export const TOOL_BINARIES: Readonly<Record<BackupMethod, readonly string[]>> = {
  'mariadb-dump': ['mariadb-dump'],
  mysqldump: ['mysqldump'],
  mariabackup: ['mariabackup', 'mariadb-backup'],
  xtrabackup: ['xtrabackup'],
};

export const isPhysical: (method: BackupMethod) => boolean = isPhysicalMethod;

export function archiveFormat(method: BackupMethod): ArchiveFormat {
  return isPhysical(method) ? 'xbstream' : 'sql';
}

/** Refuses a method the engine cannot be backed up with, by the same rule the admission policy applies. */
export function checkMethod(method: BackupMethod, engine: Engine, version?: string): void {
  const problem = methodProblem(method, engine, version);
  if (problem) throw new UnsupportedMethodError(problem);
}

/**
 * The absolute path of the method's binary for `engine`; UnsupportedMethodError naming the missing
 * binary otherwise.
 */
export function findTool(method: BackupMethod, engine: Engine, path: string = process.env['PATH'] ?? ''): string {
  const names = TOOL_BINARIES[method];
  // mysqldump is a name both vendors ship, with options that differ (--gtid, --source-data):
  // Debian's MariaDB client links it to mariadb-dump. The other names belong to one vendor.
  const found =
    method === 'mysqldump'
      ? findForEngine(names, engine, path, `method mysqldump against ${engine}`)
      : findBinary(names, path);
  if (found) return found;
  throw new UnsupportedMethodError(
    `method ${method} needs the ${names.join(' or ')} binary, which is not installed here (PATH=${path}); install it in the worker image or choose another method`,
  );
}

/** The SQL client a logical restore streams into, per engine, the preferred name first. */
export const CLIENT_BINARIES: Readonly<Record<Engine, readonly string[]>> = {
  // Debian's mariadb-client installs both names; newer MariaDB releases warn when called mysql.
  mariadb: ['mariadb', 'mysql'],
  mysql: ['mysql'],
  'percona-xtradb': ['mysql'],
};

/** The absolute path of the engine's SQL client; UnsupportedMethodError naming the missing binary otherwise. */
export function findClient(engine: Engine, path: string = process.env['PATH'] ?? ''): string {
  const names = CLIENT_BINARIES[engine];
  // The client is given the engine's TLS options (--ssl-mode for MySQL), which the other vendor's refuses.
  const found = findForEngine(names, engine, path, `a logical restore into ${engine}`);
  if (found) return found;
  throw new UnsupportedMethodError(
    `a logical restore into ${engine} needs the ${names.join(' or ')} client, which is not installed here (PATH=${path}); install it in the worker image`,
  );
}

const VENDOR: Readonly<Record<Engine, string>> = {
  mariadb: "MariaDB's",
  mysql: "MySQL's",
  'percona-xtradb': "MySQL's or Percona's",
};

/**
 * The first of `names` on `path` built by the engine's vendor; UnsupportedMethodError when only the
 * other vendor's is there (a MariaDB image running a MySQL Cluster's backup, say); undefined when
 * there is none at all.
 */
function findForEngine(names: readonly string[], engine: Engine, path: string, work: string): string | undefined {
  const wantMariaDb = engine === 'mariadb';
  const found = findBinary(names, path, (file) => isMariaDbBuild(file) === wantMariaDb);
  if (found) return found;
  const other = findBinary(names, path);
  if (!other) return undefined;
  const advice = wantMariaDb
    ? "put MariaDB's first on PATH in the worker image"
    : "add MySQL's client to the worker image (docs/image.md)";
  throw new UnsupportedMethodError(
    `${work} needs ${VENDOR[engine]} ${basename(other)}; ${other} here is ${wantMariaDb ? "MySQL's" : "MariaDB's"}, whose options differ; ${advice}`,
  );
}

/**
 * Whether a tool is MariaDB's: by the name it resolves to (Debian's mysqldump → mariadb-dump), else
 * by what its --version says ("Distrib 10.11.19-MariaDB"), for a copy or an older layout.
 */
function isMariaDbBuild(file: string): boolean {
  let real: string;
  try {
    real = realpathSync(file);
  } catch {
    return false;
  }
  if (basename(real).startsWith('mariadb')) return true;
  try {
    const version = execFileSync(real, ['--version'], {
      encoding: 'utf8',
      env: toolEnv(),
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 5_000,
    });
    return /MariaDB/i.test(version);
  } catch {
    return false;
  }
}

/** The first executable of `names` on `path` (that `accept` takes, if given). */
export function findBinary(
  names: readonly string[],
  path: string,
  accept: (file: string) => boolean = () => true,
): string | undefined {
  const dirs = path.split(delimiter).filter((d) => d !== '');
  for (const name of names) {
    for (const dir of dirs) {
      const candidate = join(dir, name);
      if (isExecutable(candidate) && accept(candidate)) return candidate;
    }
  }
  return undefined;
}

export function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface CommandInput {
  readonly method: BackupMethod;
  readonly engine: Engine;
  readonly instance: DbInstance;
  readonly user: string;
  /** The private option file with the password, and the TLS files (writeToolOptions). */
  readonly options: ToolOptions;
  /** Physical methods: the server's data directory (SELECT @@datadir) and a private scratch directory. */
  readonly datadir?: string;
  readonly targetDir?: string;
  /** Record the Galera state (--galera-info). */
  readonly galera?: boolean;
  /** The source replicates from another server: record its primary's position too (--slave-info). */
  readonly replica?: boolean;
}

/** The arguments for one backup to stdout. Contains no secret. */
export function toolArgs(input: CommandInput): string[] {
  return isPhysical(input.method) ? physicalArgs(input) : logicalArgs(input);
}

type ConnectionInput = Pick<CommandInput, 'engine' | 'instance' | 'user' | 'options'>;

/**
 * The first argument of every tool: our option file and no other. The clients take exactly one
 * of --no-defaults, --defaults-file and --defaults-extra-file, and only first; --defaults-file
 * reads that file alone, so /etc/mysql/my.cnf, ~/.my.cnf and $MYSQL_HOME are not read, as
 * --no-defaults would have it, and no stray option file can change what we connect to or with.
 */
export function optionFileArg(options: ToolOptions): string {
  return `--defaults-file=${options.optionsFile}`;
}

function connectionArgs(input: ConnectionInput): string[] {
  const args = [`--host=${input.instance.host}`, `--port=${input.instance.port}`, `--user=${input.user}`];
  const tls = input.options.tls ? tlsArgs(input.engine, input.options.tls) : [];
  if (input.engine !== 'mariadb') return [...args, ...tls];
  // MySQL's own clients neither fetch a server's RSA key nor send clear text unless told to;
  // MariaDB's load such plugins on demand, so without TLS they get none to load.
  const plugins = input.options.pluginDir && !input.options.tls ? [`--plugin-dir=${input.options.pluginDir}`] : [];
  // MariaDB's clients would take host "localhost" to mean the local socket, which may be another server.
  return [...args, '--protocol=TCP', ...plugins, ...tls];
}

/**
 * spec.credentials.tls for the tools: TLS required (a server without it is refused before the
 * login), the Cluster's CA and client certificate, and the certificate checked against the host
 * unless insecureSkipVerify. MySQL 8 clients say all of it with --ssl-mode.
 */
export function tlsArgs(engine: Engine, tls: ToolTlsFiles): string[] {
  const files = [
    ...(tls.ca ? [`--ssl-ca=${tls.ca}`] : []),
    ...(tls.cert ? [`--ssl-cert=${tls.cert}`] : []),
    ...(tls.key ? [`--ssl-key=${tls.key}`] : []),
  ];
  if (engine !== 'mariadb') return [`--ssl-mode=${tls.verify ? 'VERIFY_IDENTITY' : 'REQUIRED'}`, ...files];
  return ['--ssl', ...files, ...(tls.verify ? ['--ssl-verify-server-cert'] : [])];
}

function logicalArgs(input: CommandInput): string[] {
  // MariaDB writes the GTID (--gtid) beside the binlog position; MySQL ≥ 8.0.26 calls the latter
  // --source-data and writes GTID_PURGED by itself when GTIDs are on.
  const positions = input.engine === 'mariadb' ? ['--gtid', '--master-data=2'] : ['--source-data=2'];
  return [
    optionFileArg(input.options),
    ...connectionArgs(input),
    '--single-transaction',
    ...positions,
    '--routines',
    '--events',
    '--triggers',
    '--all-databases',
  ];
}

/** What the SQL client needs to apply a logical backup to one instance. */
export type ClientInput = ConnectionInput;

/**
 * The arguments for the SQL client that applies a dump read from stdin. Contains no secret.
 * No --force: the client stops at the first failed statement, so an error is never buried under
 * what follows it.
 */
export function clientArgs(input: ClientInput): string[] {
  return [
    optionFileArg(input.options),
    ...connectionArgs(input),
    // Dumps hold BLOBs and binary strings verbatim; without it the client refuses a NUL byte,
    // turns \r\n into \n and takes backslash commands inside the data for its own.
    '--binary-mode',
    // The client's own limit (16 MiB by default) would refuse a long row the server accepted
    // when it was dumped; the server's max_allowed_packet still applies.
    '--max-allowed-packet=1073741824',
  ];
}

function physicalArgs(input: CommandInput): string[] {
  if (!input.datadir || !input.targetDir) throw new Error(`${input.method} needs datadir and targetDir`);
  return [
    // Not the host's option files either: mariabackup asks the server for its InnoDB settings.
    optionFileArg(input.options),
    '--backup',
    '--stream=xbstream',
    `--target-dir=${input.targetDir}`,
    `--datadir=${input.datadir}`,
    ...connectionArgs(input),
    ...(input.galera ? ['--galera-info'] : []),
    ...(input.replica ? ['--slave-info'] : []),
  ];
}

const INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR'];

/**
 * The tool's environment: a few basics from ours. The rest (object store keys, kube tokens, a
 * MYSQL_PWD of our own) is not passed on; the password is in the option file.
 */
export function toolEnv(from: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of INHERITED_ENV) {
    const value = from[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}
