// Lifeboat installed with its Helm chart (default values, one namespace enabled for workers) into
// the stack's cluster: the webhook pods admit and refuse through their Service, the runner pods
// elect a leader and run a Backup as a Job worker, and `helm uninstall` leaves only the CRDs,
// which Helm never deletes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { eventually } from './support/eventually.js';
import {
  assertRefusesUnsafeBackup,
  hack,
  INSTALL_NAMESPACE,
  kubectlSlow,
  leftovers,
  LIFEBOAT_IMAGE,
  loadImage,
  podsOf,
  rolloutStatus,
  runnerLeader,
  withoutStackLifeboat,
} from './support/install.js';
import { createNamespace, kubectlOk, type TestNamespace } from './support/kube.js';
import { backupOf, createStackSecrets, stackCluster, minioStore, waitForPhase } from './support/stack-objects.js';
import { REPO_ROOT, requireVar } from './support/stack.js';

function helm(...args: string[]): string {
  const bin = hack('tools.sh', 'bin-dir')
    .split(':')
    .map((d) => join(d, 'helm'))
    .find((p) => spawnSync(p, ['version', '--short']).status === 0);
  if (!bin) throw new Error('helm is not built: run bash hack/tools.sh build');
  const run = spawnSync(bin, args, {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, KUBECONFIG: requireVar('KUBECONFIG', 'kube-apiserver') },
  });
  if (run.status !== 0) throw new Error(`helm ${args.join(' ')} exited ${run.status}: ${run.stderr.trim()}`);
  return run.stdout;
}

describe('installed with the Helm chart: webhook and runner pods, a Job worker, helm uninstall', function () {
  this.timeout(300_000);
  withoutStackLifeboat();
  let ns: TestNamespace;

  before(async function () {
    this.timeout(30 * 60_000);
    loadImage('lifeboat', LIFEBOAT_IMAGE);
    ns = await createNamespace('install-helm');
    await createStackSecrets(ns);
    helm(
      'install',
      'lifeboat',
      'deploy/helm/lifeboat',
      // The chart makes lifeboat-system itself; the release record stays in the default namespace.
      '--set',
      `workerNamespaces[0]=${ns.name}`,
      '--wait',
      '--timeout',
      '5m',
    );
    rolloutStatus('deployment', 'lifeboat-webhook');
    rolloutStatus('deployment', 'lifeboat-runner');
  });

  after(async function () {
    this.timeout(300_000);
    await ns?.cleanup();
  });

  it('the webhook pods refuse a bad Backup and admit a good one; one runner leads', async function () {
    assertRefusesUnsafeBackup(ns.name);
    assert.equal(podsOf('webhook').length, 2);
    const leader = await runnerLeader();
    assert.equal(podsOf('runner').filter((p) => leader.includes(p.metadata.name ?? '\u0000')).length, 1);
  });

  it('a Backup of the stack MariaDB, through the node forwarder, completes as a Job worker', async function () {
    const hostIp = requireVar('LIFEBOAT_NODE_HOST_IP', 'the stack node');
    const shop = stackCluster('shop', 'standalone', {
      ...minioStore(`e2e-helm/${ns.name}`),
      endpoint: `http://${hostIp}:${new URL(requireVar('S3_ENDPOINT', 'MinIO')).port}`,
    });
    const instances = (shop.spec?.['instances'] as { static: { host: string }[] }).static;
    for (const instance of instances) instance.host = hostIp;
    (shop.spec?.['backup'] as Record<string, unknown>)['method'] = 'mariadb-dump';
    await ns.create('clusters', shop);
    await ns.create('backups', backupOf('first', 'shop'));
    const done = await waitForPhase(ns, 'first', ['completed', 'failed'], 240_000);
    assert.equal(done.status?.['phase'], 'completed', JSON.stringify(done.status));
    const jobs = kubectlOk(['-n', ns.name, 'get', 'jobs', '-o', 'name']);
    assert.match(jobs, /job.batch\/lifeboat-backup-first-/);
  });

  it('helm uninstall leaves only the CRDs (Helm keeps them), and deleting those leaves nothing', async function () {
    await ns.cleanup();
    helm('uninstall', 'lifeboat', '--wait', '--timeout', '5m');
    kubectlSlow(['delete', 'namespace', INSTALL_NAMESPACE, '--ignore-not-found', '--wait=true', '--timeout=180s']);
    const crds = ['clusters', 'backups', 'scheduledbackups', 'restores'].map(
      (p) => `customresourcedefinition.apiextensions.k8s.io/${p}.lifeboat.dev`,
    );
    assert.deepEqual(leftovers().sort(), [...crds].sort());
    kubectlSlow(['delete', ...crds]);
    const left = await eventually(
      'nothing left',
      () => Promise.resolve(leftovers().length === 0 ? [] : undefined),
      120_000,
    ).catch(() => leftovers());
    assert.deepEqual(left, []);
  });
});
