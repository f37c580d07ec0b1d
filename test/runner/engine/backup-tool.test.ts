// startBackupTool end to end with fake tools on a temporary PATH and a fake connection: what the
// tool is given, what comes out, and the positions reported (fake tool, fake connection).
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createLogger } from '../../../lib/logger.js';
import { startBackupTool, type BackupToolInput } from '../../../runner/engine/backup-tool.js';
import type { SqlConnection, SqlRow } from '../../../runner/engine/db-connection.js';
import { staticInstances } from '../../../runner/engine/instance-list.js';
import { DumpFailedError, UnsupportedMethodError } from '../../../runner/work-failures.js';

const PASSWORD = 'fake-tool-pw';
const [instance] = staticInstances([{ name: 'solo', host: '127.0.0.1', port: 13306 }]);

// How a fake tool got its password: the option file its first argument names (copied, with the
// modes of the file and its directory), and whether MYSQL_PWD was set at all.
const recordCredentials = (dir: string): string => `
f="\${1#--defaults-file=}"
if [ "$f" != "$1" ]; then
  cat "$f" > "${dir}/optfile"; echo "$f" > "${dir}/optpath"
  stat -c '%a' "$f" "$(dirname "$f")" | tr '\\n' ' ' > "${dir}/modes"
fi
[ -n "\${MYSQL_PWD+set}" ] && echo set > "${dir}/mysqlpwd"
`;

// Each fake tool records its arguments and how it got the password, then behaves like the tool.
const fakeDump = (dir: string): string => `#!/bin/sh
printf '%s\\n' "$@" > "${dir}/args"
${recordCredentials(dir)}
printf -- "-- MariaDB dump 10.19\\n-- CHANGE MASTER TO MASTER_LOG_FILE='mariadb-bin.000004', MASTER_LOG_POS=777;\\n"
printf "CREATE TABLE t (a int);\\n-- SET GLOBAL gtid_slave_pos='0-1-99';\\n-- Dump completed\\n"
`;
const fakeMariabackup = (dir: string): string => `#!/bin/sh
printf '%s\\n' "$@" > "${dir}/args"
${recordCredentials(dir)}
for a in "$@"; do case "$a" in --target-dir=*) [ -d "\${a#--target-dir=}" ] && echo yes > "${dir}/target";; esac; done
echo "[00] Streaming ./ibdata1" >&2
printf 'xbstream-bytes'
echo "[00] 2026-11-30 18:15:26 MySQL binlog position: filename 'mariadb-bin.000004', position '900', GTID of the last change '0-1-100'" >&2
echo "[00] completed OK!" >&2
`;

function fakeConnection(datadir: string): SqlConnection {
  const answers: [RegExp, SqlRow[]][] = [
    [/VERSION\(\)/, [{ version: '10.11.19-MariaDB-log', datadir }]],
    [/gtid_binlog_pos/, [{ gtid: '0-1-98' }]],
    [/SHOW MASTER STATUS/, [{ File: 'mariadb-bin.000004', Position: 500 }]],
  ];
  return {
    query: (sql) => Promise.resolve(answers.find(([re]) => re.test(sql))?.[1] ?? []),
    close: () => Promise.resolve(),
  };
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString();
}

describe('backup tool (fake tool, fake connection)', () => {
  let dir = '';
  let failing = '';
  let truncated = '';
  let datadir = '';

  function install(where: string, name: string, script: string): void {
    writeFileSync(join(where, name), script);
    chmodSync(join(where, name), 0o755);
  }

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-fake-tools-'));
    failing = mkdtempSync(join(tmpdir(), 'lifeboat-fake-failing-'));
    truncated = mkdtempSync(join(tmpdir(), 'lifeboat-fake-truncated-'));
    datadir = mkdtempSync(join(tmpdir(), 'lifeboat-fake-datadir-'));
    install(dir, 'mariadb-dump', fakeDump(dir));
    install(dir, 'mariabackup', fakeMariabackup(dir));
    install(
      truncated,
      'mariadb-dump',
      '#!/bin/sh\nprintf -- "-- MariaDB dump 10.19\\nCREATE TABLE t (a int);\\nINSERT INTO t VALUES (1"\n',
    );
    install(truncated, 'mariabackup', '#!/bin/sh\nprintf "xbstream-bytes"\necho "[00] Streaming ./ibdata1" >&2\n');
    install(
      failing,
      'mariadb-dump',
      `#!/bin/sh\n${recordCredentials(failing)}\necho "mariadb-dump: Got error: 1045: Access denied" >&2\nexit 2\n`,
    );
  });
  after(() => {
    for (const d of [dir, failing, truncated, datadir]) rmSync(d, { recursive: true, force: true });
  });

  function input(extra: Partial<BackupToolInput>): BackupToolInput {
    const logger = createLogger('test', { write: () => undefined });
    return {
      method: 'mariadb-dump',
      engine: 'mariadb',
      topology: 'standalone',
      instance: instance!,
      credentials: { user: 'lifeboat', password: PASSWORD },
      connection: fakeConnection(datadir),
      logger,
      path: `${dir}:/usr/bin:/bin`,
      ...extra,
    };
  }

  it('mariadb-dump: the payload streams through unchanged; begin from the server, end from the dump', async () => {
    const run = await startBackupTool(input({}));
    const text = await readAll(run.stdout);
    assert.match(text, /^-- MariaDB dump 10.19\n.*-- Dump completed\n$/s);
    assert.deepEqual(await run.done, {
      method: 'mariadb-dump',
      binary: join(dir, 'mariadb-dump'),
      format: 'sql',
      serverVersion: '10.11.19-MariaDB-log',
      beginGTID: '0-1-98',
      beginBinlog: 'mariadb-bin.000004:500',
      endGTID: '0-1-99',
      endBinlog: 'mariadb-bin.000004:777',
    });
    const args = readFileSync(join(dir, 'args'), 'utf8');
    assert.ok(!args.includes(PASSWORD), 'password in the arguments');
    assert.ok(args.includes('--single-transaction\n--gtid\n--master-data=2\n'));
    assertPrivateOptionFile(dir);
  });

  it('a dump without its closing "-- Dump completed" line (fake tool exiting 0): DumpFailed, the output incomplete', async () => {
    const run = await startBackupTool(input({ path: `${truncated}:/usr/bin:/bin` }));
    await readAll(run.stdout);
    await assert.rejects(
      run.done,
      (err: unknown) =>
        err instanceof DumpFailedError &&
        /mariadb-dump exited 0 but its output ends without the closing '-- Dump completed' line: the dump is incomplete/.test(
          err.message,
        ),
    );
  });

  it('mariabackup exiting 0 without "completed OK!" on stderr (fake tool): DumpFailed, the output incomplete', async () => {
    const run = await startBackupTool(
      input({ method: 'mariabackup', path: `${truncated}:/usr/bin:/bin`, workDir: truncated }),
    );
    await readAll(run.stdout);
    await assert.rejects(
      run.done,
      (err: unknown) =>
        err instanceof DumpFailedError &&
        /mariabackup exited 0 without printing 'completed OK!': its output is incomplete/.test(err.message),
    );
  });

  /** The password reached the tool only in a 0600 option file of a 0700 directory, gone once it ended. */
  function assertPrivateOptionFile(where: string): void {
    assert.equal(existsSync(join(where, 'mysqlpwd')), false, 'MYSQL_PWD was set for the tool');
    assert.ok(existsSync(join(where, 'optfile')), 'the first argument is not --defaults-file=<file>');
    assert.equal(readFileSync(join(where, 'optfile'), 'utf8'), `[client]\npassword="${PASSWORD}"\n`);
    assert.equal(readFileSync(join(where, 'modes'), 'utf8').trim(), '600 700');
    const file = readFileSync(join(where, 'optpath'), 'utf8').trim();
    assert.ok(file.startsWith(tmpdir()), `${file} is not under ${tmpdir()}`);
    assert.equal(existsSync(dirname(file)), false, 'the option file directory outlived the tool');
  }

  it('mariadb-dump exiting non-zero → done rejects with DumpFailedError quoting its stderr', async () => {
    const run = await startBackupTool(input({ path: `${failing}:/usr/bin:/bin` }));
    await readAll(run.stdout);
    await assert.rejects(
      run.done,
      (err: unknown) =>
        err instanceof DumpFailedError &&
        /mariadb-dump exited with code 2; last output: .*Access denied/.test(err.message),
    );
    assertPrivateOptionFile(failing);
  });

  it('mariabackup: --galera-info on Galera, a scratch target dir removed afterwards, end from stderr', async () => {
    const run = await startBackupTool(input({ method: 'mariabackup', topology: 'galera', workDir: dir }));
    assert.equal(await readAll(run.stdout), 'xbstream-bytes');
    const got = await run.done;
    assert.equal(got.format, 'xbstream');
    assert.equal(got.endBinlog, 'mariadb-bin.000004:900');
    assert.equal(got.endGTID, '0-1-100');
    assert.equal(got.beginGTID, '0-1-98');
    const args = readFileSync(join(dir, 'args'), 'utf8').split('\n');
    assert.ok(args.includes('--galera-info'));
    assert.ok(args.includes(`--datadir=${datadir}`));
    const target = args.find((a) => a.startsWith('--target-dir='))?.slice('--target-dir='.length) ?? '';
    assert.equal(readFileSync(join(dir, 'target'), 'utf8'), 'yes\n', 'the target dir existed while the tool ran');
    assert.equal(existsSync(target), false, 'the target dir is removed');
    assertPrivateOptionFile(dir);
  });

  it('mariabackup with a data directory not readable here → UnsupportedMethodError before anything runs', async () => {
    const conn = fakeConnection('/nonexistent/datadir/');
    await assert.rejects(
      startBackupTool(input({ method: 'mariabackup', connection: conn })),
      (err: unknown) =>
        err instanceof UnsupportedMethodError &&
        /run the worker on the database's host or choose a logical method/.test(err.message),
    );
  });

  it('a tool not installed → UnsupportedMethodError naming the binary', async () => {
    await assert.rejects(
      startBackupTool(input({ method: 'mysqldump', path: dir })),
      (err: unknown) => err instanceof UnsupportedMethodError && /needs the mysqldump binary/.test(err.message),
    );
  });

  it('a method that does not suit the engine → UnsupportedMethodError', async () => {
    await assert.rejects(startBackupTool(input({ method: 'mariabackup', engine: 'mysql' })), UnsupportedMethodError);
  });
});
