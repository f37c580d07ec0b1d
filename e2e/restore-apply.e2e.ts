// The database side of a logical restore on the real servers: a mariadb-dump of the standalone
// server (the backup tool's own arguments) applied to the empty restore-target server, compared
// table by table with CHECKSUM TABLE EXTENDED; a non-empty target refused; the applied-restore
// records surviving a dump that carries an old `lifeboat` schema; and the ways an apply fails.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { createLogger, type Logger } from '../lib/logger.js';
import { connectInstance, type SqlConnection } from '../runner/engine/db-connection.js';
import type { DbInstance } from '../runner/engine/instance-list.js';
import {
  appliedRestore,
  readMarkers,
  recordApplied,
  withMarkersKept,
  type AppliedRestore,
} from '../runner/engine/restore-marker.js';
import { assertTargetEmpty, chooseRestoreTarget } from '../runner/engine/restore-target.js';
import { applySql } from '../runner/engine/sql-apply.js';
import { findTool, toolArgs, toolEnv } from '../runner/engine/tool-commands.js';
import { withToolOptions } from '../runner/engine/tool-options.js';
import {
  ApplyFailedError,
  ChecksumMismatchError,
  DumpFailedError,
  TargetNotEmptyError,
} from '../runner/work-failures.js';
import { credentials, emptyRestoreTarget, restoreTarget, standalone, withConnection } from './support/databases.js';

const ROWS = 3000;
const DB = `lb_restore_${randomBytes(4).toString('hex')}`;

function quietLogger(): Logger {
  return createLogger('e2e-restore-apply', { write: () => undefined });
}

/** mariadb-dump with the arguments a backup uses, collected in memory (the stack's data is small). */
async function dump(instance: DbInstance): Promise<Buffer> {
  return withToolOptions(credentials(), async (options) => {
    const args = toolArgs({ method: 'mariadb-dump', engine: 'mariadb', instance, user: credentials().user, options });
    const child = spawn(findTool('mariadb-dump', 'mariadb'), args, {
      env: toolEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0, `mariadb-dump of ${instance.name} failed: ${err}`);
    return Buffer.concat(out);
  });
}

/** The SQL in 64 KiB chunks, as a download would deliver it. */
function chunked(sql: Buffer): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < sql.length; i += 65536) yield sql.subarray(i, i + 65536);
    })(),
  );
}

const marker = (key: string): AppliedRestore => ({
  key,
  backupId: '20250101T000000Z',
  sha256: 'ab'.repeat(32),
  source: `s3://lifeboat/e2e/${key}/backup.sql`,
  appliedAt: new Date().toISOString(),
  restoreUid: randomBytes(8).toString('hex'),
});

/** The engine's restore sequence, as the worker runs it: choose, check empty, apply with the records kept. */
async function restoreInto(sql: Buffer, key: string, overwrite: boolean): Promise<number> {
  const probe = (i: DbInstance): Promise<SqlConnection> => connectInstance(i, credentials());
  const target = await chooseRestoreTarget('standalone', [restoreTarget()], probe);
  try {
    await assertTargetEmpty(target.connection, { overwrite, where: target.instance.name });
    const apply = (): Promise<{ bytes: number }> =>
      applySql({
        instance: target.instance,
        engine: 'mariadb',
        credentials: credentials(),
        input: chunked(sql),
        log: quietLogger(),
      });
    return (await withMarkersKept(target.connection, marker(key), apply)).bytes;
  } finally {
    await target.connection.close();
  }
}

async function createFixture(c: SqlConnection): Promise<void> {
  await c.query(`CREATE DATABASE \`${DB}\``);
  await c.query(
    `CREATE TABLE \`${DB}\`.items (id INT PRIMARY KEY, name VARCHAR(64) CHARACTER SET utf8mb4, payload BLOB, raw VARBINARY(32), amount DECIMAL(12,2), created DATETIME(6)) ENGINE=InnoDB`,
  );
  await c.query(
    `CREATE TABLE \`${DB}\`.audit (id INT AUTO_INCREMENT PRIMARY KEY, item_id INT, note VARCHAR(32)) ENGINE=Aria`,
  );
  await c.query(
    `CREATE TRIGGER \`${DB}\`.items_ai AFTER INSERT ON \`${DB}\`.items FOR EACH ROW INSERT INTO \`${DB}\`.audit (item_id, note) VALUES (NEW.id, 'inserted')`,
  );
  await c.query(`CREATE VIEW \`${DB}\`.dear_items AS SELECT id, name FROM \`${DB}\`.items WHERE amount > 500`);
  await c.query(
    `CREATE FUNCTION \`${DB}\`.item_count() RETURNS INT READS SQL DATA RETURN (SELECT COUNT(*) FROM \`${DB}\`.items)`,
  );
  await c.query(
    `CREATE PROCEDURE \`${DB}\`.add_note(IN n VARCHAR(32)) MODIFIES SQL DATA INSERT INTO \`${DB}\`.audit (item_id, note) VALUES (0, n)`,
  );
  await c.query(
    `CREATE EVENT \`${DB}\`.prune ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM \`${DB}\`.audit WHERE item_id < 0`,
  );
  for (let start = 0; start < ROWS; start += 500) {
    const rows = Array.from({ length: 500 }, (_, k) => {
      const id = start + k;
      // Bytes a careless client mangles: NUL, CR LF, quote, backslash, 0xFF.
      const payload = Buffer.concat([Buffer.from([0, 13, 10, 39, 92, 255]), randomBytes(100 + (id % 400))]);
      return [id, `item ${id} ünïcödé ✓`, payload, randomBytes(32), (id * 7.31) % 1000, new Date(1e12 + id * 1000)];
    });
    await c.query(`INSERT INTO \`${DB}\`.items VALUES ?`, [rows]);
  }
}

/** Every base table's CHECKSUM TABLE EXTENDED, and the schema's routines, triggers, views and events. */
async function fingerprint(instance: DbInstance): Promise<Record<string, unknown>> {
  return withConnection(instance, async (c) => {
    const tables = await c.query(
      "SELECT TABLE_NAME AS t, ENGINE AS e FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
      [DB],
    );
    const checksums: Record<string, string> = {};
    for (const { t, e } of tables) {
      const [row] = await c.query(`CHECKSUM TABLE \`${DB}\`.\`${String(t)}\` EXTENDED`);
      checksums[`${String(t)} (${String(e)})`] = String(row?.['Checksum']);
    }
    const q = (sql: string): Promise<unknown> => c.query(sql, [DB]);
    return {
      checksums,
      routines: await q(
        'SELECT ROUTINE_NAME, ROUTINE_TYPE, ROUTINE_DEFINITION, DEFINER FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? ORDER BY ROUTINE_NAME',
      ),
      triggers: await q(
        'SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING, ACTION_STATEMENT FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? ORDER BY TRIGGER_NAME',
      ),
      views: await q(
        'SELECT TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME',
      ),
      events: await q(
        'SELECT EVENT_NAME, EVENT_DEFINITION, INTERVAL_VALUE, INTERVAL_FIELD, STATUS FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? ORDER BY EVENT_NAME',
      ),
    };
  });
}

async function markerKeys(): Promise<string[]> {
  return withConnection(restoreTarget(), async (c) => (await readMarkers(c)).map((m) => m.key).sort());
}

describe('logical restore apply (standalone → restore target)', function () {
  this.timeout(180_000);
  let source: Buffer;
  let sourcePrint: Record<string, unknown>;

  before(async () => {
    await emptyRestoreTarget();
    await withConnection(standalone(), createFixture);
    source = await dump(standalone());
    sourcePrint = await fingerprint(standalone());
  });

  after(async () => {
    await withConnection(standalone(), (c) => c.query(`DROP DATABASE IF EXISTS \`${DB}\``));
    await emptyRestoreTarget();
  });

  it('applies the dump: every table checksum, routine, trigger, view and event equal; the restore recorded', async () => {
    const bytes = await restoreInto(source, 'e2e/first', false);
    assert.equal(bytes, source.length);
    const print = await fingerprint(restoreTarget());
    assert.deepEqual(print, sourcePrint);
    assert.deepEqual(Object.keys(print['checksums'] as object), ['audit (Aria)', 'items (InnoDB)']);
    const found = await withConnection(restoreTarget(), (c) => appliedRestore(c, 'e2e/first'));
    assert.equal(found?.key, 'e2e/first');
    assert.match(found?.appliedAt ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('a second restore into the now non-empty target is refused (TargetNotEmpty) and changes nothing', async () => {
    const before = await fingerprint(restoreTarget());
    await assert.rejects(restoreInto(source, 'e2e/again', false), (err: unknown) => {
      assert.ok(err instanceof TargetNotEmptyError);
      assert.match(err.message, new RegExp(`already holds databases .*${DB}.*spec\\.overwrite: true`));
      return true;
    });
    assert.deepEqual(await fingerprint(restoreTarget()), before);
    assert.equal(await withConnection(restoreTarget(), (c) => appliedRestore(c, 'e2e/again')), undefined);
  });

  it('a dump carrying an old `lifeboat` schema does not make the target forget its own records', async () => {
    const carrying = await dump(restoreTarget()); // holds lifeboat.applied_restores with e2e/first
    assert.match(carrying.toString('latin1'), /DROP TABLE IF EXISTS `applied_restores`/);
    await withConnection(restoreTarget(), (c) => recordApplied(c, marker('e2e/second'), []));
    await restoreInto(carrying, 'e2e/third', true);
    assert.deepEqual(await markerKeys(), ['e2e/first', 'e2e/second', 'e2e/third']);
    // Without carrying the records over, the dump's DROP TABLE would lose e2e/second and e2e/third.
    const log = quietLogger();
    await applySql({
      instance: restoreTarget(),
      engine: 'mariadb',
      credentials: credentials(),
      input: chunked(carrying),
      log,
    });
    assert.deepEqual(await markerKeys(), ['e2e/first']);
  });

  it('a truncated dump fails, says the target may be partially restored, and is not recorded as applied', async () => {
    await emptyRestoreTarget();
    const cut = source.subarray(0, Math.floor(source.length * 0.6));
    await assert.rejects(restoreInto(cut, 'e2e/truncated', false), (err: unknown) => {
      assert.ok(err instanceof DumpFailedError);
      assert.match(err.message, /dump is incomplete.*the target restore-target \(.*\) may be partially restored/);
      return true;
    });
    assert.equal(await withConnection(restoreTarget(), (c) => appliedRestore(c, 'e2e/truncated')), undefined);
  });

  it('an input that fails at its end (checksum mismatch): the statement the client holds is never run', async () => {
    await emptyRestoreTarget();
    const db = `${DB}_ck`;
    const sql = `CREATE DATABASE \`${db}\`;\nCREATE TABLE \`${db}\`.t (a INT) ENGINE=InnoDB;\nINSERT INTO \`${db}\`.t VALUES (1);\nINSERT INTO \`${db}\`.t VALUES (2)`;
    const input = Readable.from(
      (async function* () {
        yield Buffer.from(sql);
        await new Promise((r) => setTimeout(r, 500)); // the client has run the complete statements
        throw new ChecksumMismatchError('backup.sql: sha256 differs from metadata.json');
      })(),
    );
    const target = restoreTarget();
    const log = quietLogger();
    await assert.rejects(
      applySql({ instance: target, engine: 'mariadb', credentials: credentials(), input, log }),
      (err: unknown) =>
        err instanceof ChecksumMismatchError && /sha256 differs.*may be partially restored/.test(err.message),
    );
    const rows = await withConnection(target, (c) => c.query(`SELECT a FROM \`${db}\`.t ORDER BY a`));
    assert.deepEqual(
      rows.map((r) => Number(r['a'])),
      [1],
    );
  });

  it('a failed statement stops the client there: nothing after it runs', async () => {
    await emptyRestoreTarget();
    const db = `${DB}_err`;
    const sql = `CREATE DATABASE \`${db}\`;\nSELEC 1;\nCREATE TABLE \`${db}\`.after_error (a INT);\n-- Dump completed on 2025-01-01\n`;
    const target = restoreTarget();
    const log = quietLogger();
    await assert.rejects(
      applySql({ instance: target, engine: 'mariadb', credentials: credentials(), input: Readable.from([sql]), log }),
      (err: unknown) =>
        err instanceof ApplyFailedError &&
        /ERROR 1064 \(42000\) at line 2: .*may be partially restored/.test(err.message),
    );
    const tables = await withConnection(target, (c) =>
      c.query('SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', [db]),
    );
    assert.deepEqual(tables, []);
  });
});
