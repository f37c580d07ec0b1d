// instances.selector against the real API server: the query the worker sends is built from the
// selector's structure, so it finds the pods it names, and a label value that would carry another
// requirement is refused before any call. The pods are only API objects (no kubelet runs them),
// so a found pod has no IP and the Backup fails saying so, naming it.
import assert from 'node:assert/strict';
import type { RunningRunner } from '../runner/runner-main.js';
import { kube, type KubeObject, type TestNamespace } from './support/kube.js';
import { startNamespaceRunner } from './support/namespace-runner.js';
import {
  backupOf,
  createStackSecrets,
  minioStore,
  namespaceAndPathPerTest,
  stackCluster,
  waitForPhase,
} from './support/stack-objects.js';
import { withoutStackRunner } from './support/stack.js';

async function createPod(ns: TestNamespace, name: string, labels: Record<string, string>): Promise<void> {
  await kube().core.createNamespacedPod({
    namespace: ns.name,
    body: { metadata: { name, labels }, spec: { containers: [{ name: 'db', image: 'mariadb:10.11' }] } },
  });
}

function selecting(path: string, selector: Record<string, unknown>): KubeObject {
  const cluster = stackCluster('db', 'standalone', minioStore(path));
  (cluster.spec as Record<string, unknown>)['instances'] = { selector };
  return cluster;
}

async function backupError(ns: TestNamespace, cluster: KubeObject): Promise<string> {
  await ns.create('clusters', cluster);
  await ns.create('backups', backupOf('b1', 'db', { method: 'mariadb-dump' }));
  const status = (await waitForPhase(ns, 'b1', ['completed', 'failed'], 120_000)).status ?? {};
  assert.equal(status['phase'], 'failed', JSON.stringify(status));
  return String(status['error']);
}

describe('instances.selector (real API server)', function () {
  this.timeout(300_000);
  withoutStackRunner();
  let ns: TestNamespace;
  let path = '';
  let runner: RunningRunner | undefined;
  namespaceAndPathPerTest((created, its) => ((ns = created), (path = its)));

  beforeEach(async function () {
    await createStackSecrets(ns);
    await createPod(ns, 'db-0', { app: 'db', tier: 'primary' });
    await createPod(ns, 'other-0', { app: 'db', tier: 'cache' });
    runner = await startNamespaceRunner(ns);
  });
  afterEach(async () => runner?.stop());

  it('matchLabels and matchExpressions select exactly the pods they name', async function () {
    const error = await backupError(
      ns,
      selecting(path, {
        matchLabels: { app: 'db' },
        matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['cache'] }],
      }),
    );
    assert.match(error, /db-0/);
    assert.doesNotMatch(error, /other-0/);
  });

  it('a label value carrying another requirement is refused before any API call, naming the part', async function () {
    const error = await backupError(ns, selecting(path, { matchLabels: { app: 'db,tier!=cache' } }));
    assert.match(error, /spec\.instances\.selector: label value "db,tier!=cache" \(key app\) is not valid/);
    assert.doesNotMatch(error, /db-0/);
  });
});
