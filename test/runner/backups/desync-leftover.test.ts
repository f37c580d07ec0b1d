// Putting back a Galera member a dead worker desynced, with a fake API: the cases decided before
// any database is reached. Setting wsrep_desync OFF on a real member is shown by the e2e tests.
import assert from 'node:assert/strict';
import type { StoredBackup } from '../../../runner/executors/executor.js';
import { releaseDesync, type DesyncKube } from '../../../runner/backups/desync-leftover.js';
import { backup, cluster } from '../../helpers.js';
import { silentLog } from '../reconcile/fakes.js';

const DESYNCED = {
  type: 'SourceDesynced',
  status: 'True',
  reason: 'DesyncedForBackup',
  message: 'ON',
  lastTransitionTime: '2026-11-30T00:00:00Z',
};

function stored(name: string, status: Record<string, unknown>, clusterName = 'shop'): StoredBackup {
  const b = backup(
    { cluster: { name: clusterName } },
    { name, namespace: 'shop', resourceVersion: '7', uid: `u-${name}` },
  );
  return {
    ...b,
    status: { phase: 'running', instanceName: 'db-2', conditions: [DESYNCED], ...status },
  } as unknown as StoredBackup;
}

function kube(others: StoredBackup[] = [], withCluster = true): DesyncKube & { calls: string[] } {
  const calls: string[] = [];
  const shop = {
    ...cluster({ topology: 'galera', instances: { static: [{ name: 'db-0', host: '127.0.0.1' }] } }),
    metadata: { name: 'shop', namespace: 'shop' },
  };
  return {
    calls,
    listLifeboat: async () => (calls.push('listBackups'), { items: others, resourceVersion: '1' }),
    getLifeboat: async () => (calls.push('getCluster'), withCluster ? structuredClone(shop) : undefined),
    listPods: async () => (calls.push('listPods'), []),
    readSecret: async () => (calls.push('readSecret'), undefined),
  };
}

describe('releaseDesync (fake API)', () => {
  it('does nothing when the worker never recorded desyncing its source', async () => {
    const k = kube();
    assert.equal(await releaseDesync(k, stored('b1', { conditions: [] }), silentLog), undefined);
    const restored = { ...DESYNCED, status: 'False', reason: 'DesyncRestored' };
    assert.equal(await releaseDesync(k, stored('b1', { conditions: [restored] }), silentLog), undefined);
    assert.deepEqual(k.calls, []);
  });

  it('leaves the member to another running Backup that desynced it too', async () => {
    const k = kube([stored('b1', {}), stored('b2', {})]);
    const got = await releaseDesync(k, stored('b1', {}), silentLog);
    assert.deepEqual(got, { message: 'wsrep_desync stays ON on db-2 for Backup b2, which runs there' });
    assert.deepEqual(k.calls, ['listBackups']);
  });

  it('does not count Backups of another Cluster, or that ended, or on another member', async () => {
    const others = [
      stored('other-cluster', {}, 'billing'),
      stored('ended', { phase: 'failed' }),
      stored('elsewhere', { instanceName: 'db-1' }),
    ];
    const got = await releaseDesync(kube(others, false), stored('b1', {}), silentLog);
    assert.match(
      got?.message ?? '',
      /^wsrep_desync may still be ON on db-2 \(Cluster shop is gone\); run SET GLOBAL wsrep_desync=OFF on it$/,
    );
  });

  it('says what to do when the member is no longer in the Cluster', async () => {
    const got = await releaseDesync(kube(), stored('b1', {}), silentLog);
    assert.equal(
      got?.message,
      'wsrep_desync may still be ON on db-2 (it is no longer a member of Cluster shop); run SET GLOBAL wsrep_desync=OFF on it',
    );
    assert.equal(got?.condition, undefined);
  });

  it('says what to do when the database account cannot be read', async () => {
    const got = await releaseDesync(kube(), stored('b1', { instanceName: 'db-0' }), silentLog);
    assert.match(
      got?.message ?? '',
      /^wsrep_desync may still be ON on db-0 \(Secret shop-db does not exist .*\); run SET GLOBAL/,
    );
  });
});
