// The private option file a database tool reads its password from, and the TLS files beside it.
// The password is never an argument (ps shows those) nor in the environment (MYSQL_PWD is
// deprecated and /proc/<pid>/environ outlives our intent); it sits in a 0600 file in a 0700
// directory of its own, removed when the tool has ended, also after a failure or an abort, and
// by the next worker when this one was killed outright (worker-dirs.ts).
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DbCredentials } from './db-connection.js';
import { makeWorkerDir } from './worker-dirs.js';

/** The TLS files of spec.credentials.tls as the tools take them. */
export interface ToolTlsFiles {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly verify: boolean;
}

/** What a tool's command line needs: the option file (its first argument) and the TLS files. */
export interface ToolOptions {
  readonly optionsFile: string;
  readonly tls?: ToolTlsFiles;
  /**
   * Without TLS: an empty directory the MariaDB tools must load client plugins from. The plugins
   * that send the password itself (dialog, mysql_clear_password, sha256_password and
   * caching_sha2_password's RSA exchange) are all loadable ones, so a server that switches to one
   * gets a failed login instead; mysql_native_password is built in.
   */
  readonly pluginDir?: string;
}

/** ToolOptions written to disk; remove() deletes the directory and everything in it. */
export interface WrittenToolOptions extends ToolOptions {
  remove(): Promise<void>;
}

/**
 * The option file's text. [client] is read by every MariaDB and MySQL client, mariabackup and
 * xtrabackup included. The value is quoted and escaped, so no character of the password can end
 * the line or start a comment.
 */
export function optionFileText(password: string): string {
  return `[client]\npassword="${escapeOptionValue(password)}"\n`;
}

function escapeOptionValue(value: string): string {
  return value
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r')
    .replace(/\t/g, '\\t');
}

const PRIVATE_FILE = { mode: 0o600, flag: 'wx' } as const;

/** Writes the option file (and the TLS files) into a new private directory under `parent`. */
export async function writeToolOptions(credentials: DbCredentials, parent = tmpdir()): Promise<WrittenToolOptions> {
  const dir = await makeWorkerDir(parent, 'lifeboat-tool-');
  const remove = (): Promise<void> => rm(dir, { recursive: true, force: true });
  try {
    await chmod(dir, 0o700);
    const optionsFile = join(dir, 'client.cnf');
    await writeFile(optionsFile, optionFileText(credentials.password), PRIVATE_FILE);
    const tls = credentials.tls;
    if (!tls) {
      const pluginDir = join(dir, 'no-plugins');
      await mkdir(pluginDir, { mode: 0o700 });
      return { optionsFile, pluginDir, remove };
    }
    const file = async (name: string, pem: string | undefined): Promise<string | undefined> => {
      if (pem === undefined) return undefined;
      await writeFile(join(dir, name), pem, PRIVATE_FILE);
      return join(dir, name);
    };
    const [ca, cert, key] = [
      await file('ca.pem', tls.ca),
      await file('cert.pem', tls.cert),
      await file('key.pem', tls.key),
    ];
    const files: ToolTlsFiles = {
      verify: tls.verify,
      ...(ca ? { ca } : {}),
      ...(cert ? { cert } : {}),
      ...(key ? { key } : {}),
    };
    return { optionsFile, tls: files, remove };
  } catch (err) {
    await remove();
    throw err;
  }
}

/** Runs `fn` with the tool options written, and removes them when it settles, however it settles. */
export async function withToolOptions<T>(
  credentials: DbCredentials,
  fn: (options: ToolOptions) => Promise<T>,
  parent?: string,
): Promise<T> {
  const options = await writeToolOptions(credentials, parent);
  try {
    return await fn(options);
  } finally {
    await options.remove();
  }
}
