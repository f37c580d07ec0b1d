// The restore records a target keeps, against a fake connection that records its statements;
// the SQL itself runs against a real server in e2e/restore-apply.e2e.ts.
import assert from 'node:assert/strict';
import type { SqlConnection, SqlRow } from '../../../runner/engine/db-connection.js';
import {
  appliedRestore,
  readMarkers,
  recordApplied,
  recoverKeptMarkers,
  withMarkersKept,
  type AppliedRestore,
} from '../../../runner/engine/restore-marker.js';

interface Recorder extends SqlConnection {
  readonly statements: { sql: string; values?: readonly unknown[] }[];
}

/** Answers SELECTs with `rows` (or fails with `selectError`); fails the statement matching `failOn`. */
function recorder(opts: { rows?: SqlRow[]; selectError?: unknown; failOn?: RegExp } = {}): Recorder {
  const statements: Recorder['statements'] = [];
  return {
    statements,
    query(sql: string, values?: readonly unknown[]): Promise<SqlRow[]> {
      statements.push({ sql, ...(values ? { values } : {}) });
      if (opts.failOn?.test(sql)) return Promise.reject(new Error(`failed: ${sql}`));
      if (sql.startsWith('SELECT')) {
        return opts.selectError ? Promise.reject(opts.selectError) : Promise.resolve(opts.rows ?? []);
      }
      return Promise.resolve([]);
    },
    close: () => Promise.resolve(),
  };
}

const record = (key: string, at = '2025-01-02T03:04:05.678Z'): AppliedRestore => ({
  key,
  backupId: '20250101T000000Z',
  sha256: 'ab'.repeat(32),
  source: 's3://b/p/shop/shop-1/20250101T000000Z/backup.sql',
  appliedAt: at,
  restoreUid: 'uid-1',
});

const coded = (code: string): Error => Object.assign(new Error(code), { code });

describe('restore markers (fake connection)', () => {
  it('a target without the schema or the table has no record', async () => {
    assert.equal(await appliedRestore(recorder({ selectError: coded('ER_BAD_DB_ERROR') }), 'ns/r'), undefined);
    assert.equal(await appliedRestore(recorder({ selectError: coded('ER_NO_SUCH_TABLE') }), 'ns/r'), undefined);
    assert.deepEqual(await readMarkers(recorder({ selectError: coded('ER_NO_SUCH_TABLE') })), []);
  });

  it('any other read failure is not taken for "never restored"', async () => {
    await assert.rejects(appliedRestore(recorder({ selectError: coded('ER_TABLEACCESS_DENIED_ERROR') }), 'ns/r'));
  });

  it('a row reads back as a record, applied_at as ISO 8601 UTC', async () => {
    const conn = recorder({
      rows: [
        {
          restore_key: 'ns/r',
          backup_id: 'b1',
          sha256: 'ff'.repeat(32),
          source: 's3://x',
          applied_at: '2025-01-02T03:04:05.678000',
          restore_uid: 'u',
        },
      ],
    });
    assert.deepEqual(await appliedRestore(conn, 'ns/r'), {
      key: 'ns/r',
      backupId: 'b1',
      sha256: 'ff'.repeat(32),
      source: 's3://x',
      appliedAt: '2025-01-02T03:04:05.678Z',
      restoreUid: 'u',
    });
    assert.deepEqual(conn.statements[0]?.values, ['ns/r']);
  });

  it('recording creates schema and InnoDB table, then writes carried rows and the new one in one transaction', async () => {
    const conn = recorder();
    await recordApplied(conn, record('ns/new'), [record('ns/old'), record('ns/new', '2020-01-01T00:00:00.000Z')]);
    const sqls = conn.statements.map((s) => s.sql.split('\n')[0]);
    assert.deepEqual(sqls, [
      'CREATE DATABASE IF NOT EXISTS `lifeboat`',
      'CREATE TABLE IF NOT EXISTS `lifeboat`.`applied_restores` (',
      'START TRANSACTION',
      'REPLACE INTO `lifeboat`.`applied_restores` VALUES (?, ?, ?, ?, ?, ?)',
      'REPLACE INTO `lifeboat`.`applied_restores` VALUES (?, ?, ?, ?, ?, ?)',
      'COMMIT',
    ]);
    assert.match(conn.statements[1]?.sql ?? '', /ENGINE=InnoDB/);
    assert.deepEqual(
      conn.statements.filter((s) => s.sql.startsWith('REPLACE')).map((s) => [s.values?.[0], s.values?.[4]]),
      [
        ['ns/old', '2025-01-02 03:04:05.678'],
        ['ns/new', '2025-01-02 03:04:05.678'],
      ],
    );
  });

  it('a failed write is rolled back and reported', async () => {
    const conn = recorder({ failOn: /^REPLACE/ });
    await assert.rejects(recordApplied(conn, record('ns/r'), []), /failed: REPLACE/);
    assert.equal(conn.statements.at(-1)?.sql, 'ROLLBACK');
  });

  it('withMarkersKept: records read before the restore are written back with the new one', async () => {
    const before = { restore_key: 'ns/old', backup_id: 'b', sha256: 's', source: 'x', restore_uid: 'u' };
    const conn = recorder({ rows: [{ ...before, applied_at: '2024-01-01T00:00:00.000000' }] });
    assert.equal(await withMarkersKept(conn, record('ns/new'), () => Promise.resolve(42)), 42);
    const keys = conn.statements.filter((s) => s.sql.startsWith('REPLACE')).map((s) => s.values?.[0]);
    assert.deepEqual(keys, ['ns/old', 'ns/new']);
  });

  it('withMarkersKept: a failed restore writes back only the old records and rethrows its own error', async () => {
    const before = { restore_key: 'ns/old', backup_id: 'b', sha256: 's', source: 'x', restore_uid: 'u' };
    const conn = recorder({ rows: [{ ...before, applied_at: '2024-01-01T00:00:00.000000' }] });
    await assert.rejects(
      withMarkersKept(conn, record('ns/new'), () => Promise.reject(new Error('apply failed'))),
      /apply failed/,
    );
    const keys = conn.statements.filter((s) => s.sql.startsWith('REPLACE')).map((s) => s.values?.[0]);
    assert.deepEqual(keys, ['ns/old']);
  });

  it("withMarkersKept: with records to keep, a copy under the restore's uid, locked, is made before the apply and dropped after", async () => {
    const before = { restore_key: 'ns/old', backup_id: 'b', sha256: 's', source: 'x', restore_uid: 'u' };
    const conn = recorder({ rows: [{ ...before, applied_at: '2024-01-01T00:00:00.000000' }] });
    const uid = '1B2c3d4e-0000-4000-8000-00000000abcd';
    let duringApply: string[] = [];
    await withMarkersKept(conn, { ...record('ns/new'), restoreUid: uid }, () => {
      duringApply = conn.statements.map((st) => st.sql);
      return Promise.resolve();
    });
    const table = '`lifeboat_kept`.`kept_1b2c3d4e00004000800000000000abcd`';
    assert.deepEqual(
      duringApply.slice(1).map((sql) => sql.split('\n')[0]),
      [
        'CREATE DATABASE IF NOT EXISTS `lifeboat`',
        'CREATE TABLE IF NOT EXISTS `lifeboat`.`applied_restores` (',
        'SELECT GET_LOCK(?, 0) AS got',
        'CREATE DATABASE IF NOT EXISTS `lifeboat_kept`',
        `DROP TABLE IF EXISTS ${table}`,
        `CREATE TABLE ${table} LIKE \`lifeboat\`.\`applied_restores\``,
        `INSERT INTO ${table} SELECT * FROM \`lifeboat\`.\`applied_restores\``,
      ],
    );
    assert.deepEqual(conn.statements[3]?.values, ['lifeboat-kept_1b2c3d4e00004000800000000000abcd']);
    const after = conn.statements.slice(duringApply.length).map((st) => st.sql.split('\n')[0]);
    assert.deepEqual(after.slice(-2), [`DROP TABLE IF EXISTS ${table}`, 'SELECT RELEASE_LOCK(?) AS released']);
    assert.ok(after.indexOf('COMMIT') < after.indexOf(`DROP TABLE IF EXISTS ${table}`), 'dropped once written back');
  });

  it('withMarkersKept: a failed restore drops its copy once the records are written back; none is made when there is nothing to keep', async () => {
    const before = { restore_key: 'ns/old', backup_id: 'b', sha256: 's', source: 'x', restore_uid: 'u' };
    const conn = recorder({ rows: [{ ...before, applied_at: '2024-01-01T00:00:00.000000' }] });
    await assert.rejects(withMarkersKept(conn, record('ns/new'), () => Promise.reject(new Error('apply failed'))));
    assert.match(conn.statements.at(-2)?.sql ?? '', /^DROP TABLE IF EXISTS `lifeboat_kept`\.`kept_/);

    const empty = recorder({ rows: [] });
    await withMarkersKept(empty, record('ns/new'), () => Promise.resolve());
    assert.equal(empty.statements.filter((st) => /kept_|GET_LOCK/.test(st.sql)).length, 0);
  });

  it('withMarkersKept: the marker table is made before the apply, so an account that may not make it fails before a byte is applied', async () => {
    const conn = recorder({ rows: [], failOn: /^CREATE DATABASE IF NOT EXISTS `lifeboat`$/ });
    let applied = false;
    await assert.rejects(
      withMarkersKept(conn, record('ns/new'), () => {
        applied = true;
        return Promise.resolve();
      }),
      /failed: CREATE DATABASE/,
    );
    assert.equal(applied, false);
  });

  it('recoverKeptMarkers: a copy whose lock is free (its worker killed) is written back and dropped; a held one is left alone', async () => {
    const statements: string[] = [];
    const conn: SqlConnection = {
      query(sql: string, values?: readonly unknown[]): Promise<SqlRow[]> {
        statements.push(sql);
        if (sql.includes('information_schema.TABLES')) {
          assert.deepEqual(values, ['lifeboat_kept', 'kept\\_%']);
          return Promise.resolve([{ name: 'kept_dead' }, { name: 'kept_live' }]);
        }
        if (sql.startsWith('SELECT IS_USED_LOCK')) {
          return Promise.resolve([{ holder: values?.[0] === 'lifeboat-kept_live' ? 42 : null }]);
        }
        return Promise.resolve([]);
      },
      close: () => Promise.resolve(),
    };
    assert.equal(await recoverKeptMarkers(conn), 1);
    const writes = statements.filter((sql) => !sql.startsWith('SELECT')).map((sql) => sql.split('\n')[0]);
    assert.deepEqual(writes, [
      'CREATE DATABASE IF NOT EXISTS `lifeboat`',
      'CREATE TABLE IF NOT EXISTS `lifeboat`.`applied_restores` (',
      'REPLACE INTO `lifeboat`.`applied_restores` SELECT * FROM `lifeboat_kept`.`kept_dead`',
      'DROP TABLE IF EXISTS `lifeboat_kept`.`kept_dead`',
    ]);
  });

  it('recoverKeptMarkers: a target without the schema has nothing to recover', async () => {
    assert.equal(await recoverKeptMarkers(recorder({ selectError: coded('ER_BAD_DB_ERROR') })), 0);
  });
});
