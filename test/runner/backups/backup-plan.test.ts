// The worker's re-check before it acts: the same engine as the webhook, each forbidding policy
// turned into the failure reason of docs/design.md. Inputs are plain objects, no API.
import assert from 'node:assert/strict';
import type { Backup, Cluster } from '../../../crds/kinds.js';
import type { SecretInfo } from '../../../policies/policy-types.js';
import { planBackup, type PlanInputs } from '../../../runner/backups/backup-plan.js';
import { WorkFailure } from '../../../runner/work-failures.js';
import { backup, cluster, toObject } from '../../helpers.js';

const inShop = (doc: Record<string, unknown>): Record<string, unknown> => ({
  ...doc,
  metadata: { ...(doc['metadata'] as object), namespace: 'shop' },
});
const OWN_STORE = {
  bucket: 'mine',
  credentials: { accessKeyId: { name: 'shop-s3', key: 'id' }, secretAccessKey: { name: 'shop-s3', key: 'secret' } },
};
const DB_SECRET: [string, SecretInfo] = ['shop-db', { keys: ['username', 'password'] }];

function inputs(b: Record<string, unknown>, c?: Record<string, unknown>, secrets = [DB_SECRET]): PlanInputs {
  return {
    backup: toObject(inShop(b)) as Backup,
    cluster: c && (toObject(inShop(c)) as Cluster),
    secrets: new Map(secrets),
  };
}

function failure(run: () => unknown): { reason: string; message: string } {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof WorkFailure, String(err));
    return { reason: err.reason, message: err.message };
  }
  assert.fail('expected a WorkFailure');
}

describe('planBackup', () => {
  it('inherits the Cluster’s objectStore and fills the method and target defaults', () => {
    const plan = planBackup(inputs(backup(), cluster()));
    assert.deepEqual(plan.objectStore, { bucket: 'backups', inheritFromIAMRole: true });
    assert.equal(plan.method, 'mariabackup');
    assert.equal(plan.target, 'prefer-standby');
    assert.equal(plan.compression, 'none');
    assert.equal(plan.allowUnsafe, false);
    assert.equal(plan.backup.metadata.labels?.['lifeboat.dev/cluster'], 'shop');
  });

  it('keeps what the Backup says over the Cluster', () => {
    const own = { bucket: 'mine', inheritFromIAMRole: true };
    const plan = planBackup(
      inputs(backup({ objectStore: own, method: 'mariadb-dump', compression: 'gzip' }), cluster()),
    );
    assert.deepEqual(plan.objectStore, own);
    assert.equal(plan.method, 'mariadb-dump');
    assert.equal(plan.compression, 'gzip');
  });

  it('a worker that cannot read Secrets (a Job given its credentials) judges none missing', () => {
    const given = inputs(backup({ objectStore: OWN_STORE }), cluster(), []);
    assert.equal(failure(() => planBackup(given)).reason, 'UploadFailed');
    assert.deepEqual(planBackup({ ...given, secretsKnown: false }).objectStore, OWN_STORE);
  });

  const cases: [string, PlanInputs, string, RegExp][] = [
    ['no Cluster', inputs(backup()), 'ClusterNotFound', /^Cluster shop does not exist in namespace shop; create it/],
    ['no objectStore anywhere', inputs(backup(), cluster({ backup: {} })), 'ObjectStoreMissing', /^LB201 /],
    [
      'a method the engine cannot use',
      inputs(backup({ method: 'xtrabackup' }), cluster({ version: '10.11' })),
      'UnsupportedMethod',
      /^LB503 spec\.method: /,
    ],
    [
      'allowUnsafe without a reason',
      inputs(backup({ allowUnsafe: true }), cluster()),
      'UnsafeCluster',
      /^LB501 spec\.allowUnsafe: /,
    ],
    [
      'its own objectStore names a Secret key that is not there',
      inputs(backup({ objectStore: OWN_STORE }), cluster(), [DB_SECRET, ['shop-s3', { keys: ['id'] }]]),
      'UploadFailed',
      /^LB601 spec\.objectStore\.credentials\.secretAccessKey/,
    ],
    [
      'a target instance the Cluster does not have',
      inputs(backup({ target: 'shop-9' }), cluster()),
      'NoHealthySource',
      /^LB604 spec\.target: /,
    ],
  ];
  for (const [what, given, reason, message] of cases) {
    it(`${what}: fails ${reason}, saying what to fix`, () => {
      const got = failure(() => planBackup(given));
      assert.equal(got.reason, reason);
      assert.match(got.message, message);
    });
  }
});
