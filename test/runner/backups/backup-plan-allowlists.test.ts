// The worker's re-check enforces the runner's allowlists (--allowed-endpoints, --allowed-db-hosts),
// which reach the worker through its environment, so a Backup admitted without the webhook, or
// before the lists were set, still never writes to or reads from a host the operator did not allow.
import assert from 'node:assert/strict';
import type { Backup, Cluster } from '../../../crds/kinds.js';
import { planBackup } from '../../../runner/backups/backup-plan.js';
import { allowlistSettings, ALLOWLIST_ENV } from '../../../runner/worker/worker-allowlists.js';
import { WorkFailure } from '../../../runner/work-failures.js';
import { backup, cluster, toObject } from '../../helpers.js';

const STORE = {
  bucket: 'mine',
  endpoint: 'https://storage.elsewhere.example',
  credentials: { accessKeyId: { name: 'shop-s3', key: 'id' }, secretAccessKey: { name: 'shop-s3', key: 'secret' } },
};

function plan(env: NodeJS.ProcessEnv, clusterSpec: Record<string, unknown> = {}) {
  return planBackup({
    backup: toObject(backup({}, { namespace: 'default' })) as Backup,
    cluster: toObject(cluster({ backup: { objectStore: STORE }, ...clusterSpec })) as Cluster,
    secrets: new Map(),
    secretsKnown: false,
    settings: allowlistSettings(env),
  });
}

function failureOf(run: () => unknown): WorkFailure {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof WorkFailure, String(err));
    return err;
  }
  assert.fail('expected a WorkFailure');
}

describe('planBackup with the runner allowlists', () => {
  it('without lists, any endpoint and host', () => {
    assert.equal(plan({}).objectStore.endpoint, STORE.endpoint);
  });

  it('an endpoint outside --allowed-endpoints fails UploadFailed, naming LB803 and the host', () => {
    const err = failureOf(() => plan({ [ALLOWLIST_ENV.endpoints]: 'minio.backup.svc' }));
    assert.equal(err.reason, 'UploadFailed');
    assert.match(err.message, /^LB803 .*storage\.elsewhere\.example.*minio\.backup\.svc/);
  });

  it('a database host outside --allowed-db-hosts fails ConnectionFailed, naming LB804 and the host', () => {
    const err = failureOf(() => plan({ [ALLOWLIST_ENV.databaseHosts]: '*.cluster.local' }));
    assert.equal(err.reason, 'ConnectionFailed');
    assert.match(err.message, /^LB804 .*db\.shop\.svc/);
  });

  it('hosts that match pass', () => {
    const env = { [ALLOWLIST_ENV.endpoints]: '*.elsewhere.example', [ALLOWLIST_ENV.databaseHosts]: '*.svc' };
    assert.equal(plan(env).cluster.metadata.name, 'shop');
  });
});
