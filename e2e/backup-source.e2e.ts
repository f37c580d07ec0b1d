// The database side of a backup on the real servers: the Galera gate and source choice, the
// desync guard, connection failures, and mariadb-dump / mariabackup streaming with positions,
// with the password kept out of messages, logs and process arguments.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { createLogger, type Logger } from '../lib/logger.js';
import { startBackupTool, type BackupToolInput, type BackupToolRun } from '../runner/engine/backup-tool.js';
import { connectInstance, type SqlConnection } from '../runner/engine/db-connection.js';
import {
  assertAllSynced,
  credentials,
  galeraNodes,
  galeraState,
  standalone,
  withConnection,
} from './support/databases.js';
import { withDesync } from '../runner/engine/galera-desync.js';
import { staticInstances, type DbInstance } from '../runner/engine/instance-list.js';
import { selectSource } from '../runner/engine/source-selection.js';
import { ConnectionFailedError, DumpFailedError } from '../runner/work-failures.js';

interface LogSink {
  logger: Logger;
  text: () => string;
}

function logSink(): LogSink {
  const lines: string[] = [];
  return {
    logger: createLogger('e2e-backup-source', { write: (l: string) => void lines.push(l) }),
    text: () => lines.join(''),
  };
}

/** The process's argv as ps shows it; waits until the tool has exec'd. */
async function cmdline(pid: number, tool: string): Promise<string[]> {
  for (let i = 0; i < 50; i++) {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (argv[0]?.endsWith(tool)) return argv;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`process ${pid} never showed ${tool} in /proc/${pid}/cmdline`);
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Pipes an xbstream into `mbstream -x` and resolves with the byte count once it extracted cleanly. */
function extractXbstream(stream: Readable, dir: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const mbstream = spawn('mbstream', ['-x', '-C', dir], { stdio: ['pipe', 'ignore', 'pipe'] });
    let bytes = 0;
    let stderr = '';
    stream.on('data', (c: Buffer) => (bytes += c.length));
    stream.pipe(mbstream.stdin);
    mbstream.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    mbstream.on('error', reject);
    mbstream.on('exit', (code) =>
      code === 0 ? resolve(bytes) : reject(new Error(`mbstream -x exited ${code}: ${stderr}`)),
    );
  });
}

describe('backup source: the database side of a backup', () => {
  const password = (): string => credentials().password;

  describe('Galera', () => {
    it('the health gate passes on 3 × Synced and prefer-standby picks node3 (desynced during the backup)', async () => {
      const nodes = galeraNodes();
      assert.equal(nodes.length, 3);
      const chosen = await selectSource({
        clusterName: 'galera',
        topology: 'galera',
        instances: nodes,
        credentials: credentials(),
      });
      try {
        assert.equal(chosen.instance.name, 'node3');
        assert.equal(chosen.desync, true);
        assert.deepEqual(chosen.waived, []);
      } finally {
        await chosen.connection.close();
      }
    });

    it('withDesync: node3 is Donor/Desynced during fn, and all 3 are Synced with wsrep_desync OFF afterwards', async () => {
      const nodes = galeraNodes();
      const during = await withConnection(nodes[2]!, (conn) =>
        withDesync(conn, () => galeraState(nodes[2]!), { instanceName: 'node3', syncTimeoutMs: 60_000 }),
      );
      assert.deepEqual(during, { state: 'Donor/Desynced', desync: '1' });
      await assertAllSynced(nodes);
    });

    it('withDesync: also when fn throws, all 3 end Synced with wsrep_desync OFF and fn’s error comes through', async () => {
      const nodes = galeraNodes();
      const boom = new Error('the upload broke');
      await assert.rejects(
        withConnection(nodes[2]!, (conn) => withDesync(conn, () => Promise.reject(boom), { instanceName: 'node3' })),
        (err: unknown) => err === boom,
      );
      await assertAllSynced(nodes);
    });

    it('withDesync: an abort (SIGTERM) mid-backup restores at once; all 3 end Synced with wsrep_desync OFF', async () => {
      const nodes = galeraNodes();
      const controller = new AbortController();
      const fnStop = new AbortController();
      const run = withConnection(nodes[2]!, (conn) =>
        withDesync(conn, () => new Promise((_, reject) => fnStop.signal.addEventListener('abort', reject)), {
          instanceName: 'node3',
          signal: controller.signal,
        }),
      );
      await new Promise((r) => setTimeout(r, 200));
      assert.equal((await galeraState(nodes[2]!)).desync, '1');
      controller.abort(new Error('SIGTERM'));
      await assert.rejects(run, /SIGTERM/);
      fnStop.abort();
      await assertAllSynced(nodes);
    });

    it('prefer-standby physical backup: mariabackup --galera-info of node3 under withDesync, extractable', async () => {
      const nodes = galeraNodes();
      const sink = logSink();
      const chosen = await selectSource({
        clusterName: 'galera',
        topology: 'galera',
        instances: nodes,
        credentials: credentials(),
      });
      const dir = mkdtempSync(join(tmpdir(), 'lifeboat-e2e-xb-'));
      try {
        const result = await withDesync(
          chosen.connection,
          async () => {
            const run = await startBackupTool(
              toolInput(chosen.instance, chosen.connection, 'mariabackup', sink.logger, 'galera'),
            );
            const bytes = await extractXbstream(run.stdout, dir);
            return { ...(await run.done), bytes };
          },
          { instanceName: chosen.instance.name },
        );
        assert.ok(result.bytes > 1_000_000, `${result.bytes} bytes`);
        assert.ok(existsSync(join(dir, 'xtrabackup_galera_info')), 'xtrabackup_galera_info in the archive');
        assert.match(result.endGTID ?? '', /^\d+-\d+-\d+/);
        assert.match(result.endBinlog ?? '', /^mariadb-bin\.\d+:\d+$/);
        assert.ok(!sink.text().includes(password()));
      } finally {
        await chosen.connection.close();
        rmSync(dir, { recursive: true, force: true });
      }
      await assertAllSynced(nodes);
    });
  });

  describe('connections', () => {
    it('a wrong password → ConnectionFailedError naming host:port and the fix, without the password', async () => {
      const wrong = `wrong-${randomBytes(6).toString('hex')}`;
      await assert.rejects(
        connectInstance(standalone(), { user: credentials().user, password: wrong }),
        (err: unknown) => {
          assert.ok(err instanceof ConnectionFailedError, String(err));
          assert.match(
            err.message,
            /instance standalone \(127\.0\.0\.1:\d+\).*Access denied.*check the username and password keys/,
          );
          assert.ok(!err.message.includes(wrong));
          return true;
        },
      );
    });

    it('a wrong password on Galera is a credentials problem (ConnectionFailed), not an unsafe cluster', async () => {
      const wrong = `wrong-${randomBytes(6).toString('hex')}`;
      await assert.rejects(
        selectSource({
          clusterName: 'galera',
          topology: 'galera',
          instances: galeraNodes(),
          credentials: { user: credentials().user, password: wrong },
        }),
        (err: unknown) => err instanceof ConnectionFailedError && !err.message.includes(wrong),
      );
    });

    it('nothing listening → ConnectionFailedError saying to check host/port and the server', async () => {
      const [closed] = staticInstances([{ name: 'nowhere', host: '127.0.0.1', port: 1 }]);
      await assert.rejects(
        connectInstance(closed!, credentials()),
        (err: unknown) => err instanceof ConnectionFailedError && /check the instance host and port/.test(err.message),
      );
    });
  });

  describe('tools on the standalone server', () => {
    const db = `lifeboat_e2e_${randomBytes(4).toString('hex')}`;
    let conn: SqlConnection;

    before(async () => {
      conn = await connectInstance(standalone(), credentials());
      await conn.query(`CREATE DATABASE ${db}`);
      await conn.query(`CREATE TABLE ${db}.widgets (id INT PRIMARY KEY, name VARCHAR(40)) ENGINE=InnoDB`);
      await conn.query(`INSERT INTO ${db}.widgets VALUES (1, 'sprocket-e2e'), (2, 'gear-e2e')`);
    });
    after(async () => {
      await conn?.query(`DROP DATABASE IF EXISTS ${db}`);
      await conn?.close();
    });

    it('mariadb-dump streams a dump holding the scratch table, with GTID/binlog positions, password not in argv or logs', async () => {
      const sink = logSink();
      const run = await startBackupTool(toolInput(standalone(), conn, 'mariadb-dump', sink.logger));
      const argv = await cmdline(run.pid!, 'mariadb-dump');
      const dump = (await readAll(run.stdout)).toString();
      const result = await run.done;
      assert.ok(argv.includes('--single-transaction') && argv.includes('--user=lifeboat'), argv.join(' '));
      assert.ok(!argv.some((a) => a.includes(password())), 'password in /proc/<pid>/cmdline');
      assert.ok(dump.includes(`CREATE DATABASE /*!32312 IF NOT EXISTS*/ \`${db}\``));
      assert.ok(dump.includes('CREATE TABLE `widgets`') && dump.includes("'sprocket-e2e'"));
      assert.match(result.endBinlog ?? '', /^mariadb-bin\.\d+:\d+$/);
      assert.match(result.endGTID ?? '', /^\d+-\d+-\d+/);
      assert.match(result.beginGTID ?? '', /^\d+-\d+-\d+/);
      assert.match(result.serverVersion, /^10\.11\./);
      assert.ok(dump.includes(`MASTER_LOG_FILE='${result.endBinlog?.split(':')[0]}'`));
      assert.ok(!sink.text().includes(password()), 'password in the log');
    });

    it('mariabackup streams an xbstream that mbstream -x extracts, with positions, password not in argv or logs', async () => {
      const sink = logSink();
      const dir = mkdtempSync(join(tmpdir(), 'lifeboat-e2e-xb-'));
      try {
        const run = await startBackupTool(toolInput(standalone(), conn, 'mariabackup', sink.logger));
        const argv = await cmdline(run.pid!, 'mariabackup');
        const bytes = await extractXbstream(run.stdout, dir);
        const result = await run.done;
        assert.ok(!argv.some((a) => a.includes(password())), 'password in /proc/<pid>/cmdline');
        assert.ok(argv.includes('--stream=xbstream'));
        assert.ok(bytes > 1_000_000, `${bytes} bytes`);
        assert.ok(existsSync(join(dir, 'ibdata1')), 'ibdata1 extracted');
        // Its .ibd may come as widgets.new (a tablespace younger than the last checkpoint), which --prepare renames.
        assert.ok(existsSync(join(dir, db, 'widgets.frm')), 'the scratch table extracted');
        const info = ['xtrabackup_binlog_info', 'mariadb_backup_binlog_info'].find((f) => existsSync(join(dir, f)));
        assert.ok(info, 'a binlog info file in the archive');
        assert.match(result.endBinlog ?? '', /^mariadb-bin\.\d+:\d+$/);
        assert.ok(readFileSync(join(dir, info), 'utf8').includes(result.endBinlog?.split(':')[0] ?? '?'));
        assert.ok(!sink.text().includes(password()), 'password in the log');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    for (const method of ['mariadb-dump', 'mariabackup'] as const) {
      it(`${method} with credentials the server refuses exits non-zero → DumpFailedError, password scrubbed`, async () => {
        const wrong = `wrong-${randomBytes(6).toString('hex')}`;
        const sink = logSink();
        const input = {
          ...toolInput(standalone(), conn, method, sink.logger),
          credentials: { user: 'lifeboat', password: wrong },
        };
        const run = await startBackupTool(input);
        await readAll(run.stdout);
        await assert.rejects(run.done, (err: unknown) => {
          assert.ok(err instanceof DumpFailedError, String(err));
          assert.match(err.message, new RegExp(`^${method} exited with code \\d+; last output: .*Access denied`));
          assert.ok(!err.message.includes(wrong));
          return true;
        });
        assert.ok(!sink.text().includes(wrong), 'password in the log');
      });
    }

    it('an abort stops mariabackup mid-stream (SIGTERM) and done rejects', async () => {
      const controller = new AbortController();
      const run: BackupToolRun = await startBackupTool({
        ...toolInput(standalone(), conn, 'mariabackup', logSink().logger),
        signal: controller.signal,
      });
      await cmdline(run.pid!, 'mariabackup');
      controller.abort(new Error('SIGTERM to the worker'));
      run.stdout.resume();
      await assert.rejects(
        run.done,
        (err: unknown) => err instanceof DumpFailedError && /stopped \(SIGTERM to the worker\)/.test(err.message),
      );
      assert.equal(existsSync(`/proc/${run.pid}`), false, 'the tool is gone');
    });
  });
});

function toolInput(
  instance: DbInstance,
  connection: SqlConnection,
  method: 'mariadb-dump' | 'mariabackup',
  logger: Logger,
  topology: 'standalone' | 'galera' = 'standalone',
): BackupToolInput {
  return { method, engine: 'mariadb', topology, instance, credentials: credentials(), connection, logger };
}
