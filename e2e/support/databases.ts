// The stack's database servers as the e2e tests reach them: the standalone server, the Galera
// nodes, the empty server restores go to, the account from stack.env, and the Galera state a
// backup must leave behind.
import assert from 'node:assert/strict';
import { connectInstance, type DbCredentials, type SqlConnection } from '../../runner/engine/db-connection.js';
import { staticInstances, type DbInstance } from '../../runner/engine/instance-list.js';
import { SYSTEM_SCHEMAS } from '../../runner/engine/restore-target.js';
import { requireVar } from './stack.js';

export function credentials(): DbCredentials {
  return { user: requireVar('MARIADB_USER', 'MariaDB'), password: requireVar('MARIADB_PASSWORD', 'MariaDB') };
}

export function standalone(): DbInstance {
  const [db] = staticInstances([
    {
      name: 'standalone',
      host: requireVar('MARIADB_HOST', 'MariaDB'),
      port: Number(requireVar('MARIADB_PORT', 'MariaDB')),
    },
  ]);
  if (!db) throw new Error('no standalone instance');
  return db;
}

/** The restore target (hack/mariadb-target.sh): a standalone server that starts empty. */
export function restoreTarget(): DbInstance {
  const [db] = staticInstances([
    {
      name: 'restore-target',
      host: requireVar('MARIADB_HOST', 'MariaDB'),
      port: Number(requireVar('MARIADB_TARGET_PORT', 'the restore-target MariaDB')),
    },
  ]);
  if (!db) throw new Error('no restore-target instance');
  return db;
}

/**
 * Drops every schema of the restore target but the system ones, Lifeboat's marker schema
 * included, so the next restore finds it empty. Returns what it dropped.
 */
export async function emptyRestoreTarget(): Promise<string[]> {
  return withConnection(restoreTarget(), async (c) => {
    const rows = await c.query(
      'SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN (?)',
      [[...SYSTEM_SCHEMAS]],
    );
    const names = rows.map((r) => String(r['name']));
    for (const name of names) await c.query(`DROP DATABASE \`${name.replace(/`/g, '``')}\``);
    return names;
  });
}

export function galeraNodes(): DbInstance[] {
  const ports = requireVar('GALERA_PORTS', 'Galera')
    .split(' ')
    .filter((p) => p !== '');
  return staticInstances(ports.map((port, i) => ({ name: `node${i + 1}`, host: '127.0.0.1', port: Number(port) })));
}

export async function withConnection<T>(instance: DbInstance, fn: (c: SqlConnection) => Promise<T>): Promise<T> {
  const conn = await connectInstance(instance, credentials());
  try {
    return await fn(conn);
  } finally {
    await conn.close();
  }
}

export async function galeraState(instance: DbInstance): Promise<{ state: string; desync: string }> {
  return withConnection(instance, async (c) => {
    const [row] = await c.query(
      "SELECT @@global.wsrep_desync AS desync, (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'WSREP_LOCAL_STATE_COMMENT') AS state",
    );
    return { state: String(row?.['state']), desync: String(row?.['desync']) };
  });
}

export async function assertAllSynced(nodes: DbInstance[] = galeraNodes()): Promise<void> {
  for (const node of nodes) assert.deepEqual(await galeraState(node), { state: 'Synced', desync: '0' }, node.name);
}

/** Schemas holding user data: all but the system ones and Lifeboat's marker schema. */
export async function userSchemas(instance: DbInstance): Promise<string[]> {
  return withConnection(instance, async (c) => {
    const rows = await c.query(
      'SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN (?) ORDER BY SCHEMA_NAME',
      [[...SYSTEM_SCHEMAS, 'lifeboat']],
    );
    return rows.map((r) => String(r['name']));
  });
}

/**
 * What a restore must bring back, schema by schema: CHECKSUM TABLE … EXTENDED of every base table,
 * and the routines, triggers, views and events (with their definers). Equal prints, equal data.
 */
export async function serverFingerprint(instance: DbInstance): Promise<Record<string, unknown>> {
  const schemas = await userSchemas(instance);
  return withConnection(instance, async (c) => {
    const print: Record<string, unknown> = {};
    for (const schema of schemas) {
      const q = (sql: string): Promise<unknown> => c.query(sql, [schema]);
      const tables = await c.query(
        "SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
        [schema],
      );
      const checksums: Record<string, string> = {};
      for (const { t } of tables) {
        const [row] = await c.query(`CHECKSUM TABLE \`${schema}\`.\`${String(t)}\` EXTENDED`);
        checksums[String(t)] = String(row?.['Checksum']);
      }
      print[schema] = {
        checksums,
        routines: await q(
          'SELECT ROUTINE_NAME, ROUTINE_TYPE, ROUTINE_DEFINITION, DEFINER FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? ORDER BY ROUTINE_NAME',
        ),
        triggers: await q(
          'SELECT TRIGGER_NAME, ACTION_STATEMENT FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? ORDER BY TRIGGER_NAME',
        ),
        views: await q(
          'SELECT TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME',
        ),
        events: await q(
          'SELECT EVENT_NAME, EVENT_DEFINITION, STATUS FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? ORDER BY EVENT_NAME',
        ),
      };
    }
    return print;
  });
}

/** A schema with what a logical restore must carry: rows with binary data, an Aria table, a view, routines, a trigger, an event. */
export async function createRestoreFixture(
  instance: DbInstance,
  schema: string,
  rows = 2000,
  aria = true,
): Promise<void> {
  await withConnection(instance, async (c) => {
    const s = `\`${schema}\``;
    await c.query(`CREATE DATABASE ${s}`);
    await c.query(
      `CREATE TABLE ${s}.items (id INT PRIMARY KEY, name VARCHAR(64) CHARACTER SET utf8mb4, payload BLOB, amount DECIMAL(12,2)) ENGINE=InnoDB`,
    );
    await c.query(
      `CREATE TABLE ${s}.audit (id INT AUTO_INCREMENT PRIMARY KEY, item_id INT, note VARCHAR(32)) ENGINE=${aria ? 'Aria' : 'InnoDB'}`,
    );
    await c.query(
      `CREATE TRIGGER ${s}.items_ai AFTER INSERT ON ${s}.items FOR EACH ROW INSERT INTO ${s}.audit (item_id, note) VALUES (NEW.id, 'inserted')`,
    );
    await c.query(`CREATE VIEW ${s}.dear AS SELECT id, name FROM ${s}.items WHERE amount > 500`);
    await c.query(
      `CREATE FUNCTION ${s}.item_count() RETURNS INT READS SQL DATA RETURN (SELECT COUNT(*) FROM ${s}.items)`,
    );
    await c.query(
      `CREATE EVENT ${s}.prune ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM ${s}.audit WHERE item_id < 0`,
    );
    for (let start = 0; start < rows; start += 500) {
      const batch = Array.from({ length: Math.min(500, rows - start) }, (_, k) => {
        const id = start + k;
        return [id, `item ${id} ünïcödé`, Buffer.from([0, 13, 10, 39, 92, 255, id % 256]), (id * 7.31) % 1000];
      });
      await c.query(`INSERT INTO ${s}.items VALUES ?`, [batch]);
    }
  });
}

export async function dropSchema(instance: DbInstance, schema: string): Promise<void> {
  await withConnection(instance, (c) => c.query(`DROP DATABASE IF EXISTS \`${schema}\``));
}
