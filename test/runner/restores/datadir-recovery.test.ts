// restore-datadir --from-cluster: the Cluster read through the API (a fake kube here) decides which
// backup; flags that contradict it are refused before the object store is asked.
import assert from 'node:assert/strict';
import { backupFromCluster } from '../../../runner/restores/datadir-recovery.js';
import { BackupIdNotFoundError, ClusterNotFoundError, UnsupportedMethodError } from '../../../runner/work-failures.js';
import { cluster } from '../../helpers.js';

function fakeKube(objects: Record<string, unknown>) {
  const asked: string[] = [];
  return {
    asked,
    kube: {
      getLifeboat: (kind: string, namespace: string, name: string): Promise<unknown> => {
        asked.push(`${kind} ${namespace}/${name}`);
        return Promise.resolve(objects[`${kind} ${namespace}/${name}`]);
      },
      readSecret: (): Promise<undefined> => Promise.reject(new Error('no Secret may be read')),
    },
  };
}

describe('restore-datadir --from-cluster (fake API)', () => {
  it('--backup-id with a recovery that names a Backup: refused, saying why, before any store is asked', async () => {
    const named = { ...cluster({ bootstrap: { recovery: { backup: { name: 'nightly' } } } }, 'db') };
    const { kube } = fakeKube({ 'Cluster default/db': named });
    await assert.rejects(
      backupFromCluster(kube, { namespace: 'default', name: 'db' }, { backupID: '20261201T000000Z' }),
      (err: unknown) =>
        err instanceof BackupIdNotFoundError &&
        err.message ===
          "--backup-id chooses among the backups of a source, but Cluster default/db's spec.bootstrap.recovery names Backup nightly: drop --backup-id, or give the object store by flags",
    );
  });

  it('a point-in-time target: UnsupportedMethod before any backup is read, so no server starts on data not asked for', async () => {
    for (const recoveryTarget of [{ targetTime: '2026-05-01T12:00:00Z' }, { targetGTID: '0-1-4711' }]) {
      const field = Object.keys(recoveryTarget)[0] ?? '';
      const pitr = cluster(
        {
          bootstrap: { recovery: { source: 'old', recoveryTarget } },
          externalClusters: [{ name: 'old', objectStore: { bucket: 'b', inheritFromIAMRole: true } }],
        },
        'db',
      );
      const { kube, asked } = fakeKube({ 'Cluster default/db': pitr });
      await assert.rejects(
        backupFromCluster(kube, { namespace: 'default', name: 'db' }, { signal: AbortSignal.abort() }),
        (err: unknown) =>
          err instanceof UnsupportedMethodError &&
          err.reason === 'UnsupportedMethod' &&
          err.message.startsWith(
            `Cluster default/db: spec.bootstrap.recovery.recoveryTarget.${field}: point-in-time recovery is not available`,
          ) &&
          err.message.endsWith('; remove this target'),
      );
      assert.deepEqual(asked, ['Cluster default/db']);
    }
  });

  it('a Cluster that is not there: ClusterNotFound naming it', async () => {
    const { kube, asked } = fakeKube({});
    await assert.rejects(
      backupFromCluster(kube, { namespace: 'shop', name: 'gone' }, {}),
      (err: unknown) => err instanceof ClusterNotFoundError && /Cluster shop\/gone does not exist/.test(err.message),
    );
    assert.deepEqual(asked, ['Cluster shop/gone']);
  });
});
