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
