// Where a restore is applied and whether the target may take it (fake connections).
import assert from 'node:assert/strict';
import {
  connectionFailure,
  type DbCredentials,
  type SqlConnection,
  type SqlRow,
} from '../../../runner/engine/db-connection.js';
import { staticInstances, type DbInstance } from '../../../runner/engine/instance-list.js';
import {
  assertTargetEmpty,
  chooseRestoreTarget,
  lockTargetForRestore,
  userDatabases,
} from '../../../runner/engine/restore-target.js';
import { ConnectionFailedError, TargetNotEmptyError } from '../../../runner/work-failures.js';

const three = staticInstances([
  { name: 'node1', host: '127.0.0.1', port: 1 },
  { name: 'node2', host: '127.0.0.1', port: 2 },
  { name: 'node3', host: '127.0.0.1', port: 3 },
]);
const credentials: DbCredentials = { user: 'lifeboat', password: 'pw' };

/** A member's behaviour: its wsrep_local_state_comment, or how connecting to it fails. */
type Member = string | 'refused' | 'denied';

interface FakeWorld {
  readonly probe: (instance: DbInstance) => Promise<SqlConnection>;
  readonly open: Set<string>;
  readonly probed: string[];
}

function world(members: Record<string, Member>): FakeWorld {
  const open = new Set<string>();
  const probed: string[] = [];
  const probe = (instance: DbInstance): Promise<SqlConnection> => {
    probed.push(instance.name);
    const m = members[instance.name] ?? 'Synced';
    if (m === 'refused' || m === 'denied') {
      const code = m === 'refused' ? 'ECONNREFUSED' : 'ER_ACCESS_DENIED_ERROR';
      return Promise.reject(connectionFailure(instance, Object.assign(new Error(m), { code }), credentials));
    }
    open.add(instance.name);
    return Promise.resolve({
      query: (): Promise<SqlRow[]> =>
        Promise.resolve([{ Variable_name: 'wsrep_local_state_comment', Value: m }] as SqlRow[]),
      close: (): Promise<void> => {
        open.delete(instance.name);
        return Promise.resolve();
      },
    });
  };
  return { probe, open, probed };
}

/** A connection answering the SCHEMATA query with `names`, recording the excluded list it was given. */
function schemata(names: string[]): SqlConnection & { excluded: unknown[] } {
  const excluded: unknown[] = [];
  return {
    excluded,
    query(sql: string, values?: readonly unknown[]): Promise<SqlRow[]> {
      assert.match(sql, /information_schema\.SCHEMATA/);
      excluded.push(...((values?.[0] as unknown[]) ?? []));
      return Promise.resolve(names.map((name) => ({ name })));
    },
    close: () => Promise.resolve(),
  };
}

describe('restore target (fake connections)', () => {
  it('standalone: the one instance, one connection, no status read', async () => {
    const w = world({});
    const [only] = staticInstances([{ name: 'db', host: '10.0.0.1' }]);
    const target = await chooseRestoreTarget('standalone', [only!], w.probe);
    assert.equal(target.instance.name, 'db');
    assert.deepEqual(w.probed, ['db']);
  });

  it('replication: the writer, never a replica', async () => {
    const w = world({});
    const instances = three.map((i) => ({ ...i, writer: i.name === 'node2' }));
    const target = await chooseRestoreTarget('replication', instances, w.probe);
    assert.equal(target.instance.name, 'node2');
    assert.deepEqual(w.probed, ['node2']);
  });

  it('galera: the first Synced member; the others it opened are closed again', async () => {
    const w = world({ node1: 'Donor/Desynced', node2: 'Synced', node3: 'Synced' });
    const target = await chooseRestoreTarget('galera', three, w.probe);
    assert.equal(target.instance.name, 'node2');
    assert.deepEqual([...w.open], ['node2']);
    assert.deepEqual(w.probed, ['node1', 'node2']);
  });

  it('galera: an unreachable member is passed over', async () => {
    const w = world({ node1: 'refused', node2: 'Joined', node3: 'Synced' });
    assert.equal((await chooseRestoreTarget('galera', three, w.probe)).instance.name, 'node3');
  });

  it('galera: none Synced → ConnectionFailedError naming each member and its state', async () => {
    const w = world({ node1: 'Donor/Desynced', node2: 'refused', node3: 'Joined' });
    await assert.rejects(chooseRestoreTarget('galera', three, w.probe), (err: unknown) => {
      assert.ok(err instanceof ConnectionFailedError);
      assert.match(err.message, /no Galera member of the restore target is Synced/);
      assert.match(err.message, /node1 Donor\/Desynced; node2 unreachable \(cannot connect .*\); node3 Joined/);
      assert.match(err.message, /wait until one member is Synced/);
      return true;
    });
    assert.equal(w.open.size, 0);
  });

  it('galera: access denied stops at once with the fix for the credentials', async () => {
    const w = world({ node1: 'denied', node2: 'Synced' });
    await assert.rejects(
      chooseRestoreTarget('galera', three, w.probe),
      (err: unknown) => err instanceof ConnectionFailedError && /check the username and password/.test(err.message),
    );
    assert.deepEqual(w.probed, ['node1']);
  });

  it('a probe that fails without saying how → ConnectionFailedError naming the instance', async () => {
    const probe = (): Promise<SqlConnection> => Promise.reject(new Error('socket hang up'));
    await assert.rejects(
      chooseRestoreTarget('standalone', three.slice(0, 1), probe),
      (err: unknown) =>
        err instanceof ConnectionFailedError &&
        /restore target node1 \(127\.0\.0\.1:1\): socket hang up/.test(err.message),
    );
  });

  it("user databases leave out the system schemas and Lifeboat's marker schema", async () => {
    const conn = schemata(['app', 'shop']);
    assert.deepEqual(await userDatabases(conn), ['app', 'shop']);
    assert.deepEqual(conn.excluded, [
      'mysql',
      'information_schema',
      'performance_schema',
      'sys',
      'lifeboat',
      'lifeboat_kept',
    ]);
  });

  it('a target with databases → TargetNotEmptyError listing them and saying what to do', async () => {
    await assert.rejects(
      assertTargetEmpty(schemata(['a', 'b', 'c']), { overwrite: false, where: 'db-1 (10.0.0.1:3306)' }),
      (err: unknown) => {
        assert.ok(err instanceof TargetNotEmptyError);
        assert.match(err.message, /^the target db-1 \(10\.0\.0\.1:3306\) already holds databases a, b, c; /);
        assert.match(err.message, /restore into an empty server, or set spec\.overwrite: true/);
        return true;
      },
    );
  });

  it('overwrite: the databases restored over are returned; an empty target passes either way', async () => {
    assert.deepEqual(await assertTargetEmpty(schemata(['a']), { overwrite: true, where: 'db' }), ['a']);
    assert.deepEqual(await assertTargetEmpty(schemata([]), { overwrite: false, where: 'db' }), []);
  });
});

describe('lockTargetForRestore (fake connection)', () => {
  it('waits, saying so once, while another restore holds the server or its client session still applies', async () => {
    const answers = [
      { got: 0 }, // another worker holds lifeboat-restore
      { got: 1 },
      { free: 0 }, // its killed client's session still runs a statement
      { free: 1 },
    ];
    const asked: string[] = [];
    const conn: SqlConnection = {
      query: (sql: string, values?: readonly unknown[]) => {
        asked.push(`${sql.split(' AS ')[0]} ${String(values?.[0])}`);
        return Promise.resolve([answers.shift() ?? {}]);
      },
      close: () => Promise.resolve(),
    };
    let waits = 0;
    await lockTargetForRestore(conn, { signal: new AbortController().signal, onWait: () => waits++, retryMs: 1 });
    assert.equal(waits, 1);
    assert.deepEqual(asked, [
      'SELECT GET_LOCK(?, 0) lifeboat-restore',
      'SELECT GET_LOCK(?, 0) lifeboat-restore',
      'SELECT IS_FREE_LOCK(?) lifeboat-apply',
      'SELECT IS_FREE_LOCK(?) lifeboat-apply',
    ]);
  });
});
