// selectSource: probes the members, decides, keeps only the chosen connection open (fake connections).
import assert from 'node:assert/strict';
import type { DbCredentials, SqlConnection, SqlRow } from '../../../runner/engine/db-connection.js';
import { connectionFailure } from '../../../runner/engine/db-connection.js';
import { staticInstances, type DbInstance } from '../../../runner/engine/instance-list.js';
import { selectSource, type SelectionInput } from '../../../runner/engine/source-selection.js';
import { ConnectionFailedError, UnsafeClusterError } from '../../../runner/work-failures.js';

const three = staticInstances([
  { name: 'node1', host: '127.0.0.1', port: 1 },
  { name: 'node2', host: '127.0.0.1', port: 2 },
  { name: 'node3', host: '127.0.0.1', port: 3 },
]);
const credentials: DbCredentials = { user: 'lifeboat', password: 'pw' };

type Behaviour = 'synced' | 'joined' | 'refused' | 'denied' | 'query-fails';

interface FakeWorld {
  open: Set<string>;
  connector: NonNullable<SelectionInput['connector']>;
}

function world(behaviours: Record<string, Behaviour>): FakeWorld {
  const open = new Set<string>();
  const connector = (instance: DbInstance): Promise<SqlConnection> => {
    const b = behaviours[instance.name] ?? 'synced';
    if (b === 'refused' || b === 'denied') {
      const code = b === 'refused' ? 'ECONNREFUSED' : 'ER_ACCESS_DENIED_ERROR';
      return Promise.reject(connectionFailure(instance, Object.assign(new Error(b), { code }), credentials));
    }
    open.add(instance.name);
    return Promise.resolve({
      query(): Promise<SqlRow[]> {
        if (b === 'query-fails') return Promise.reject(new Error('Lost connection'));
        const state = b === 'synced' ? 'Synced' : 'Joined';
        return Promise.resolve(
          Object.entries({
            wsrep_ready: 'ON',
            wsrep_connected: 'ON',
            wsrep_cluster_status: 'Primary',
            wsrep_local_state_comment: state,
            wsrep_cluster_size: '3',
          }).map(([Variable_name, Value]) => ({ Variable_name, Value })),
        );
      },
      close(): Promise<void> {
        open.delete(instance.name);
        return Promise.resolve();
      },
    });
  };
  return { open, connector };
}

function input(w: FakeWorld, extra: Partial<SelectionInput> = {}): SelectionInput {
  return { clusterName: 'g', topology: 'galera', instances: three, credentials, connector: w.connector, ...extra };
}

describe('source selection (fake connections)', () => {
  it('galera 3 × Synced: node3, its connection open, the others closed', async () => {
    const w = world({});
    const got = await selectSource(input(w));
    assert.equal(got.instance.name, 'node3');
    assert.equal(got.desync, true);
    assert.deepEqual([...w.open], ['node3']);
    await got.connection.close();
  });

  it('galera with a Joined member: UnsafeCluster, and every connection closed', async () => {
    const w = world({ node2: 'joined' });
    await assert.rejects(
      selectSource(input(w)),
      (err: unknown) =>
        err instanceof UnsafeClusterError && /node2: wsrep_local_state_comment=Joined/.test(err.message),
    );
    assert.equal(w.open.size, 0);
  });

  it('galera, a member whose status query fails counts as unhealthy', async () => {
    const w = world({ node1: 'query-fails' });
    await assert.rejects(selectSource(input(w)), /node1: unreachable: status query failed: Lost connection/);
    assert.equal(w.open.size, 0);
  });

  it('galera, a member refusing the credentials: ConnectionFailed, not a health verdict', async () => {
    const w = world({ node2: 'denied' });
    await assert.rejects(
      selectSource(input(w)),
      (err: unknown) =>
        err instanceof ConnectionFailedError && /instance node2 .*check the username and password/.test(err.message),
    );
    assert.equal(w.open.size, 0);
  });

  it('galera allowUnsafe with node3 down: node2, with the waived check', async () => {
    const w = world({ node3: 'refused' });
    const got = await selectSource(input(w, { allowUnsafe: true }));
    assert.equal(got.instance.name, 'node2');
    assert.equal(got.waived.length, 1);
    assert.match(got.waived[0] ?? '', /^node3: unreachable: cannot connect/);
    await got.connection.close();
  });

  it('standalone: connects only to the one instance', async () => {
    const w = world({});
    const got = await selectSource(input(w, { topology: 'standalone', instances: three.slice(0, 1) }));
    assert.equal(got.instance.name, 'node1');
    assert.deepEqual([...w.open], ['node1']);
    await got.connection.close();
  });

  it('standalone down: its ConnectionFailed', async () => {
    const w = world({ node1: 'refused' });
    await assert.rejects(
      selectSource(input(w, { topology: 'standalone', instances: three.slice(0, 1) })),
      (err: unknown) => err instanceof ConnectionFailedError && /check the instance host and port/.test(err.message),
    );
  });
});
